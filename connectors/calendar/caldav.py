"""CalDAV: the plan's events in a CalDAV calendar, one resource per UID (RFC 4791).

Every request goes through ``connectors.http`` (not the ``caldav`` library: its
2.x/3.x pull in niquests and replace urllib3, and it raises SEQUENCE by itself;
SEQUENCE is ours, from the revision store). ``CALDAV_URL`` is the calendar
collection (Radicale ``http://host:5232/user/calendar/``, Nextcloud
``.../remote.php/dav/calendars/user/calendar/``); it must exist.

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

import copy
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.etree import ElementTree

from icalendar import Calendar, Event

from config.plan import Plan
from config.settings import Settings
from connectors import http
from connectors.base import ConnectorError
from connectors.calendar.ics import SIGNIFICANT, Stamping, calendar_of
from connectors.calendar.invites import as_event
from connectors.calendar.sync import (
    PlanEvent,
    caldav_item,
    calendar_records,
    content_digest,
    plan_events,
    set_sequence,
)

if TYPE_CHECKING:
    from worker.dispatch import StepResult
    from worker.engine import Engine
    from worker.store import Item

log = logging.getLogger("pactkeeper.caldav")

SERVICE = "CalDAV"
MAX_ATTEMPTS = 8
DAV, CAL = "DAV:", "urn:ietf:params:xml:ns:caldav"
ICS = "text/calendar; charset=utf-8"
XML = "application/xml; charset=utf-8"
PROPFIND_ETAGS = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
)


def records_of(plan_id: str) -> str:
    return f"caldav:{plan_id}"


# -- the calendar collection ------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """The answer to a PUT or DELETE: done (with the new ETag, if the server gave one),
    or refused with 412 (``changed``) or 409 (``conflict``)."""

    status: int
    etag: str | None = None
    body: str = ""

    @property
    def done(self) -> bool:
        return 200 <= self.status < 300 or self.status == 404

    @property
    def changed(self) -> bool:
        return self.status == 412

    @property
    def uid_conflict(self) -> bool:
        return self.status == 409 and "no-uid-conflict" in self.body


@dataclass(frozen=True)
class Stored:
    """A calendar object resource as the server has it."""

    href: str
    etag: str | None
    data: bytes


def _path(href: str) -> str:
    """A server's href (a path or a URL, percent-encoded) as the plain path we key on."""
    return unquote(urlsplit(href).path)


def _strong(etag: str | None) -> str | None:
    return etag.removeprefix("W/") if etag else None


class CalendarCollection:
    """One CalDAV calendar collection; counts the requests it makes, by method."""

    def __init__(
        self,
        url: str,
        auth: tuple[str, str] | None = None,
        timeout: tuple[float, float] = (5.0, 20.0),
    ) -> None:
        self.url = url if url.endswith("/") else f"{url}/"
        self.path = _path(self.url)
        self.auth = auth
        self.timeout = timeout
        self.requests: Counter[str] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings) -> CalendarCollection:
        if not settings.caldav_url:
            raise ConnectorError("permanent", "CalDAV: PACTKEEPER_CALDAV_URL is not set")
        auth = None
        if settings.caldav_user and settings.caldav_password is not None:
            auth = (settings.caldav_user, settings.caldav_password.get_secret_value())
        timeout = (settings.http_connect_timeout, settings.http_read_timeout)
        return cls(settings.caldav_url, auth, timeout)

    def href_of(self, uid: str) -> str:
        return f"{self.path}{uid}.ics"

    def _call(
        self,
        method: str,
        href: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        expect: Iterable[int] = (),
    ) -> http.Response:
        self.requests[method] += 1
        url = urljoin(self.url, quote(href))
        return http.request(
            method,
            url,
            service=SERVICE,
            data=body,
            headers=headers,
            auth=self.auth,
            timeout=self.timeout,
            expect=tuple(expect),
        )

    def etags(self) -> dict[str, str]:
        """Every resource of the collection and its ETag (one PROPFIND, Depth 1)."""
        headers = {"Depth": "1", "Content-Type": XML}
        answer = self._call("PROPFIND", self.path, PROPFIND_ETAGS, headers)
        return {
            href: etag
            for href, etag, _ in _multistatus(answer.content)
            if etag and href != self.path
        }

    def put(self, href: str, body: bytes, etag: str | None) -> Written:
        """Create (``etag`` None: If-None-Match: *) or replace (If-Match: ``etag``)."""
        headers = {"Content-Type": ICS}
        headers.update({"If-Match": etag} if etag else {"If-None-Match": "*"})
        answer = self._call("PUT", href, body, headers, expect=(409, 412))
        return Written(answer.status_code, answer.headers.get("ETag"), answer.text)

    def delete(self, href: str, etag: str) -> Written:
        answer = self._call("DELETE", href, headers={"If-Match": etag}, expect=(404, 412))
        return Written(answer.status_code)

    def read(self, href: str) -> Stored | None:
        answer = self._call("GET", href, expect=(404,))
        if answer.status_code == 404:
            return None
        return Stored(href, answer.headers.get("ETag"), answer.content)

    def query(self, filters: str) -> list[Stored]:
        """A calendar-query REPORT (RFC 4791 §7.8) with ``filters`` inside the VEVENT filter."""
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<c:calendar-query xmlns:d="{DAV}" xmlns:c="{CAL}">'
            "<d:prop><d:getetag/><c:calendar-data/></d:prop>"
            '<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">'
            f"{filters}</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"
        )
        headers = {"Depth": "1", "Content-Type": XML}
        answer = self._call("REPORT", self.path, body.encode(), headers)
        return [Stored(h, e, d) for h, e, d in _multistatus(answer.content) if d is not None]

    def between(self, start: datetime, end: datetime) -> list[Stored]:
        """The events that overlap ``[start, end)`` as the server reckons it (its time zones)."""
        span = f'<c:time-range start="{_utc(start)}" end="{_utc(end)}"/>'
        return self.query(span)

    def find(self, uid: str) -> Stored | None:
        """The resource that holds ``uid``, wherever it is in the collection."""
        match = f'<c:text-match collation="i;octet">{_xml_text(uid)}</c:text-match>'
        found = self.query(f'<c:prop-filter name="UID">{match}</c:prop-filter>')
        return found[0] if found else None


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a time-range needs zone-aware times")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _multistatus(content: bytes) -> list[tuple[str, str | None, bytes | None]]:
    """(href, ETag, calendar data) of each response in a 207 Multi-Status body."""
    # The answer of the server the deployment configured; expat fetches no external
    # entities and (2.4.1+) refuses entity expansion bombs.
    try:
        root = ElementTree.fromstring(content)  # noqa: S314
    except ElementTree.ParseError:
        raise ConnectorError(
            "permanent", f"{SERVICE}: the answer is not WebDAV XML (is the URL a calendar?)"
        ) from None
    found = []
    for response in root.iter(f"{{{DAV}}}response"):
        href = response.findtext(f"{{{DAV}}}href") or ""
        etag, data = None, None
        for propstat in response.iter(f"{{{DAV}}}propstat"):
            if " 200 " not in (propstat.findtext(f"{{{DAV}}}status") or ""):
                continue
            etag = propstat.findtext(f".//{{{DAV}}}getetag") or etag
            text = propstat.findtext(f".//{{{CAL}}}calendar-data")
            data = text.encode("utf-8") if text else data
        found.append((_path(href), etag, data))
    return found


