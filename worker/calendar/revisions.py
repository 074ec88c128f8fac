"""Keeping every calendar in step with the plan (docs/architecture.md §5): revisions, invites.

``queue_changes`` runs in ``worker.plans.register.register`` right after the store applied
the plan's timeline. It builds every event of the plan with the one builder
(``worker.calendar.events``) and compares it with what the store remembers:

- per UID, the revision store (``Store.revise``): SEQUENCE rises only when the
  significant hash changes, and never falls. The records ``calendar:<plan>`` keep
  per UID the last SEQUENCE and hash, a digest of the whole event (alarms
  included) and, for meetings, the event itself, so a removed meeting can be
  cancelled after it left the plan;
- per UID and attendee, the records ``invitees:<plan>``: what that person was last
  sent. A meeting whose time, place, title or text changed goes again, as a
  REQUEST with the new SEQUENCE, to each of its attendees; an added attendee gets
  a REQUEST; a removed attendee gets a CANCEL; a removed meeting is a CANCEL to
  everyone who had it. A change of the attendee list alone sends nothing to the
  others (as Outlook's "send updates only to added or deleted attendees").

Invitations and cancellations are ledger items (kind ``invite``/``cancel``,
channel ``email``, due now: the next sweep delivers them), with the calendar
object built here, DTSTAMP the moment the change was queued: a later change has
a higher SEQUENCE and wins in every client, even when an earlier message is still
being retried. A cancellation carries its own object; the REQUEST of a meeting
version is the same for all its attendees, so it is kept once, in the records
``requests:<plan>``, and each invite item names its row (written before the
items, so an item never names a row that is not there).

Deadlines and check-in series are not e-mailed: they live in the feeds and in
CalDAV. With ``CALDAV_URL`` set, every registration also queues one ``caldav``
step (``worker.calendar.push``).

Decisions:

- Meetings that have already ended are neither invited nor cancelled.
- Invitations go by e-mail only, to attendees who have an address and list
  ``email`` among their channels (iTIP is e-mail; a person's channels are what
  was agreed). Everyone finds their meetings in their feed.
- A person removed from the plan altogether (or no longer reachable by e-mail)
  cannot be sent a CANCEL: the ledger delivers to people of the plan, on their
  channels. ``CalendarChanges.departed`` names them; ``pactkeeper sync`` prints it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from icalendar import Event

from config.plan import Person, Plan
from connectors.calendar.ics import SIGNIFICANT
from connectors.calendar.itip import as_event, cancel_calendar, request_calendar
from worker.calendar.events import PlanEvent, Stamping, by_email, plan_events
from worker.store import Item
from worker.store import records as names

if TYPE_CHECKING:
    from worker.engine import Engine
    from worker.store import Store

INVITE, CANCEL, CALDAV = "invite", "cancel", "caldav"
# What a person's copy of a meeting hangs on: the significant fields, without the
# attendee list (someone else being added is no reason to write to everyone).
PERSONAL = SIGNIFICANT - {"ATTENDEE"}


def _hash(event: Event, names: frozenset[str]) -> str:
    # As ics.significant_hash, over a chosen set of properties.
    lines = sorted(
        str(event.content_line(name, value))
        for name, value in event.property_items(recursive=False)
        if name in names
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def significant(event: Event) -> str:
    return _hash(event, SIGNIFICANT)


def personal(event: Event) -> str:
    return _hash(event, PERSONAL)


def content_digest(data: bytes) -> str:
    """A digest of a serialised calendar object without its DTSTAMP: what a copy holds."""
    kept = b"\r\n".join(line for line in data.split(b"\r\n") if not line.startswith(b"DTSTAMP"))
    return hashlib.sha256(kept).hexdigest()


def sequence_of(event: Event) -> int:
    value: Any = event["SEQUENCE"]
    return int(value)


def set_sequence(event: Event, sequence: int) -> None:
    event.pop("SEQUENCE", None)
    event.add("sequence", sequence)


def _ends(event: Event) -> float:
    """When the event is over (for a series: its UNTIL is not needed, it is never e-mailed)."""
    end = event.decoded("DTEND") if "DTEND" in event else event.decoded("DTSTART")
    if isinstance(end, datetime):
        return end.timestamp()
    assert isinstance(end, date)
    return datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp()


@dataclass
class CalendarChanges:
    """What one registration queued for the calendars."""

    invites: list[Item] = field(default_factory=list)
    cancels: list[Item] = field(default_factory=list)
    caldav: bool = False
    changed: list[str] = field(default_factory=list)  # items (milestone/x) with a new SEQUENCE
    removed: list[str] = field(default_factory=list)  # items no longer in the plan
    departed: list[str] = field(default_factory=list)  # "Chris Smit: Intakegesprek"


def _key(plan: Plan, kind: str, uid: str, person: str, email: str, sequence: int) -> str:
    text = f"{plan.id}|{kind}|{uid}|{person}|{email}|{sequence}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class _Queue:
    """The items and records one registration writes, gathered first, written at once."""

    def __init__(self, plan: Plan, now: float, invitees: dict[str, dict[str, Any]]) -> None:
        self.plan, self.now = plan, now
        self.stamp = datetime.fromtimestamp(now, UTC).replace(microsecond=0)
        self.people = {person.id: person for person in plan.people}
        self.invitees: dict[str, dict[str, dict[str, Any]]] = {}  # uid -> record id -> record
        for record_id, record in invitees.items():
            self.invitees.setdefault(str(record["uid"]), {})[record_id] = record
        self.changes = CalendarChanges()
        self.records: dict[str, dict[str, Any]] = {}
        self.requests: dict[str, dict[str, Any]] = {}  # request id -> the REQUEST

    def _item(
        self, kind: str, ref: str, uid: str, person: Person, sequence: int, data: dict[str, Any]
    ) -> Item:
        assert person.email is not None
        return Item(
            key=_key(self.plan, kind, uid, person.id, person.email, sequence),
            plan_id=self.plan.id,
            kind=kind,
            due=self.now,
            ref=ref,
            recipient=person.id,
            channel="email",
            origin="engine",
            data=data,
        )

    def _request(self, uid: str, sequence: int, event: Event) -> str:
        """The row of ``requests:<plan>`` holding this version's REQUEST, made once."""
        data = request_calendar(self.plan, event)
        request_id = hashlib.sha256(data).hexdigest()[:24]
        self.requests[request_id] = {
            "uid": uid,
            "sequence": sequence,
            "calendar": data.decode("utf-8"),
        }
        return request_id

    def meeting(self, found: PlanEvent) -> None:
        """Invite whoever lacks the current version; cancel for whoever was taken off."""
        event, uid = found.event, found.uid
        if _ends(event) <= self.now:
            return
        sent = self.invitees.get(uid, {})
        if not found.invited and not sent:
            return  # a deadline, a check-in series, a meeting nobody gets by e-mail
        sequence, digest = sequence_of(event), personal(event)
        request: str | None = None
        for person in found.invited:
            record_id = f"{uid} {person.id}"
            last = sent.get(record_id, {})
            invited = last.get("state") == "invited"
            if invited and (last.get("digest"), last.get("email")) == (digest, person.email):
                continue  # they have this version
            request = request or self._request(uid, sequence, event)
            # Only the row and whether it is an update: the UID and SEQUENCE are in the
            # row, and an item whose fields are all short is kept compactly by Redis.
            data = {"request": request, "update": invited}
            self.changes.invites.append(self._item(INVITE, found.ref, uid, person, sequence, data))
            self._remember(record_id, uid, person, digest, sequence, "invited")
        keep = {person.id for person in found.invited}
        for record_id, last in sent.items():
            if last["state"] == "invited" and last["person"] not in keep:
                self._cancel(found.ref, uid, event, record_id, last, sequence, "uninvited")

    def removed(self, ref: str, uid: str, record: dict[str, Any], sequence: int) -> None:
        """A meeting that left the plan: a CANCEL to everyone who had it."""
        if not record.get("event") or float(record.get("ends", 0)) <= self.now:
            return
        event = as_event(Event.from_ical(str(record["event"])))
        for record_id, last in self.invitees.get(uid, {}).items():
            if last["state"] == "invited":
                self._cancel(ref, uid, event, record_id, last, sequence, "removed")

    def _cancel(
        self,
        ref: str,
        uid: str,
        event: Event,
        record_id: str,
        last: dict[str, Any],
        sequence: int,
        reason: str,
    ) -> None:
        person = self.people.get(str(last["person"]))
        if person is None or not by_email(person):
            self.changes.departed.append(
                f"{last.get('name') or last['person']}: {event['SUMMARY']}"
            )
            self.records[record_id] = {**last, "state": "departed"}
            return
        only = None if reason == "removed" else {str(last["email"]): str(last["name"])}
        data = cancel_calendar(self.plan, event, sequence, self.stamp, only)
        self.changes.cancels.append(
            self._item(
                CANCEL,
                ref,
                uid,
                person,
                sequence,
                {"uid": uid, "sequence": sequence, "calendar": data.decode(), "reason": reason},
            )
        )
        self.records[record_id] = {**last, "state": "cancelled", "sequence": sequence}

    def _remember(
        self, record_id: str, uid: str, person: Person, digest: str, sequence: int, state: str
    ) -> None:
        self.records[record_id] = {
            "uid": uid,
            "person": person.id,
            "name": person.name,
            "email": person.email,
            "digest": digest,
            "sequence": sequence,
            "state": state,
        }


