"""VTIMEZONE components built from yearly RRULEs (docs/architecture.md §5).

icalendar can write a VTIMEZONE itself, but it lists every transition as
comma-separated RDATEs, which some servers and Outlook misread. Here the
transitions are read from zoneinfo over the years a calendar covers and
written the way a calendar app writes them: one STANDARD and one DAYLIGHT
component with ``RRULE:FREQ=YEARLY;BYMONTH=..;BYDAY=..``, valid for those
years (the rule is written as starting in 1970; see ``RULE_SINCE``). When a zone's rule
changes inside those years, each transition becomes its own component with its
own DTSTART and no rule. A zone without transitions gets one STANDARD component.
"""

from __future__ import annotations

import calendar as month_table
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

from config.notation import WEEKDAY_CODES

# A yearly rule is written as starting in 1970, as calendar apps do. Starting it in
# the first year covered is as correct for our events, but vobject (and so Radicale)
# compares a zone with UTC over 2000-2020 and, finding Europe/London equal to UTC
# there, ignores the VTIMEZONE and reads every time as GMT.
RULE_SINCE = 1970
# Steps small enough that no zone has two transitions inside one (none in tzdata does).
_SCAN_STEP = timedelta(hours=6)


@dataclass(frozen=True)
class Transition:
    """One change of a zone's UTC offset, as RFC 5545 describes an onset."""

    onset: datetime  # local wall time before the change (TZOFFSETFROM), naive
    offset_from: timedelta
    offset_to: timedelta
    name: str
    daylight: bool

    @property
    def kind(self) -> tuple[timedelta, timedelta, str, bool]:
        """What must be equal for two onsets to share one yearly rule."""
        return (self.offset_from, self.offset_to, self.name, self.daylight)


@dataclass(frozen=True)
class Observance:
    """One STANDARD or DAYLIGHT component: an onset and, when it repeats, a yearly rule."""

    first: Transition
    byday: str | None  # "-1SU"; None for a one-off onset


def _offset(zone: ZoneInfo, instant: datetime) -> tuple[timedelta, str]:
    local = instant.astimezone(zone)
    return local.utcoffset() or timedelta(0), local.tzname() or zone.key


