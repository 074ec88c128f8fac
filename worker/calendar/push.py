"""The ``caldav`` step: the plan's events in a CalDAV calendar, one resource per UID.

Every registration queues one ``caldav`` step (``worker.calendar.revisions``); it runs
this push over the protocol client ``connectors.calendar.caldav.CalendarCollection``.

A push (``push``, run as the ``caldav`` step that every registration queues):

1. One PROPFIND (Depth 1) lists the ETags of the calendar's resources.
2. Each event of the plan becomes ``<uid>.ics``, built by the one builder, without
   METHOD (RFC 4791 §4.1) and with ``SCHEDULE-AGENT=CLIENT`` on ORGANIZER and
   ATTENDEE, so a scheduling server (Nextcloud, iCloud, Fastmail) sends no
   invitations of its own: pactkeeper sends them. When the body (without DTSTAMP)
   is the one recorded and the server lists the ETag recorded, nothing is sent.
   Otherwise: not on the server, PUT with ``If-None-Match: *``; on the server as
   we left it, PUT with ``If-Match``; on the server with another ETag, see below.
3. A resource recorded for an event no longer in the plan: DELETE with ``If-Match``.

The store keeps per UID (records ``caldav:<plan>``) the href, the ETag, the
SEQUENCE and the digest of what was written. A no-op push is one PROPFIND.

Conflicts, and what we chose:

- **412**, or an ETag we did not write: someone changed the resource. We read it
  (GET). When its UID, SEQUENCE and significant fields are the plan's, we adopt
  its ETag and write nothing (our own PUT whose answer was lost, or an alarm
  someone set). Otherwise the plan wins: we overwrite it with ``If-Match`` on the
  ETag just read and log a warning naming the event (change the plan, not the
  calendar). Gone meanwhile: created again. A second 412 in a row is transient:
  the push runs again later. A removed event that someone changed is deleted all
  the same (``If-Match`` on the ETag read).
- **409** with ``CALDAV:no-uid-conflict``: the UID lives in another resource of
  the calendar (someone's client put it there). We find it with a REPORT (a UID
  text-match), adopt its href and update it there. Any other 409 (the calendar
  collection does not exist) is a permanent error.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from icalendar import Event

from config.plan import Plan
from connectors.base import ConnectorError
from connectors.calendar.caldav import (
    SERVICE,
    CalendarCollection,
    Written,
    event_in,
    fingerprint,
    resource_body,
    strong_etag,
)
from worker.calendar.events import PlanEvent, Stamping, plan_events
from worker.calendar.revisions import (
    caldav_item,
    content_digest,
    set_sequence,
)
from worker.delivery.draft import StepResult
from worker.delivery.retry import MAX_ATTEMPTS, backoff
from worker.store import records as names

if TYPE_CHECKING:
    from worker.engine import Engine
    from worker.store import Item

log = logging.getLogger("pactkeeper.caldav")


@dataclass(frozen=True)
class Resource:
    """One event of the plan as the calendar object resource it becomes."""

    uid: str
    item: str
    event: Event
    body: bytes
    digest: str
    sequence: int


def resources(engine: Engine, plan: Plan, now: float) -> list[Resource]:
    """The plan's events with the SEQUENCEs of the revision store, as resources."""
    known = engine.store.records(names.calendar_events(plan.id))
    stamping = Stamping.of(engine.settings, datetime.fromtimestamp(now, UTC))
    found: list[Resource] = []
    for planned in plan_events(plan, stamping):
        record = known.get(planned.uid)
        sequence = int(record["sequence"]) if record else _revision(engine, planned)
        set_sequence(planned.event, sequence)
        body = resource_body(plan, planned.event)
        found.append(
            Resource(planned.uid, planned.item, planned.event, body, content_digest(body), sequence)
        )
    return found


def _revision(engine: Engine, planned: PlanEvent) -> int:
    revision = engine.store.revision(planned.uid)
    return revision[0] if revision else 0


