"""iTIP over e-mail (RFC 5546, RFC 6047): invitations and cancellations of meetings.

The calendar objects are built when a change is queued (``worker.calendar.revisions``)
from the one builder's events, and travel in the ledger item; ``meeting_of`` reads
them back for the e-mail a person reads (drafted in ``worker.calendar.messages``,
with the object as the ``text/calendar`` part: ``connectors.email`` adds it beside
text and HTML, with the same METHOD in the MIME header, and as ``invite.ics``).

What an iTIP copy adds to the builder's event:

- REQUEST: ``RSVP=TRUE`` and ``PARTSTAT=NEEDS-ACTION`` on every ATTENDEE, so
  Outlook, Gmail and Apple Calendar show Accept/Decline;
- CANCEL: a SEQUENCE above the last one sent, no alarms, and as ATTENDEE everyone
  the meeting is cancelled for: all attendees, with ``STATUS:CANCELLED``, when the
  meeting is removed; only the removed person, and no STATUS, when an attendee is
  taken off (RFC 5546 §3.2.5: STATUS:CANCELLED cancels the whole event).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from icalendar import Calendar, Event, vCalAddress

from config.plan import Plan
from connectors.calendar.ics import address, calendar_bytes, calendar_of

REQUEST, CANCEL = "REQUEST", "CANCEL"


def as_event(component: Any) -> Event:
    """A parsed VEVENT (icalendar's parsers are typed as returning any Component)."""
    if not isinstance(component, Event):
        raise ValueError("not a VEVENT")
    return component


def _addresses(event: Event) -> list[vCalAddress]:
    found = event.get("ATTENDEE")
    if found is None:
        return []
    return list(found) if isinstance(found, list) else [found]


def request_calendar(plan: Plan, event: Event) -> bytes:
    """METHOD:REQUEST for one meeting: the event as built, with RSVP asked of everyone.

    Only the attendees change, so only they are copied (a deep copy of the whole event
    took a quarter of a registration's time)."""
    invitation = copy.copy(event)
    asked = []
    for attendee in _addresses(event):
        copied = copy.copy(attendee)
        copied.params = copy.copy(attendee.params)
        copied.params["CUTYPE"] = "INDIVIDUAL"
        copied.params["PARTSTAT"] = "NEEDS-ACTION"
        copied.params["RSVP"] = "TRUE"
        asked.append(copied)
    if asked:
        invitation["ATTENDEE"] = asked if isinstance(event["ATTENDEE"], list) else asked[0]
    return calendar_bytes(plan, [invitation], REQUEST)


def cancel_calendar(
    plan: Plan,
    event: Event,
    sequence: int,
    stamp: datetime,
    people: Mapping[str, str] | None = None,
) -> bytes:
    """METHOD:CANCEL for one meeting, for ``people`` (e-mail address -> name), or for every
    attendee of ``event`` when None. A person taken off a meeting is no longer among the
    event's attendees, so they are named here."""
    cancellation = copy.deepcopy(event)
    cancellation.pop("STATUS", None)
    if people is None:
        cancellation.add("status", "CANCELLED")  # the whole meeting is off
    else:
        # Only these people are taken off: the meeting itself goes on, so no STATUS
        # (RFC 5546 §3.2.5: CANCELLED cancels the whole event for everyone).
        cancellation.pop("ATTENDEE", None)
        for email, name in people.items():
            cancellation.add("attendee", address(email, name, "REQ-PARTICIPANT"))
    for name, value in (("sequence", sequence), ("dtstamp", stamp)):
        cancellation.pop(name.upper(), None)
        cancellation.add(name, value)
    cancellation.subcomponents = []  # no alarms for a meeting that is off
    data: bytes = calendar_of(plan, [cancellation], CANCEL).to_ical()
    return data


# -- what an item holds -------------------------------------------------------------------


@dataclass(frozen=True)
class Meeting:
    """The facts of the meeting in an item's calendar object, in the reader's zone."""

    title: str
    start: datetime | date
    end: datetime | date | None
    location: str | None
    description: str | None
    attendees: list[str]


def meeting_of(data: bytes) -> Meeting:
    event = as_event(next(iter(Calendar.from_ical(data).walk("VEVENT"))))
    end = event.decoded("DTEND") if "DTEND" in event else None
    return Meeting(
        title=str(event["SUMMARY"]),
        start=event.decoded("DTSTART"),
        end=end,
        location=str(event["LOCATION"]) if "LOCATION" in event else None,
        description=str(event["DESCRIPTION"]) if "DESCRIPTION" in event else None,
        attendees=_common_names(data) or [str(a) for a in _addresses(event)],
    )


def _common_names(data: bytes) -> list[str]:
    """The CN of each ATTENDEE as written, read from the content lines themselves.

    A parameter value holds no escapes in RFC 5545 (a quoted value keeps a backslash
    as it is), but icalendar reads ``\\;`` in one as ``;``: a name with a backslash would
    come out changed in the invitation's words. RFC 6868's ``^`` escapes are undone.
    An attendee without a CN is named by its address; an empty list when a line does
    not read (the caller falls back on icalendar's reading)."""
    text = data.decode("utf-8", "replace").replace("\r\n ", "").replace("\r\n\t", "")
    names = []
    for line in text.split("\r\n"):
        if line[:9].upper() not in ("ATTENDEE;", "ATTENDEE:"):
            continue
        try:
            params, address = _parameters(line, len("ATTENDEE"))
        except (ValueError, IndexError):  # an unclosed quote, a line without a value
            return []
        name = params.get("CN")
        names.append(re.sub(r"\^(\^|n|')", _caret, name) if name else address)
    return names


def _parameters(line: str, at: int) -> tuple[dict[str, str], str]:
    """The parameters of a content line from ``at`` (its first ``;``), and its value."""
    params: dict[str, str] = {}
    while line[at] == ";":
        equals = line.index("=", at)
        name, at = line[at + 1 : equals].upper(), equals + 1
        values = []
        while True:
            if line[at] == '"':
                close = line.index('"', at + 1)
                values.append(line[at + 1 : close])
                at = close + 1
            else:
                end = at
                while line[end] not in ";:,":
                    end += 1
                values.append(line[at:end])
                at = end
            if line[at] != ",":
                break
            at += 1
        params[name] = ",".join(values)
    if line[at] != ":":
        raise ValueError(line)
    return params, line[at + 1 :].removeprefix("mailto:").removeprefix("MAILTO:")


def _caret(found: re.Match[str]) -> str:
    return {"^": "^", "n": "\n", "'": '"'}[found.group(1)]