def _sequences(
    store: Store, found_events: list[PlanEvent], digests: list[str], known: dict[str, Any]
) -> list[tuple[int, bool]]:
    """Each event's SEQUENCE and whether it rose (or the event is new). The store is asked
    only about events whose significant hash is not the one remembered, all in one go."""
    stale = [
        known.get(found.uid) is None
        or bool(known[found.uid].get("removed"))
        or known[found.uid].get("digest") != digest
        for found, digest in zip(found_events, digests, strict=True)
    ]
    asked = [
        (found.uid, digest)
        for found, digest, ask in zip(found_events, digests, stale, strict=True)
        if ask
    ]
    answers = iter(store.revise_all(asked))
    return [
        next(answers) if ask else (int(known[found.uid]["sequence"]), False)
        for found, ask in zip(found_events, stale, strict=True)
    ]


def _calendar_record(
    found: PlanEvent, sequence: int, digest: str, content: str, text: bytes
) -> dict[str, Any]:
    meeting = bool(found.invited)
    return {
        "item": found.item,
        "ref": found.ref,
        "digest": digest,
        "sequence": sequence,
        "content": content,
        "event": text.decode("utf-8") if meeting else None,
        "ends": _ends(found.event) if meeting else None,
        "removed": False,
    }


def queue_changes(engine: Engine, plan: Plan, now: float) -> CalendarChanges:
    """Compare the plan's events with the store; queue invites, cancellations, CalDAV."""
    store = engine.store
    stamping = Stamping.of(engine.settings, datetime.fromtimestamp(now, UTC))
    current = store.records_of([names.calendar_events(plan.id), names.invitees(plan.id)])
    known, invitees = current[names.calendar_events(plan.id)], current[names.invitees(plan.id)]
    queue = _Queue(plan, now, invitees)
    calendar: dict[str, dict[str, Any]] = {}
    found_events = plan_events(plan, stamping)
    digests = [significant(found.event) for found in found_events]
    sequences = _sequences(store, found_events, digests, known)
    for found, digest, (sequence, changed) in zip(found_events, digests, sequences, strict=True):
        set_sequence(found.event, sequence)
        if changed:
            queue.changes.changed.append(found.item)
        text = found.event.to_ical()  # once: the content digest and the kept meeting
        content = content_digest(text)
        record = known.get(found.uid)
        if record is None or record.get("content") != content or record.get("removed"):
            calendar[found.uid] = _calendar_record(found, sequence, digest, content, text)
        queue.meeting(found)
    present = {found.uid for found in found_events}
    for uid, record in known.items():
        if uid in present or record.get("removed"):
            continue
        sequence, _ = store.revise(uid, f"removed:{record['digest']}")
        queue.removed(str(record["ref"]), uid, record, sequence)
        calendar[uid] = {**record, "sequence": sequence, "removed": True}
        queue.changes.removed.append(str(record["item"]))
    return _write(engine, plan, now, queue, calendar)


