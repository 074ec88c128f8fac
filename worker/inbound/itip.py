"""Calendar replies: what attendees answer to pactkeeper's invitations (RFC 5546, RFC 6047).

``take_calendar_reply`` reads one iCalendar object that came back by e-mail (the
``text/calendar`` part ``worker.inbound.mailin`` found, or a bare ``.ics``) and never raises
for what a sender can send: bytes that are no calendar are ``refused`` (``unreadable``).

- **METHOD:REPLY.** Per VEVENT, the UID names the meeting: the UID pactkeeper sent
  (docs/architecture.md §5), looked up in the plans' ``calendar_events`` records. The
  replier is the invitee (``invitees`` records, state ``invited``) whose address is the
  sender's, ignoring case; their PARTSTAT is on the ATTENDEE line with that address, or on
  the only ATTENDEE line when a client wrote another form of it. ACCEPTED, TENTATIVE,
  DECLINED and DELEGATED (with DELEGATED-TO) are recorded per attendee, meeting, SEQUENCE
  (missing = 0) and RECURRENCE-ID (one occurrence of a series) in ``attendance(plan)``.
  ORGANIZER is not required (Outlook.com leaves it out).
- **Old revisions.** A reply whose SEQUENCE is below the one last sent to that attendee
  answers an invitation that no longer holds (the meeting changed since): it is
  ``refused`` with reason ``old_sequence`` and changes nothing, as RFC 5546 §2.1.5 has an
  organizer ignore it. The attendee answers the new REQUEST in their calendar.
- **Once.** A row keeps the reply's DTSTAMP; the same reply again (a poller that read it
  twice, a second copy) finds its row and is a ``duplicate``; an older one does not
  overwrite a newer one.
- **Who is told.** A DECLINED from the partner contact, the lead or the meeting's owner goes
  to the lead at once (and to the partner contact when the lead declined) through
  ``worker.inbound.notices.tell``, once per meeting revision: the topic names the UID, the
  SEQUENCE and the person. A METHOD:COUNTER (a proposed new time) is a notice to the lead
  with the proposed start and end in the plan's zone; it records nothing.
- Unknown UIDs, a sender who was not invited, a closed plan: ``refused``, one log line with
  the reason and the UID, never the body.

The status page, ``status --json``, the risk (``worker.checkins.risk.calendar_reasons``) and
the handover report read the answers of each meeting's current revision with
``worker.inbound.attendance.meeting_answers``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from icalendar import Calendar, Event

from config.load import PlanError
from config.plan import Person, Plan
from connectors.calendar.itip import as_event
from worker.engine import PlanGone
from worker.inbound import notices
from worker.inbound.attendance import Meeting, instant
from worker.inbound.replies import Outcome
from worker.logfilter import sender_tag
from worker.messages import format_day, format_moment
from worker.store import records

if TYPE_CHECKING:
    from worker.engine import Engine

log = logging.getLogger("pactkeeper.inbound")

REPLY, COUNTER = "REPLY", "COUNTER"
PARTSTATS = ("ACCEPTED", "TENTATIVE", "DECLINED", "DELEGATED")
# One outcome for an object of several VEVENTs: the first of these that happened.
ORDER = ("answered", "notice", "duplicate", "refused")
LIMIT = 1024 * 1024  # bytes of one calendar object, as for every inbound body
LANGUAGES = ("en", "nl")  # the notices' dates are worded in each, the reader's is chosen

# -- reading the object (pure) -------------------------------------------------------------


@dataclass(frozen=True)
class Attendee:
    """One ATTENDEE line of a reply."""

    email: str
    partstat: str
    delegated_to: str | None = None
    delegated_from: str | None = None


@dataclass(frozen=True)
class CalendarAnswer:
    """One VEVENT of a REPLY or COUNTER, as read."""

    uid: str
    sequence: int
    attendees: tuple[Attendee, ...]
    stamp: float | None  # DTSTAMP
    recurrence: str | None = None  # RECURRENCE-ID in UTC, ISO
    comment: str = ""
    start: datetime | date | None = None  # a COUNTER's proposed time
    end: datetime | date | None = None
    client: str = ""  # PRODID

    def replier(self, sender: str) -> Attendee | None:
        """The ATTENDEE line of ``sender`` (ignoring case), else the one line there is."""
        wanted = sender.strip().lower()
        for attendee in self.attendees:
            if attendee.email.lower() == wanted:
                return attendee
        own = [a for a in self.attendees if a.delegated_from is None]
        return own[0] if len(own) == 1 else None


class Unreadable(ValueError):
    """The bytes are no iCalendar object pactkeeper can read as a reply."""


def _mail(value: Any) -> str:
    text = str(value).strip().strip('"')
    return text[7:] if text.lower().startswith("mailto:") else text


def _param(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return _mail(value) if value else None


def _attendees(event: Event) -> tuple[Attendee, ...]:
    found = event.get("ATTENDEE")
    lines = found if isinstance(found, list) else [found] if found is not None else []
    return tuple(
        Attendee(
            email=_mail(line),
            partstat=str(line.params.get("PARTSTAT", "NEEDS-ACTION")).upper(),
            delegated_to=_param(line.params.get("DELEGATED-TO")),
            delegated_from=_param(line.params.get("DELEGATED-FROM")),
        )
        for line in lines
    )


def _answer(event: Event, client: str) -> CalendarAnswer:
    if "UID" not in event:
        raise Unreadable("a VEVENT without a UID")
    stamp = instant(event.decoded("DTSTAMP")).timestamp() if "DTSTAMP" in event else None
    recurrence = None
    if "RECURRENCE-ID" in event:
        moment = instant(event.decoded("RECURRENCE-ID")).astimezone(UTC)
        recurrence = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return CalendarAnswer(
        uid=str(event["UID"]).strip(),
        sequence=int(str(event.get("SEQUENCE", 0))),
        attendees=_attendees(event),
        stamp=stamp,
        recurrence=recurrence,
        comment=" ".join(str(event.get("COMMENT", "")).split()),
        start=event.decoded("DTSTART") if "DTSTART" in event else None,
        end=event.decoded("DTEND") if "DTEND" in event else None,
        client=client,
    )


def read_calendar(data: bytes, method: str | None = None) -> tuple[str, list[CalendarAnswer]]:
    """The METHOD (the MIME part's ``method`` wins over an absent one) and each VEVENT."""
    if len(data) > LIMIT:
        raise Unreadable("too large")
    try:
        calendar = Calendar.from_ical(data)
        said = str(calendar.get("METHOD", "")).strip().upper()
        client = str(calendar.get("PRODID", "")).strip()
        answers = [_answer(as_event(e), client) for e in calendar.walk("VEVENT")]
    except Unreadable:
        raise
    except Exception as error:  # icalendar raises many kinds for what a sender can write
        raise Unreadable(type(error).__name__) from None
    if not answers:
        raise Unreadable("no VEVENT")
    return said or (method or "").strip().upper(), answers


# -- the store ----------------------------------------------------------------------------


def find_meeting(engine: Engine, uid: str) -> Meeting | str:
    """The meeting of ``uid`` in the plans kept here, or why there is none."""
    store = engine.store
    plan_ids = store.plan_ids()
    kept = store.records_of([records.calendar_events(p) for p in plan_ids])
    plan_id = next((p for p in plan_ids if uid in kept[records.calendar_events(p)]), None)
    if plan_id is None:
        return "unknown_uid"
    record = kept[records.calendar_events(plan_id)][uid]
    if record.get("removed"):
        return "removed_meeting"
    if store.get_record(records.CLOSED, plan_id) is not None:
        return "closed"
    try:
        plan = engine.plan(plan_id)
    except (PlanGone, PlanError):
        return "plan_unreadable"
    invited = {
        str(row["person"]): row
        for row in store.records(records.invitees(plan_id)).values()
        if row.get("uid") == uid and row.get("state") == "invited"
    }
    item = str(record.get("item", ""))
    if item.startswith("checkins/"):  # a series is its person's own
        person = item.removeprefix("checkins/")
        invited = {person: {"person": person, "sequence": record.get("sequence", 0)}}
    return Meeting(plan, uid, record, invited)


def _invitee(meeting: Meeting, sender: str) -> Person | None:
    wanted = sender.strip().lower()
    for person_id, row in meeting.invited.items():
        try:
            person = meeting.plan.person(person_id)
        except KeyError:
            continue
        addresses = {str(row.get("email") or ""), person.email or ""}
        if wanted and wanted in {a.lower() for a in addresses if a}:
            return person
    return None


# -- taking a reply -------------------------------------------------------------------------


def take_calendar_reply(
    engine: Engine, sender: str, data: bytes, now: float, method: str | None = None
) -> Outcome:
    """Record what a calendar reply says (see the module docstring); never raises for
    what a sender can send."""
    try:
        said, answers = read_calendar(data, method)
    except Unreadable as error:
        who = _stranger(engine, sender)
        log.info("refused a calendar reply from %s: unreadable (%s)", who, error)
        return Outcome("refused", "too_large" if str(error) == "too large" else "unreadable")
    if said not in (REPLY, COUNTER):
        who = _stranger(engine, sender)
        log.info("refused a calendar message from %s: METHOD %s is no reply", who, said)
        return Outcome("refused", "not_a_reply")
    outcomes = [_take_one(engine, sender, said, answer, now) for answer in answers]
    return _strongest(outcomes)


def _strongest(outcomes: list[Outcome]) -> Outcome:
    """One outcome for the whole object: what most happened (an answer before a refusal)."""
    return min(outcomes, key=lambda o: ORDER.index(o.result) if o.result in ORDER else 0)


def _stranger(engine: Engine, sender: str) -> str:
    """A sender not (yet) known as a person, as a log line names it: never the address."""
    return sender_tag(engine.settings.signing_key, sender)


def _refused(reason: str, who: str, uid: str) -> Outcome:
    """``who``: the plan and person, or the sender's tag when no person matched."""
    log.info("refused a calendar reply from %s for %s: %s", who, uid, reason)
    return Outcome("refused", reason)


def _take_one(
    engine: Engine, sender: str, method: str, answer: CalendarAnswer, now: float
) -> Outcome:
    found = find_meeting(engine, answer.uid)
    if isinstance(found, str):
        return _refused(found, _stranger(engine, sender), answer.uid)
    person = _invitee(found, sender)
    line = answer.replier(sender)
    if person is None or line is None:
        return _refused("not_invited", _stranger(engine, sender), answer.uid)
    who = f"{found.plan.id}/{person.id}"
    sent = int(found.invited[person.id].get("sequence") or 0)
    if answer.sequence < sent:
        return _refused("old_sequence", who, answer.uid)
    about: dict[str, Any] = {
        "plan_id": found.plan.id,
        "person": person.id,
        "window": answer.uid,
        "language": found.plan.language_of(person),
    }
    if method == COUNTER:
        told = _tell_counter(engine, found, person, answer, now)
        return Outcome("notice", "counter" if told else "", **about)
    if line.partstat not in PARTSTATS:
        return _refused("no_answer", who, answer.uid)
    status = line.partstat.lower()
    if not _record(engine, found, person, answer, line, now):
        return Outcome("duplicate", status=status, **about)
    if line.partstat == "DECLINED":
        _tell_declined(engine, found, person, answer, now)
    return Outcome("answered", status=status, **about)


def attendance_key(answer: CalendarAnswer, person: Person) -> str:
    return records.attendance_row_id(answer.uid, person.id, answer.sequence, answer.recurrence)


def _record(
    engine: Engine,
    meeting: Meeting,
    person: Person,
    answer: CalendarAnswer,
    line: Attendee,
    now: float,
) -> bool:
    """Write the answer's row; False when this reply (or a newer one) is already there."""
    stamp = answer.stamp if answer.stamp is not None else now
    row = {
        "uid": answer.uid,
        "item": meeting.record.get("item"),
        "person": person.id,
        "sequence": answer.sequence,
        "recurrence": answer.recurrence,
        "partstat": line.partstat,
        "delegated_to": line.delegated_to,
        "comment": answer.comment[: notices.TEXT_LIMIT],
        "stamp": stamp,
        "at": now,
        "client": answer.client[:200],
    }
    collection = records.attendance(meeting.plan.id)
    key = attendance_key(answer, person)
    there = engine.store.put_record_once(collection, key, row)
    if there is None:
        return True
    same = (there.get("partstat"), there.get("stamp")) == (line.partstat, stamp)
    if same or float(there.get("stamp") or 0) > stamp:
        return False
    return engine.store.update_record(collection, key, {"stamp": there.get("stamp")}, row, there)


# -- notices --------------------------------------------------------------------------------


def _when(moment: datetime | date | None, plan: Plan) -> dict[str, str]:
    """A moment worded in every language, in the plan's zone (the reader's is picked)."""
    if moment is None:
        return dict.fromkeys(LANGUAGES, "")
    if isinstance(moment, datetime):
        local = instant(moment).astimezone(plan.zone)
        return {lang: format_moment(local, lang) for lang in LANGUAGES}
    return {lang: format_day(moment, lang) for lang in LANGUAGES}


def _facts(meeting: Meeting, person: Person, answer: CalendarAnswer) -> dict[str, Any]:
    return {
        "title": meeting.title(),
        "when": _when(meeting.start(), meeting.plan),
        "comment": answer.comment[: notices.TEXT_LIMIT],
        "uid": answer.uid,
        "sequence": answer.sequence,
        "person_id": person.id,
    }


def _tell_declined(
    engine: Engine, meeting: Meeting, person: Person, answer: CalendarAnswer, now: float
) -> int:
    plan = meeting.plan
    lead, contact = plan.lead, plan.contact
    if person.id not in {lead.id, contact.id, meeting.owner()}:
        return 0
    recipients = [lead, contact] if person.id == lead.id else [lead]
    facts = {**_facts(meeting, person, answer), "role": _role(plan, meeting, person)}
    topic = f"calendar declined {answer.uid} {answer.sequence} {person.id}"
    return notices.tell(engine, plan, recipients, person, "calendar_declined", facts, topic, now)


def _role(plan: Plan, meeting: Meeting, person: Person) -> str:
    if person.id == plan.contact.id:
        return "contact"
    return "lead" if person.id == plan.lead.id else "owner"


def _tell_counter(
    engine: Engine, meeting: Meeting, person: Person, answer: CalendarAnswer, now: float
) -> int:
    plan = meeting.plan
    facts = {
        **_facts(meeting, person, answer),
        "proposed": _when(answer.start, plan),
        "proposed_end": _when(answer.end, plan),
    }
    proposal = f"{answer.start} {answer.end}"
    topic = f"calendar counter {answer.uid} {answer.sequence} {person.id} {proposal}"
    return notices.tell(engine, plan, [plan.lead], person, "calendar_counter", facts, topic, now)


# -- what the status shows ------------------------------------------------------------------
