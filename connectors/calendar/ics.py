"""The iCalendar envelope and format rules every calendar of pactkeeper shares.

Format only, no plan logic (docs/architecture.md §5): the PRODID, the properties that
count as a significant change, UIDs, ORGANIZER/ATTENDEE addresses, and ``calendar_of``,
which wraps events into a VCALENDAR with the VTIMEZONEs their TZIDs need. The events
themselves are built from the plan in ``worker.calendar.events``.

- A display name (CN) has no ``"``: it would have to be written as RFC 6868's
  ``^'``, which libical (Evolution), node-ical and ics-py show as it stands, so
  each ``"`` becomes a typographic quote.
- VALARMs do not count as a significant change: clients drop or replace the
  organiser's alarms, so a changed reminder is no reason for a new SEQUENCE.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from uuid import NAMESPACE_URL, uuid5

from icalendar import Calendar, Event, vCalAddress

from config.plan import Plan
from connectors.calendar.zones import vtimezone

PRODID = "-//pactkeeper//pactkeeper calendar//EN"


# The top-level properties that matter to a person; DTSTAMP and SEQUENCE never do.
SIGNIFICANT = frozenset(
    {
        "DTSTART",
        "DTEND",
        "DURATION",
        "SUMMARY",
        "LOCATION",
        "DESCRIPTION",
        "RRULE",
        "EXDATE",
        "RDATE",
        "ATTENDEE",
        "STATUS",
    }
)


def event_uid(plan_id: str, item: str, domain: str) -> str:
    """The UID of one calendar item (``milestone/<id>``, ``handover``, ``checkins/<person>``)."""
    return f"{uuid5(NAMESPACE_URL, f'{plan_id}/{item}')}@{domain}"


def address(email: str, name: str, role: str | None = None) -> vCalAddress:
    """An ORGANIZER or ATTENDEE: ``mailto:`` with the person's name as CN."""
    return vCalAddress.new(email, cn=display_name(name), role=role)


def display_name(name: str) -> str:
    """``Eva "Evi" Mulder`` as ``Eva “Evi” Mulder``: a CN without the ``"`` RFC 6868 escapes."""
    pieces = name.split('"')
    quoted = [piece + ("“" if n % 2 == 0 else "”") for n, piece in enumerate(pieces[:-1])]
    return "".join([*quoted, pieces[-1]])


def _zones(events: Iterable[Event]) -> list[str]:
    """The TZIDs the events use: those of DTSTART and DTEND (one may be UTC, the other not)."""
    times = (event[key].params for event in events for key in ("DTSTART", "DTEND") if key in event)
    return sorted({str(params["TZID"]) for params in times if "TZID" in params})


def calendar_of(
    plan: Plan, events: list[Event], method: str = "PUBLISH", name: str | None = None
) -> Calendar:
    """A VCALENDAR holding the events and a VTIMEZONE (from RRULEs) for every TZID they use."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add("x-wr-calname", name or plan.title)
    # RFC 5545 §3.6: a calendar holds at least one component. One without events (the
    # feed of someone taken off the plan) holds the plan's zone, so it stays valid.
    zones = _zones(events) if events else [plan.timezone]
    # A year before the start: a January event needs the onset of last October.
    for zone in zones:
        calendar.add_component(vtimezone(zone, plan.start.year - 1, plan.end.year))
    for event in events:
        calendar.add_component(event)
    return calendar


def calendar_bytes(
    plan: Plan, events: list[Event], method: str = "PUBLISH", name: str | None = None
) -> bytes:
    """``calendar_of(...).to_ical()``, byte for byte, with each VTIMEZONE serialised once
    per process: a calendar's content lines are its own, then each component's in turn."""
    shell = calendar_of(plan, [], method, name)
    shell.subcomponents = []
    head = shell.to_ical()
    end = b"END:VCALENDAR\r\n"
    assert head.endswith(end)
    zones = _zones(events) if events else [plan.timezone]
    parts = [head[: -len(end)]]
    parts.extend(_zone_bytes(zone, plan.start.year - 1, plan.end.year) for zone in zones)
    parts.extend(event.to_ical() for event in events)
    parts.append(end)
    return b"".join(parts)


@functools.lru_cache(maxsize=256)
def _zone_bytes(zone: str, first_year: int, last_year: int) -> bytes:
    data: bytes = vtimezone(zone, first_year, last_year).to_ical()
    return data


def significant_hash(event: Event) -> str:
    """A hash of what matters to a person; SEQUENCE rises only when it changes."""
    # Sorted: the order of attendees or EXDATEs is no change to anyone.
    lines = sorted(
        str(event.content_line(name, value))
        for name, value in event.property_items(recursive=False)
        if name in SIGNIFICANT
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