@dataclass
class PushResult:
    """What one push did, by event (``milestone/intake``), and the requests it made."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)  # already right on the server
    overwritten: list[str] = field(default_factory=list)  # changed on the server; plan won
    unchanged: int = 0
    requests: Counter[str] = field(default_factory=Counter)

    @property
    def writes(self) -> int:
        return sum(self.requests[m] for m in ("PUT", "DELETE"))

    def detail(self) -> str:
        counts = ", ".join(f"{n} {m}" for m, n in sorted(self.requests.items())) or "none"
        parts = [
            f"{len(self.created)} created",
            f"{len(self.updated)} updated",
            f"{len(self.deleted)} deleted",
            f"{self.unchanged} unchanged",
        ]
        if self.overwritten:
            parts.append(f"{len(self.overwritten)} changed on the server, overwritten")
        return f"CalDAV: {', '.join(parts)} (requests: {counts})"


class _Push:
    def __init__(self, plan: Plan, collection: CalendarCollection, records: dict[str, Any]):
        self.plan, self.collection, self.records = plan, collection, records
        self.result = PushResult()
        self.written: dict[str, dict[str, Any]] = {}
        self.listing: dict[str, str] = {}

    def run(self, wanted: list[Resource]) -> None:
        self.listing = self.collection.etags()
        for resource in wanted:
            self.put(resource)
        present = {resource.uid for resource in wanted}
        for uid in set(self.records) - present:
            record = self._mine(uid)
            if record is not None and not record.get("gone"):
                self.delete(uid, record)

    def _record(self, resource: Resource, href: str, etag: str | None) -> None:
        self.written[resource.uid] = {
            "calendar": self.collection.url,
            "href": href,
            "etag": etag,
            "digest": resource.digest,
            "sequence": resource.sequence,
            "item": resource.item,
            "gone": False,
        }

    def _mine(self, uid: str) -> dict[str, Any] | None:
        """Our record of ``uid`` in this calendar (a record of another CALDAV_URL is not)."""
        record = self.records.get(uid)
        return record if record and record.get("calendar") == self.collection.url else None

    def put(self, resource: Resource) -> None:
        record = self._mine(resource.uid)
        live = record is not None and not record.get("gone")
        href = str(record["href"]) if record else self.collection.href_of(resource.uid)
        listed = self.listing.get(href)
        ours = (
            live and record is not None and strong_etag(listed) == strong_etag(record.get("etag"))
        )
        if ours and record is not None and record.get("digest") == resource.digest:
            self.result.unchanged += 1
            return
        if listed is None:
            answer = self.collection.put(href, resource.body, None)
        elif ours:
            answer = self.collection.put(href, resource.body, listed)
        else:
            self.reconcile(resource, href)
            return
        self.after_put(resource, href, answer, created=listed is None)

    def after_put(self, resource: Resource, href: str, answer: Written, created: bool) -> None:
        if answer.done:
            self._record(resource, href, answer.etag)
            (self.result.created if created else self.result.updated).append(resource.item)
        elif answer.uid_conflict:
            self.elsewhere(resource)
        elif answer.changed:
            self.reconcile(resource, href)
        else:
            raise ConnectorError("permanent", f"{SERVICE}: HTTP {answer.status} for a PUT")

    def elsewhere(self, resource: Resource) -> None:
        """409 no-uid-conflict: the UID is in another resource; update it there."""
        found = self.collection.find(resource.uid)
        if found is None:
            raise ConnectorError("transient", f"{SERVICE}: UID conflict, but no resource has it")
        log.warning(
            "CalDAV: %s lives at %s on the server; updated there", resource.item, found.href
        )
        self.reconcile(resource, found.href)

    def reconcile(self, resource: Resource, href: str) -> None:
        """The resource is not as we left it: read it, then adopt it or overwrite it."""
        stored = self.collection.read(href)
        if stored is None:
            answer = self.collection.put(href, resource.body, None)
            created = True
        else:
            theirs = event_in(stored.data, resource.uid)
            if theirs is not None and fingerprint(theirs) == fingerprint(resource.event):
                self._record(resource, href, stored.etag)
                self.result.adopted.append(resource.item)
                return
            log.warning(
                "CalDAV: %s (%s) was changed on the server; the plan's version replaces it",
                resource.item,
                self.plan.id,
            )
            if stored.etag is None:
                raise ConnectorError("transient", f"{SERVICE}: no ETag to overwrite safely")
            answer = self.collection.put(href, resource.body, stored.etag)
            created = False
            if answer.done:
                self.result.overwritten.append(resource.item)
        if not answer.done:
            raise ConnectorError(
                "transient", f"{SERVICE}: {resource.item} changed again while it was written"
            )
        self._record(resource, href, answer.etag)
        (self.result.created if created else self.result.updated).append(resource.item)

    def delete(self, uid: str, record: dict[str, Any]) -> None:
        href, item = str(record["href"]), str(record.get("item", uid))
        listed = self.listing.get(href)
        if listed is not None:
            if strong_etag(listed) != strong_etag(record.get("etag")):
                log.warning("CalDAV: %s was changed on the server; deleted all the same", item)
            answer = self.collection.delete(href, listed)
            if answer.changed:
                raise ConnectorError("transient", f"{SERVICE}: {item} changed while deleting it")
            self.result.deleted.append(item)
        self.written[uid] = {**record, "gone": True}


def push(
    engine: Engine, plan: Plan, now: float, collection: CalendarCollection | None = None
) -> PushResult:
    """Make the CalDAV calendar hold exactly the plan's events (see the module's docstring)."""
    collection = collection or CalendarCollection.from_settings(engine.settings)
    records = engine.store.records(names.caldav_resources(plan.id))
    work = _Push(plan, collection, records)
    try:
        work.run(resources(engine, plan, now))
    finally:
        # What was done is kept even when a request failed half way.
        if work.written:
            engine.store.put_records({names.caldav_resources(plan.id): work.written})
        work.result.requests = collection.requests
    return work.result


def push_step(engine: Engine, item: Item, now: float) -> StepResult:
    """The ``caldav`` step: push; a transient failure is a new step after a backoff."""
    plan = engine.plan(item.plan_id)
    if not engine.settings.caldav_url:
        return StepResult("CalDAV is not configured (PACTKEEPER_CALDAV_URL)")
    try:
        result = push(engine, plan, now)
    except ConnectorError as error:
        attempt = int(item.data.get("attempt", 0)) + 1
        if error.kind == "permanent" or attempt >= MAX_ATTEMPTS:
            log.error("CalDAV push of %s failed, not retried: %s", plan.id, error)
            return StepResult(f"{error}; not retried")
        due = now + backoff(attempt - 1, error.retry_after)
        engine.store.schedule([caldav_item(plan, due, attempt)])
        when = datetime.fromtimestamp(due, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return StepResult(f"{error}; again at {when}")
    return StepResult(result.detail())
