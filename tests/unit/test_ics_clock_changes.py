"""Times that fall in a clock change, as the calendar builder writes them.

A wall time in the spring gap does not exist and one in the repeated autumn hour
exists twice; RFC 5545 and the timeline (zoneinfo, fold=0) read both with the offset
before the change, calendar clients do not. So a meeting's DTSTART or DTEND at such a
time is written in UTC, and a check-in series keeps its rule only up to the first such
day, with every window from there an RDATE in UTC (tests/system/test_real_clients.py
has ical.js and libical read them). In Amsterdam in 2027: 02:00-03:00 does not exist on
28 March and is repeated on 31 October (first at +02:00, then at +01:00).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import recurring_ical_events
from icalendar import Calendar

from config.plan import Plan
from config.settings import Settings
from connectors.calendar.ics import significant_hash
from tests.calendar_lint import lint_calendar
from tests.support import minimal_data, plan_from
from worker.calendar.events import (
    Stamping,
    build_calendar,
    checkin_series,
    handover_event,
    in_clock_change,
)
from worker.timeline import checkin_windows, compile

STAMP = datetime(2027, 1, 2, 8, 30, tzinfo=UTC)
SETTINGS = Settings(uid_domain="calendar.test.example", organizer_email="org@acme.example")
STAMPING = Stamping.of(SETTINGS, STAMP)


def plan_with(**changes: Any) -> Plan:
    data = minimal_data()
    data.update(start="2027-03-01", end="2027-11-30")
    data.update(changes)
    return plan_from(data)


def meeting(at: str, duration: str) -> Plan:
    return plan_with(milestones=[{"id": "m", "title": "M", "at": at, "duration": duration}])


def weekly_at(clock: str, **changes: Any) -> Plan:
    checkins = {"every": "weekly", "on": "sunday", "at": clock, "who": "team"}
    return plan_with(checkins={**checkins, **changes.pop("checkins", {})}, **changes)


def ics_text(plan: Plan) -> str:
    data = build_calendar(plan, None, SETTINGS, STAMP)
    assert lint_calendar(data) == []
    return re.sub(r"\r\n[ \t]", "", data.decode())


def lines(text: str, name: str) -> list[str]:
    """The ``name`` properties of the events (not of the VTIMEZONEs before them)."""
    events = text[text.index("BEGIN:VEVENT") :]
    return [line for line in events.split("\r\n") if re.match(f"{name}[;:]", line)]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def meeting_times(plan: Plan) -> tuple[datetime, datetime]:
    """DTSTART and DTEND as recurring-ical-events reads them, in UTC."""
    calendar = Calendar.from_ical(build_calendar(plan, None, SETTINGS, STAMP))
    [event] = recurring_ical_events.of(calendar).between(date(2027, 1, 1), date(2028, 1, 1))
    return event["DTSTART"].dt.astimezone(UTC), event["DTEND"].dt.astimezone(UTC)


def timeline_start(plan: Plan) -> datetime:
    [start] = [o.at for o in compile(plan) if o.kind in ("meeting", "handover")]
    return start


def series_instants(plan: Plan) -> list[datetime]:
    calendar = Calendar.from_ical(build_calendar(plan, "tim", SETTINGS, STAMP))
    found = recurring_ical_events.of(calendar).between(date(2027, 1, 1), date(2028, 1, 1))
    return sorted(e["DTSTART"].dt.astimezone(UTC) for e in found if "Check-in" in e["SUMMARY"])


def test_a_meeting_in_the_repeated_hour_is_written_in_utc() -> None:
    """02:10 on 31 October is the first 02:10 (+02:00), as the timeline has it."""
    plan = meeting("2027-10-31 02:10", "30m")
    text = ics_text(plan)
    assert lines(text, "DTSTART") == ["DTSTART:20271031T001000Z"]
    assert lines(text, "DTEND") == ["DTEND:20271031T004000Z"]
    assert meeting_times(plan) == (utc("2027-10-31 00:10"), utc("2027-10-31 00:40"))
    assert timeline_start(plan) == utc("2027-10-31 00:10")


def test_a_meeting_that_ends_in_the_repeated_hour_keeps_its_zone_for_the_start() -> None:
    plan = meeting("2027-10-31 01:30", "1h")
    text = ics_text(plan)
    assert lines(text, "DTSTART") == ["DTSTART;TZID=Europe/Amsterdam:20271031T013000"]
    assert lines(text, "DTEND") == ["DTEND:20271031T003000Z"]
    assert meeting_times(plan) == (utc("2027-10-30 23:30"), utc("2027-10-31 00:30"))


def test_a_handover_from_the_first_into_the_second_repeated_hour_is_written_in_utc() -> None:
    """02:30 to 02:30: the wall clock reads the same, an hour apart."""
    plan = plan_with(handover={"at": "2027-10-31 02:30", "duration": "1h", "recipients": ["pia"]})
    event = handover_event(plan, STAMPING)
    assert event["DTSTART"].to_ical() == b"20271031T003000Z"
    assert event["DTEND"].to_ical() == b"20271031T013000Z"
    assert "TZID" not in event["DTSTART"].params and "TZID" not in event["DTEND"].params
    assert timeline_start(plan) == utc("2027-10-31 00:30")


def test_a_meeting_in_the_spring_gap_is_written_in_utc_with_the_offset_before_it() -> None:
    """02:30 on 28 March does not exist: at +01:00 it is 01:30 UTC (03:30 summer time)."""
    plan = meeting("2027-03-28 02:30", "1h")
    text = ics_text(plan)  # the lint: DTEND's TZID has its VTIMEZONE, DTSTART has none
    assert lines(text, "DTSTART") == ["DTSTART:20270328T013000Z"]
    assert lines(text, "DTEND") == ["DTEND;TZID=Europe/Amsterdam:20270328T043000"]
    assert "TZID:Europe/Amsterdam" in text
    assert meeting_times(plan) == (utc("2027-03-28 01:30"), utc("2027-03-28 02:30"))
    assert timeline_start(plan) == utc("2027-03-28 01:30")


def test_a_time_outside_a_clock_change_keeps_its_zone() -> None:
    text = ics_text(meeting("2027-03-28 03:00", "1h"))
    assert lines(text, "DTSTART") == ["DTSTART;TZID=Europe/Amsterdam:20270328T030000"]
    assert lines(text, "DTEND") == ["DTEND;TZID=Europe/Amsterdam:20270328T040000"]


def test_in_clock_change_is_true_for_missing_and_repeated_wall_times_only() -> None:
    zone = plan_with().zone
    for wall, expected in [
        (datetime(2027, 3, 28, 2, 30), True),
        (datetime(2027, 10, 31, 2, 0), True),
        (datetime(2027, 10, 31, 2, 59), True),
        (datetime(2027, 3, 28, 3, 0), False),
        (datetime(2027, 10, 31, 3, 0), False),
        (datetime(2027, 10, 31, 1, 59), False),
    ]:
        assert in_clock_change(wall.replace(tzinfo=zone)) is expected, wall


def test_a_checkin_series_in_a_clock_change_is_a_rule_until_then_and_rdates_in_utc() -> None:
    plan = weekly_at("02:30")
    text = ics_text(plan)  # the lint: one RDATE a line, UNTIL in UTC
    assert lines(text, "RRULE") == ["RRULE:FREQ=WEEKLY;UNTIL=20270321T013000Z;BYDAY=SU"]
    rdates = lines(text, "RDATE")
    assert rdates[:2] == ["RDATE:20270328T013000Z", "RDATE:20270404T003000Z"]
    assert "RDATE:20271031T003000Z" in rdates  # the first 02:30 of 31 October
    assert lines(text, "EXDATE") == []
    windows = checkin_windows(plan, plan.person("tim"))
    assert len(rdates) == len(windows) - 3  # 7, 14 and 21 March come from the rule
    assert series_instants(plan) == windows


def test_a_series_whose_first_window_is_in_a_clock_change_starts_in_utc() -> None:
    plan = weekly_at("02:30", start="2027-03-28")
    series = checkin_series(plan, plan.person("tim"), STAMPING)
    assert series is not None
    assert series["DTSTART"].to_ical() == b"20270328T013000Z"
    # ical.js leaves out the DTSTART of an event with RDATEs only: a rule of one.
    assert series["RRULE"].to_ical() == b"FREQ=DAILY;COUNT=1"
    assert series_instants(plan) == checkin_windows(plan, plan.person("tim"))


def test_the_rule_stops_before_a_clock_change_on_a_paused_day_too() -> None:
    """libical moves the week after a gap even when the gap's occurrence is an EXDATE."""
    plan = weekly_at("02:30", checkins={"pauses": [{"from": "2027-03-28", "to": "2027-03-28"}]})
    text = ics_text(plan)
    assert lines(text, "RRULE") == ["RRULE:FREQ=WEEKLY;UNTIL=20270321T013000Z;BYDAY=SU"]
    assert lines(text, "RDATE")[0] == "RDATE:20270404T003000Z"
    assert series_instants(plan) == checkin_windows(plan, plan.person("tim"))