def _write(
    engine: Engine, plan: Plan, now: float, queue: _Queue, calendar: dict[str, dict[str, Any]]
) -> CalendarChanges:
    changes = queue.changes
    items = changes.invites + changes.cancels
    # outbox_only (``simulate``): everything stays local, the CalDAV server too.
    if engine.settings.caldav_url and not engine.outbox_only:
        items.append(caldav_item(plan, now))
        changes.caldav = True
    # The requests before the items that name them; then the items; then what was sent
    # to whom: a crash before those records are written queues the same keys again.
    if queue.requests:
        engine.store.put_records({names.meeting_requests(plan.id): queue.requests})
    engine.store.schedule(items)
    records: dict[str, dict[str, dict[str, Any]]] = {}
    if queue.records:
        records[names.invitees(plan.id)] = queue.records
    if calendar:
        records[names.calendar_events(plan.id)] = calendar
        records[names.CALENDAR_STAMPS] = {plan.id: {"changed": now}}
    if records:
        engine.store.put_records(records)
    return changes


def caldav_item(plan: Plan, now: float, attempt: int = 0) -> Item:
    """The step that pushes the plan to the CalDAV calendar, due ``now``."""
    key = hashlib.sha256(f"{plan.id}|{CALDAV}|{now!r}|{attempt}".encode()).hexdigest()[:24]
    return Item(
        key=key,
        plan_id=plan.id,
        kind=CALDAV,
        due=now,
        ref=CALDAV,
        origin="engine",
        data={"attempt": attempt},
    )