# -- what is written --------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """One event of the plan as the calendar object resource it becomes."""

    uid: str
    item: str
    event: Event
    body: bytes
    digest: str
    sequence: int


def resource_body(plan: Plan, event: Event) -> bytes:
    """The body of ``<uid>.ics``: the event and its VTIMEZONEs, no METHOD, no server
    scheduling (``SCHEDULE-AGENT=CLIENT``, RFC 6638 §7.1)."""
    event = copy.deepcopy(event)
    for name in ("ORGANIZER", "ATTENDEE"):
        found = event.get(name)
        for address in found if isinstance(found, list) else [found] if found else []:
            address.params["SCHEDULE-AGENT"] = "CLIENT"
    calendar = calendar_of(plan, [event])
    for name in ("METHOD", "X-WR-CALNAME"):
        calendar.pop(name, None)
    data: bytes = calendar.to_ical()
    return data


def resources(engine: Engine, plan: Plan, now: float) -> list[Resource]:
    """The plan's events with the SEQUENCEs of the revision store, as resources."""
    known = engine.store.records(calendar_records(plan.id))
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


def fingerprint(event: Event) -> dict[str, list[str]]:
    """What a copy must keep of an event, compared by value: times as instants, EXDATEs as
    a set (servers join them in one line), addresses without case."""
    found: dict[str, list[str]] = {}
    for name in sorted(SIGNIFICANT | {"UID", "SEQUENCE"}):
        value = event.get(name)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        found[name] = sorted(text for one in values for text in _values(name, one))
    return found


def _values(name: str, value: Any) -> list[str]:
    if hasattr(value, "dts"):  # EXDATE, RDATE: a list of times
        return [_instant(one.dt) for one in value.dts]
    if hasattr(value, "dt"):
        return [_instant(value.dt)]
    if name in ("ATTENDEE", "ORGANIZER"):
        return [str(value).lower()]
    if hasattr(value, "to_ical") and name == "RRULE":
        return [value.to_ical().decode()]
    return [str(value)]


def _instant(moment: Any) -> str:
    """A zoned time as its UTC instant (whatever TZID a server writes); dates, floating
    times and durations as they are."""
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment.astimezone(UTC).isoformat()
    return str(moment)


def event_in(data: bytes, uid: str) -> Event | None:
    """The event with ``uid`` in a calendar object; None if absent or unreadable."""
    try:
        events = Calendar.from_ical(data).walk("VEVENT")
    except ValueError:
        return None
    for event in events:
        if str(event.get("UID")) == uid:
            return as_event(event)
    return None


# -- the push ---------------------------------------------------------------------------


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
        ours = live and record is not None and _strong(listed) == _strong(record.get("etag"))
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
            if _strong(listed) != _strong(record.get("etag")):
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
    records = engine.store.records(records_of(plan.id))
    work = _Push(plan, collection, records)
    try:
        work.run(resources(engine, plan, now))
    finally:
        # What was done is kept even when a request failed half way.
        if work.written:
            engine.store.put_records({records_of(plan.id): work.written})
        work.result.requests = collection.requests
    return work.result


def push_step(engine: Engine, item: Item, now: float) -> StepResult:
    """The ``caldav`` step: push; a transient failure is a new step after a backoff."""
    from worker.dispatch import StepResult, backoff

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