def test_excused_days_before_the_clock_change_stay_exdates() -> None:
    plan = weekly_at("02:30", checkins={"pauses": [{"from": "2027-03-14", "to": "2027-03-14"}]})
    text = ics_text(plan)
    assert lines(text, "EXDATE") == ["EXDATE;TZID=Europe/Amsterdam:20270314T023000"]
    assert series_instants(plan) == checkin_windows(plan, plan.person("tim"))


def test_a_series_outside_a_clock_change_has_its_rule_to_the_end_and_no_rdate() -> None:
    text = ics_text(weekly_at("03:00"))
    assert lines(text, "RRULE") == ["RRULE:FREQ=WEEKLY;UNTIL=20271130T225959Z;BYDAY=SU"]
    assert lines(text, "RDATE") == []


def test_significant_hash_sees_a_changed_rdate() -> None:
    """An away day after the clock change takes out one RDATE: a change the person gets."""
    plan = weekly_at("02:30")
    people = minimal_data()["people"]
    people[1]["away"] = [{"from": "2027-06-06", "to": "2027-06-06"}]
    away = weekly_at("02:30", people=people)
    before = checkin_series(plan, plan.person("tim"), STAMPING)
    after = checkin_series(away, away.person("tim"), STAMPING)
    assert before is not None and after is not None
    assert (
        len(lines(before.to_ical().decode(), "RDATE"))
        == len(lines(after.to_ical().decode(), "RDATE")) + 1
    )
    assert significant_hash(before) != significant_hash(after)


def test_a_rule_is_cut_before_a_clock_change_it_only_passes_to_choose_a_day() -> None:
    """The last Sunday of each month at 02:30 in Sydney: none is a change day, but the
    first Sunday of October (the gap) is among the days BYSETPOS chooses from."""
    people = minimal_data()["people"]
    people[1]["timezone"] = "Australia/Sydney"
    rule = "FREQ=MONTHLY;BYDAY=SU;BYSETPOS=-1"
    checkins = {"every": rule, "at": "02:30", "who": "team"}
    plan = plan_with(people=people, checkins=checkins, start="2027-05-01")
    windows = checkin_windows(plan, plan.person("tim"))
    assert not any(
        in_clock_change(moment.astimezone(plan.zone_of(plan.person("tim")))) for moment in windows
    )
    text = ics_text(plan)
    # 30 May to 26 September from the rule; 31 October and 28 November as instants.
    assert lines(text, "RRULE") == [
        "RRULE:FREQ=MONTHLY;UNTIL=20270925T163000Z;BYDAY=SU;BYSETPOS=-1"
    ]
    assert lines(text, "RDATE") == ["RDATE:20271030T153000Z", "RDATE:20271127T153000Z"]
    assert series_instants(plan) == windows
