"""The small notations a plan is written in (config/notation.py), and phone numbers.

What a coordinator may type and what it means, what is refused and what the
refusal says. Phone numbers live on the person model (config/plan.py) and are
checked here through it.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from config.notation import (
    MAX_DURATION_DAYS,
    Duration,
    Period,
    parse_date,
    parse_datetime,
    parse_duration,
    parse_reachable,
    parse_time,
    parse_weekday,
    parse_zone,
)
from config.plan import Person

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
HOUR, MINUTE = 3600, 60

# -- durations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days", "seconds"),
    [
        ("90m", 0, 90 * MINUTE),
        ("2h", 0, 2 * HOUR),
        ("3d", 3, 0),
        ("1w", 7, 0),
        ("1h30m", 0, 90 * MINUTE),
        ("1d 2h", 1, 2 * HOUR),
        (" 2D ", 2, 0),
        ("45s", 0, 45),
        ("P3D", 3, 0),
        ("PT2H", 0, 2 * HOUR),
        ("P1DT12H", 1, 12 * HOUR),
        ("P2W", 14, 0),
        ("PT1H30M", 0, 90 * MINUTE),
        ("p1d", 1, 0),
        (f"{MAX_DURATION_DAYS}d", MAX_DURATION_DAYS, 0),
    ],
)
def test_a_duration_short_or_iso(text: str, days: int, seconds: int) -> None:
    assert parse_duration(text) == Duration(days, seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("90", "'90' has no unit: write 90m, 90h or 90d"),
        (90, "'90' has no unit"),
        (True, "expected a duration like 90m"),
        (None, "expected a duration like 90m"),
        ([1, "d"], "expected a duration like 90m"),
        ("twee dagen", "'twee dagen' is not a duration"),
        ("10x", "'10x' is not a duration"),
        ("2d and 3h", "is not a duration"),
        ("P1M", "months and years have no fixed length"),
        ("P1Y", "months and years have no fixed length"),
        ("P", "is not an ISO 8601 duration"),
        ("PT", "is not an ISO 8601 duration"),
        ("P1DT", "is not an ISO 8601 duration"),
        ("P1H", "is not an ISO 8601 duration"),
        (f"{MAX_DURATION_DAYS + 1}d", "longer than ten years"),
        ("P523W", "longer than ten years"),
        ("99999999999999999999h", "longer than ten years"),
    ],
)
def test_a_duration_that_is_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_duration(value)


@pytest.mark.parametrize(
    ("duration", "text", "ical"),
    [
        (Duration(7, 0), "1w", "P1W"),
        (Duration(3, 0), "3d", "P3D"),
        (Duration(1, 2 * HOUR), "1d2h", "P1DT2H"),
        (Duration(0, 90 * MINUTE), "1h30m", "PT1H30M"),
        (Duration(14, MINUTE), "2w1m", "P14DT1M"),
        (Duration(0, 0), "0m", "PT0S"),
    ],
)
def test_a_duration_written_back(duration: Duration, text: str, ical: str) -> None:
    assert (duration.text(), str(duration), duration.ical()) == (text, text, ical)


@given(
    st.builds(
        Duration,
        days=st.integers(min_value=0, max_value=MAX_DURATION_DAYS - 1),
        seconds=st.integers(min_value=0, max_value=86_399),
    )
)
def test_a_duration_reads_back_as_itself(duration: Duration) -> None:
    assert parse_duration(duration.text()) == duration
    assert parse_duration(duration.ical()) == duration


def test_days_are_calendar_days_and_hours_are_exact_across_dst() -> None:
    # Summer time starts in Amsterdam on Sunday 28 March 2027 (02:00 -> 03:00).
    monday = datetime(2027, 3, 29, 9, 0, tzinfo=AMSTERDAM)
    saturday = datetime(2027, 3, 27, 9, 0, tzinfo=AMSTERDAM)
    assert Duration(days=2).before(monday) == saturday
    assert Duration(days=2).after(saturday) == monday
    # 48 exact hours before Monday 09:00 CEST is Saturday 08:00 CET.
    assert Duration(seconds=48 * HOUR).before(monday) == saturday.replace(hour=8)
    assert Duration(seconds=48 * HOUR).after(saturday) == monday.replace(hour=10)


def test_shifting_needs_a_zone() -> None:
    with pytest.raises(ValueError, match="zone-aware"):
        Duration(days=1).before(datetime(2027, 3, 29, 9, 0))


# -- times, dates, date-times ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("09:00", time(9)), ("9:00", time(9)), (" 17:30 ", time(17, 30)), ("23:59", time(23, 59))],
)
def test_a_time(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("value", ["24:00", "9", "09:60", "9.00", "09:00:00", "", 600, None])
def test_a_time_that_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_time(value)


def test_a_date() -> None:
    assert parse_date("2027-01-11") == date(2027, 1, 11)
    assert parse_date(" 2999-12-31 ") == date(2999, 12, 31)
    assert parse_date(date(2027, 1, 11)) == date(2027, 1, 11)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2027-02-30", "is not a date in the calendar"),
        ("11-01-2027", "use YYYY-MM-DD"),
        ("2027-1-11", "use YYYY-MM-DD"),
        ("0001-01-11", "use a year from 1900 to 2999"),
        ("9999-12-31", "use a year from 1900 to 2999"),
        (datetime(2027, 1, 11, 10, 0), "without a time"),
        (20270111, "use YYYY-MM-DD"),
    ],
)
def test_a_date_that_is_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_date(value)


@pytest.mark.parametrize("text", ["2027-01-11 10:00", "2027-01-11T10:00", " 2027-01-11 10:00 "])
def test_a_date_and_time_is_local_and_naive(text: str) -> None:
    assert parse_datetime(text) == datetime(2027, 1, 11, 10, 0)


@pytest.mark.parametrize("value", ["2027-01-11", "2027-01-11 24:00", "10:00", None])
def test_a_date_and_time_that_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match=r"date|time"):
        parse_datetime(value)


# -- time zones --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Europe/Amsterdam", "Europe/Amsterdam"),
        (" America/New_York ", "America/New_York"),
        ("Asia/Singapore", "Asia/Singapore"),
        ("UTC", "UTC"),
    ],
)
def test_a_zone(text: str, expected: str) -> None:
    assert parse_zone(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Europe/Amsterdm", "unknown time zone 'Europe/Amsterdm'"),
        ("europe/amsterdam", "unknown time zone"),
        ("Europe", "unknown time zone 'Europe'"),
        ("Etc", "unknown time zone 'Etc'"),
        ("CET+1", "unknown time zone"),
        ("localtime", "'localtime' is not an IANA time zone"),
        ("posixrules", "is not an IANA time zone"),
        ("right/UTC", "is not an IANA time zone"),
        ("../../etc/passwd", "is not an IANA time zone"),
        ("/usr/share/zoneinfo/UTC", "is not an IANA time zone"),
        ("", "expected an IANA time zone"),
        (1, "expected an IANA time zone"),
    ],
)
def test_a_zone_that_is_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_zone(value)


# -- reachable hours -------------------------------------------------------------------

WORKDAY = (Period(9 * 60, 17 * 60),)


@pytest.mark.parametrize(
    "text", ["Mon-Fri 09:00-17:00", "ma-vr 09:00-17:00", "maandag-vrijdag 9:00-17:00"]
)
def test_reachable_hours_in_english_and_dutch(text: str) -> None:
    reachable = parse_reachable(text)
    assert [reachable.on(day) for day in range(7)] == [WORKDAY] * 5 + [(), ()]
    assert reachable.text == text


def test_reachable_hours_in_groups() -> None:
    reachable = parse_reachable("ma-do 09:00-17:00; vr 09:00-12:00")
    assert reachable.on(3) == WORKDAY
    assert reachable.on(4) == (Period(9 * 60, 12 * 60),)
    assert reachable.on(5) == ()


def test_reachable_days_wrap_round_the_weekend() -> None:
    reachable = parse_reachable("za-ma 10:00-12:00")
    assert [bool(reachable.on(day)) for day in range(7)] == [True] + [False] * 4 + [True] * 2


def test_reachable_hours_without_days_mean_every_day() -> None:
    reachable = parse_reachable("09:00-12:00,13:00-17:00")
    for day in range(7):
        assert reachable.on(day) == (Period(540, 720), Period(780, 1020))


def test_reachable_days_without_hours_mean_the_whole_day() -> None:
    reachable = parse_reachable("ma,wo,vr")
    assert [reachable.on(day) for day in range(3)] == [(Period(0, 1440),), (), (Period(0, 1440),)]


def test_overlapping_periods_merge_and_24_00_ends_a_day() -> None:
    assert parse_reachable("mon 09:00-12:00; mon 11:00-14:00").on(0) == (Period(540, 840),)
    assert parse_reachable("sun 20:00-24:00").on(6) == (Period(1200, 1440),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ma-vr 9-17", "'9' is not a time: use HH:MM"),
        ("mon-fri 17:00-09:00", "the end must come after the start"),
        ("mon-fri 09:00", "is not a time range"),
        ("mo-fr 09:00-17:00", "'mo' is not a day"),
        ("monday to friday 9 to 5", "write days and times"),
        ("mon-fri 09:00-17:00;", "write days and times"),
        ("", "expected reachable hours"),
        (None, "expected reachable hours"),
    ],
)
def test_reachable_hours_that_are_refused(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_reachable(text)


@pytest.mark.parametrize(
    ("text", "day"),
    [("mon", 0), ("Monday", 0), ("ma", 0), ("MAANDAG", 0), ("do", 3), ("thu", 3), ("zo", 6)],
)
def test_a_weekday(text: str, day: int) -> None:
    assert parse_weekday(text) == day


def test_a_weekday_that_is_refused() -> None:
    with pytest.raises(ValueError, match=r"use mon\.\.sun or ma\.\.zo"):
        parse_weekday("mo")


# -- phone numbers (on the person) -----------------------------------------------------


def person(phone: object) -> Person:
    return Person.model_validate({"id": "ana", "name": "Ana", "side": "partner", "phone": phone})


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("+31612345678", "+31612345678"),
        ("+31 6 1234 5678", "+31612345678"),
        ("+1 (212) 555-0100", "+12125550100"),
        ("+44.7700.900123", "+447700900123"),
    ],
)
def test_a_phone_number_in_e164(written: str, stored: str) -> None:
    assert person(written).phone == stored


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0612345678", "is not an E.164 phone number"),
        ("+0612345678", "is not an E.164 phone number"),
        ("+3161234567890123", "is not an E.164 phone number"),
        ("+31 6 CALL ME", "is not an E.164 phone number"),
        (31612345678, 'write the phone number as quoted text in E.164 form, like "\\+31612345678"'),
        (["+31612345678"], "expected a phone number in E.164 form"),
    ],
)
def test_a_phone_number_that_is_refused(value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        person(value)
