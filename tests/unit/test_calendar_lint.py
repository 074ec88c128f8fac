"""Every calendar pactkeeper produces passes the lint; the lint catches each fault it names."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from config.load import load_plan
from config.settings import Settings
from connectors.calendar.ics import calendar_of
from tests.calendar_lint import MAX_OCTETS, lint_calendar
from tests.support import DUTCH, ENGLISH
from worker.calendar.events import Stamping, build_calendar, events_for

STAMP = datetime(2027, 1, 2, 8, 30, tzinfo=UTC)
SETTINGS = Settings(uid_domain="lint.test.example", organizer_email="organizer@acme.example")


def whole_calendars() -> list[tuple[str, bytes]]:
    """The plan and each person's part of it, as feeds (PUBLISH) and as invites (REQUEST)."""
    found = []
    for path in (DUTCH, ENGLISH):
        plan = load_plan(path)
        for person in [None, *(p.id for p in plan.people)]:
            for method in ("PUBLISH", "REQUEST"):
                data = build_calendar(plan, person, SETTINGS, STAMP, method=method)
                found.append((f"{path.stem}-{person or 'all'}-{method}", data))
    return found


def single_event_calendars() -> list[tuple[str, bytes]]:
    """One event per calendar, the shape of an e-mailed invite or a CalDAV PUT."""
    found = []
    for path in (DUTCH, ENGLISH):
        plan = load_plan(path)
        for event in events_for(plan, None, Stamping.of(SETTINGS, STAMP)):
            data = calendar_of(plan, [event], method="REQUEST").to_ical()
            found.append((f"{path.stem}-{event['SUMMARY']}", data))
    return found


CALENDARS = whole_calendars() + single_event_calendars()


@pytest.mark.parametrize("data", [data for _, data in CALENDARS], ids=[n for n, _ in CALENDARS])
def test_every_calendar_we_produce_is_clean(data: bytes) -> None:
    assert lint_calendar(data) == []


# -- the lint finds what it promises to find ----------------------------------------


@pytest.fixture
def clean() -> bytes:
    """Eva's calendar: meetings in Amsterdam, her check-ins in New York, one all-day deadline."""
    data = build_calendar(load_plan(DUTCH), "eva", SETTINGS, STAMP)
    assert lint_calendar(data) == []
    return data


def unfolded(data: bytes) -> bytes:
    return re.sub(rb"\r\n[ \t]", b"", data)


def test_lint_finds_bare_line_feeds(clean: bytes) -> None:
    problems = lint_calendar(clean.replace(b"\r\n", b"\n"))
    assert "the calendar does not end with CRLF" in problems
    assert any("bare CR or LF" in problem for problem in problems)


def test_lint_finds_lines_over_75_octets(clean: bytes) -> None:
    longest = max(len(line) for line in unfolded(clean).split(b"\r\n"))
    assert longest > MAX_OCTETS
    problems = lint_calendar(unfolded(clean))
    assert any(f"{longest} octets" in problem for problem in problems)


def test_lint_finds_a_local_dtstamp(clean: bytes) -> None:
    broken = clean.replace(b"DTSTAMP:20270102T083000Z", b"DTSTAMP:20270102T093000", 1)
    assert lint_calendar(broken) == [
        f"line {line_of(broken, b'DTSTAMP:20270102T093000')}: "
        "DTSTAMP 20270102T093000 is not UTC (…Z)"
    ]


def test_lint_finds_an_until_in_local_time(clean: bytes) -> None:
    assert b"UNTIL=20270501T035959Z" in clean
    broken = clean.replace(b"UNTIL=20270501T035959Z", b"UNTIL=20270430T235959")
    assert lint_calendar(broken) == [
        f"line {line_of(broken, b'RRULE:FREQ=WEEKLY')}: UNTIL=20270430T235959 is not UTC (…Z)"
    ]


def test_lint_finds_a_tzid_without_vtimezone(clean: bytes) -> None:
    broken = re.sub(
        rb"BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n.*?END:VTIMEZONE\r\n",
        b"",
        clean,
        flags=re.DOTALL,
    )
    problems = lint_calendar(broken)
    assert problems
    assert all("TZID=America/New_York has no VTIMEZONE" in problem for problem in problems)


def test_lint_finds_comma_separated_rdates(clean: bytes) -> None:
    broken = clean.replace(
        b"TZNAME:CEST\r\n", b"TZNAME:CEST\r\nRDATE:20270328T020000,20280326T020000\r\n", 1
    )
    assert lint_calendar(broken) == [
        f"line {line_of(broken, b'RDATE:')}: RDATE lists several values separated by commas"
    ]


def test_lint_finds_a_recurrence_id_of_another_type(clean: bytes) -> None:
    series = re.search(
        rb"BEGIN:VEVENT\r\n(?:(?!END:VEVENT).)*?RRULE:.*?END:VEVENT\r\n", clean, re.S
    )
    assert series is not None
    override = series.group(0).replace(
        b"RRULE:", b"RECURRENCE-ID;VALUE=DATE:20270315\r\nX-WAS-RRULE:", 1
    )
    broken = clean.replace(b"END:VCALENDAR", override + b"END:VCALENDAR")
    assert lint_calendar(broken) == [
        f"line {line_of(broken, b'RECURRENCE-ID')}: "
        "RECURRENCE-ID is a DATE, DTSTART a DATE-TIME with TZID"
    ]


def test_lint_finds_an_event_without_uid(clean: bytes) -> None:
    broken = re.sub(rb"UID:[^\r]*\r\n", b"", clean, count=1)
    problems = lint_calendar(broken)
    assert len(problems) == 1
    assert problems[0].endswith("VEVENT has no UID")


def line_of(data: bytes, start: bytes) -> int:
    """The number of the first physical line that starts with ``start``."""
    lines = data.split(b"\r\n")
    return next(n for n, line in enumerate(lines, 1) if line.startswith(start))