def _change_between(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The first second at which the offset differs from the one at ``before``."""
    known = _offset(zone, before)
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        middle = middle.replace(microsecond=0)
        if _offset(zone, middle) == known:
            before = middle
        else:
            after = middle
    return after


def _transition(zone: ZoneInfo, instant: datetime) -> Transition:
    offset_from, _ = _offset(zone, instant - timedelta(seconds=1))
    offset_to, name = _offset(zone, instant)
    onset = (instant + offset_from).replace(tzinfo=None)
    return Transition(onset, offset_from, offset_to, name, _into_daylight(zone, instant))


def _into_daylight(zone: ZoneInfo, instant: datetime) -> bool:
    """Whether the change starts the zone's higher offset of the year (summer time).

    tzdata gives Europe/Dublin and Africa/Casablanca a *negative* DST (winter,
    Ramadan); readers that convert from UTC with Python's dst() algorithm
    (dateutil, so vobject) pick the wrong side of the repeated hour unless the
    higher offset is the DAYLIGHT one. So leaving a negative DST counts as
    entering daylight time, like entering a positive one.
    """
    before = (instant - timedelta(seconds=1)).astimezone(zone).dst() or timedelta(0)
    after = instant.astimezone(zone).dst() or timedelta(0)
    return after > timedelta(0) or before < timedelta(0)


@lru_cache(maxsize=256)
def transitions(zone_name: str, first_year: int, last_year: int) -> tuple[Transition, ...]:
    """Every offset change of a zone from 1 January ``first_year`` to the end of ``last_year``."""
    zone = ZoneInfo(zone_name)
    moment = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    found = []
    while moment < end:
        following = moment + _SCAN_STEP
        if _offset(zone, moment) != _offset(zone, following):
            found.append(_transition(zone, _change_between(zone, moment, following)))
        moment = following
    return tuple(found)


def _weekday_positions(day: date) -> set[str]:
    """The BYDAY values that pick ``day`` in its month: ``2SU`` and, counting back, ``-3SU``."""
    code = WEEKDAY_CODES[day.weekday()]
    from_end = (month_table.monthrange(day.year, day.month)[1] - day.day) // 7 + 1
    return {f"{(day.day - 1) // 7 + 1}{code}", f"-{from_end}{code}"}


def _preferred(positions: set[str]) -> str:
    """``-1SU`` (last Sunday) first, the most common rule; then 1..4 from the start."""
    if any(p.startswith("-1") for p in positions):
        return next(p for p in positions if p.startswith("-1"))
    forward = sorted(p for p in positions if not p.startswith("-"))
    return forward[0] if forward else sorted(positions)[0]


def _yearly_rule(onsets: list[Transition], years: range) -> str | None:
    """The BYDAY shared by one onset in each year, or None when there is no such rule."""
    if [t.onset.year for t in onsets] != list(years):
        return None
    first = onsets[0].onset
    if any((t.onset.month, t.onset.time()) != (first.month, first.time()) for t in onsets):
        return None
    shared = set.intersection(*(_weekday_positions(t.onset.date()) for t in onsets))
    return _preferred(shared) if shared else None


@lru_cache(maxsize=256)
def observances(zone_name: str, first_year: int, last_year: int) -> tuple[Observance, ...]:
    """The components a VTIMEZONE needs to cover the years given."""
    years = range(first_year, last_year + 1)
    groups: dict[tuple[timedelta, timedelta, str, bool], list[Transition]] = {}
    for item in transitions(zone_name, first_year, last_year):
        groups.setdefault(item.kind, []).append(item)
    found: list[Observance] = []
    for onsets in groups.values():
        byday = _yearly_rule(onsets, years)
        if byday is not None:
            found.append(Observance(onsets[0], byday))
        else:
            found.extend(Observance(onset, None) for onset in onsets)
    if not found:
        found.append(Observance(_fixed(zone_name, first_year), None))
    return tuple(sorted(found, key=lambda o: o.first.onset))


def _fixed(zone_name: str, year: int) -> Transition:
    """The single observance of a zone that does not change in the years covered."""
    offset, name = _offset(ZoneInfo(zone_name), datetime(year, 1, 1, tzinfo=UTC))
    return Transition(datetime(year, 1, 1), offset, offset, name, False)


def _first_onset(onset: datetime, byday: str) -> datetime:
    """The day in ``RULE_SINCE`` that the yearly rule picks, at the onset's wall time."""
    weekday, count = WEEKDAY_CODES.index(byday[-2:]), int(byday[:-2])
    month = onset.month
    if count > 0:
        first = date(RULE_SINCE, month, 1)
        day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (count - 1))
    else:
        last = date(RULE_SINCE, month, month_table.monthrange(RULE_SINCE, month)[1])
        day = last - timedelta(days=(last.weekday() - weekday) % 7 + 7 * (-count - 1))
    return datetime.combine(day, onset.time())


def _component(observance: Observance) -> TimezoneStandard | TimezoneDaylight:
    onset = observance.first
    part = TimezoneDaylight() if onset.daylight else TimezoneStandard()
    if observance.byday is None:
        part.add("dtstart", onset.onset)
    else:
        part.add("dtstart", _first_onset(onset.onset, observance.byday))
    part.add("tzoffsetfrom", onset.offset_from)
    part.add("tzoffsetto", onset.offset_to)
    part.add("tzname", onset.name)
    if observance.byday is not None:
        part.add(
            "rrule", {"freq": "YEARLY", "bymonth": onset.onset.month, "byday": observance.byday}
        )
    return part


def vtimezone(zone_name: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for ``zone_name``, right from 1 January ``first_year`` to ``last_year``'s end.

    Start a year before the first event: the observance in force on an event's
    date must have its onset before it (a January meeting needs last October's).
    """
    timezone = Timezone()
    timezone.add("tzid", zone_name)
    for observance in observances(zone_name, first_year, last_year):
        timezone.add_component(_component(observance))
    return timezone
