"""The check-in rhythm: the RRULE a plan's check-ins follow and the days it gives.

Both validation and the timeline need the days: validation to refuse check-ins
that can never open a window, and a plan that schedules too much; the timeline
to schedule them. The calendar feeds carry the same RRULE text, so engine and
calendars agree by construction.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date, datetime, time
from functools import lru_cache

from dateutil.rrule import rrulestr

from config.notation import WEEKDAY_CODES
from config.plan import Checkins, DateRange, Person, Plan

# The Gregorian calendar repeats every 400 years, weekdays and leap days included.
CYCLE_YEARS = 400
LAST_YEAR = 9998  # dateutil expands up to 9999; a year of margin


def checkin_rule(checkins: Checkins, start: date) -> str:
    """The check-in rhythm as an RRULE (without UNTIL), the one source for timeline and ics."""
    every = checkins.every
    weekday = WEEKDAY_CODES[checkins.on if checkins.on is not None else start.weekday()]
    if every == "daily":
        return "FREQ=DAILY"
    if every == "weekly":
        return f"FREQ=WEEKLY;BYDAY={weekday}"
    if every == "biweekly":
        return f"FREQ=WEEKLY;INTERVAL=2;BYDAY={weekday}"
    if every == "monthly":
        if checkins.on is not None:
            return f"FREQ=MONTHLY;BYDAY=1{weekday}"
        return f"FREQ=MONTHLY;BYMONTHDAY={start.day if start.day <= 28 else -1}"
    return every


def checkin_days(plan: Plan) -> list[date]:
    """Every scheduled check-in day of the plan, pauses and away days included."""
    if plan.checkins is None:
        return []
    return list(series(checkin_rule(plan.checkins, plan.start), plan.start, plan.end))


@lru_cache(maxsize=256)
def series(rule: str, start: date, end: date) -> tuple[date, ...]:
    """The days a rule gives from ``start`` through ``end``: expanded once, asked per person.

    dateutil looks for the next day a rule gives until it finds one, up to the
    year 9999: a rule that never fires (BYMONTH=2;BYMONTHDAY=30) took 7 seconds.
    The span is moved by whole 400-year cycles to just before that year, where
    the calendar is the same, so the search ends at most one cycle after it.
    """
    shift = cycle_shift(end)
    first = datetime.combine(start.replace(year=start.year + shift), time(0))
    last = datetime.combine(end.replace(year=end.year + shift), time(23, 59))
    found = rrulestr(rule, dtstart=first).between(first, last, inc=True)
    if not found:
        return ()
    # Restart the rule at its first day, so a calendar with that DTSTART expands the same.
    days = rrulestr(rule, dtstart=found[0]).between(found[0], last, inc=True)
    return tuple(moment.date().replace(year=moment.year - shift) for moment in days)


def cycle_shift(end: date) -> int:
    """The whole 400-year cycles that move ``end`` into the last cycle before year 9999."""
    return CYCLE_YEARS * ((LAST_YEAR - end.year) // CYCLE_YEARS)


def open_days(plan: Plan) -> list[date]:
    """The check-in days outside every pause, in order."""
    if plan.checkins is None:
        return []
    return [day for day in checkin_days(plan) if not plan.checkins.paused(day)]


def window_count(days: list[date], person: Person) -> int:
    """How many of ``days`` (sorted) open a window for ``person``: those not away.

    Counted by bisection over the away periods, so a plan with many people and
    ten years of daily check-ins is counted in milliseconds.
    """
    count = len(days)
    for first, last in _merged(person.away):
        count -= bisect_right(days, last) - bisect_left(days, first)
    return count


def _merged(periods: list[DateRange]) -> list[tuple[date, date]]:
    """Overlapping away periods as one, so no day is taken off twice."""
    merged: list[tuple[date, date]] = []
    for period in sorted(periods, key=lambda p: p.first):
        if merged and period.first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], period.last))
        else:
            merged.append((period.first, period.last))
    return merged
