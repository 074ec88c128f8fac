"""The invitation's words name the attendees as the calendar object writes them.

icalendar reads a backslash in a quoted parameter value as an escape (``"\\; x"``
becomes ``; x``); RFC 5545 has no escapes there, so ``meeting_of`` reads the CN from
the content lines itself (found by the literal-text property test)."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress

from connectors.calendar.itip import _common_names, meeting_of


def calendar(*names: str | None) -> bytes:
    event = Event()
    event.add("summary", "Intake")
    event.add("uid", "u@x")
    event.add("dtstart", datetime(2027, 1, 13, 10, 0, tzinfo=UTC))
    for number, name in enumerate(names):
        address = vCalAddress(f"mailto:p{number}@x.example")
        if name is not None:
            address.params["CN"] = name
        event.add("attendee", address)
    cal = Calendar()
    cal.add_component(event)
    return cal.to_ical()


def test_names_with_backslashes_quotes_and_separators_come_out_as_written() -> None:
    names = ["\\; q3z", "Ana de Vries", "Kim, Lee: the team", "x\\ny", "a very long name " * 6]
    data = calendar(*names, None)
    assert _common_names(data) == [*names, "p5@x.example"]
    assert meeting_of(data).attendees == [*names, "p5@x.example"]


def test_caret_escapes_are_undone_and_a_broken_line_falls_back() -> None:
    lines = b'ATTENDEE;CN="x^\'y^^z^n":mailto:a@b.c\r\nATTENDEE;CN=plain:mailto:d@e.f\r\n'
    assert _common_names(b"BEGIN:VEVENT\r\n" + lines + b"END:VEVENT\r\n") == ['x"y^z\n', "plain"]
    assert _common_names(b'ATTENDEE;CN="unclosed:mailto:a@b.c\r\n') == []
    assert _common_names(b"ATTENDEE;CN=x\r\n") == []
