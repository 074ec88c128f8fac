"""CalDAV: a client for one calendar collection, one resource per UID (RFC 4791).

Every request goes through ``connectors.http`` (not the ``caldav`` library: its
2.x/3.x pull in niquests and replace urllib3, and it raises SEQUENCE by itself;
SEQUENCE is ours, from ``worker.calendar.revisions``). ``CALDAV_URL`` is the calendar
collection (Radicale ``http://host:5232/user/calendar/``, Nextcloud
``.../remote.php/dav/calendars/user/calendar/``); it must exist.

The client speaks the protocol only: PROPFIND (ETags), PUT and DELETE with
preconditions (``Written`` says done, 412 changed, 409 UID conflict), GET, and the
calendar-query REPORT, with the multistatus parsing they need; ``resource_body`` and
``fingerprint`` are the format of a resource. What to write, the records kept of it
and the reconciliation of conflicts are the push, in ``worker.calendar.push``.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.etree import ElementTree

from icalendar import Calendar, Event

from config.plan import Plan
from config.settings import Settings
from connectors import http
from connectors.base import ConnectorError
from connectors.calendar.ics import SIGNIFICANT, calendar_of
from connectors.calendar.itip import as_event

SERVICE = "CalDAV"
DAV, CAL = "DAV:", "urn:ietf:params:xml:ns:caldav"
ICS = "text/calendar; charset=utf-8"
XML = "application/xml; charset=utf-8"
PROPFIND_ETAGS = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
)


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


def strong_etag(etag: str | None) -> str | None:
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
