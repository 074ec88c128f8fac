"""The plan's check-in rhythm: every person's windows and excused days (docs/architecture.md §7).

Pure: a plan in, a ``Rhythm`` out, computed once per plan text. The timeline says when
each window opens (a ``checkin_open`` item, ref = the local date it opens) and the grace
when it closes. A pause or an away day opens no window: it is excused, with the reason.
Nothing here reads the store.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from config.plan import Person, Plan
from worker import timeline


@dataclass(frozen=True)
class Slot:
    """One window as the plan schedules it: the local day it opens, and when (UTC seconds)."""

    person: str
    day: str
    opens: float
    closes: float


@dataclass(frozen=True)
class Rhythm:
    """Every person's windows and excused days, computed once per plan text."""

    slots: Mapping[str, tuple[Slot, ...]]
    excused: Mapping[str, tuple[tuple[str, float, str], ...]]  # (day, would open, why)
    days_off: Mapping[str, frozenset[date]]  # every pause and away day, for "silence"

    def slot(self, person_id: str, day: str) -> Slot | None:
        return next((s for s in self.slots.get(person_id, ()) if s.day == day), None)

    def latest(self, person_id: str, now: float) -> Slot | None:
        """The window open at ``now``, or the most recent one; None before the first."""
        slots = self.slots.get(person_id, ())
        index = bisect.bisect_right([s.opens for s in slots], now)
        return slots[index - 1] if index else None


_RHYTHMS: dict[tuple[str, str], Rhythm] = {}
_RHYTHM_LOCK = threading.Lock()


def rhythm(plan: Plan) -> Rhythm:
    """The plan's check-in rhythm; computed once per plan text (rrule expansion is not free).

    The web app's threads may all ask at once for a plan they have not seen: one
    computes it, the others wait for that instead of each computing it again.
    """
    key = (plan.id, plan.text)
    found = _RHYTHMS.get(key)
    if found is not None:
        return found
    if not plan.text:
        return _rhythm(plan)
    with _RHYTHM_LOCK:
        found = _RHYTHMS.get(key)
        if found is None:
            if len(_RHYTHMS) > 4096:
                _RHYTHMS.clear()
            found = _RHYTHMS[key] = _rhythm(plan)
    return found


def _rhythm(plan: Plan) -> Rhythm:
    slots: dict[str, tuple[Slot, ...]] = {}
    excused: dict[str, tuple[tuple[str, float, str], ...]] = {}
    days_off: dict[str, frozenset[date]] = {}
    if plan.checkins is None:
        return Rhythm(slots, excused, days_off)
    checkins = plan.checkins
    for person in plan.checkin_people():
        zone = plan.zone_of(person)
        found = []
        for opens in timeline.checkin_windows(plan, person):
            local = opens.astimezone(zone)
            closes = checkins.grace.after(local)
            found.append(Slot(person.id, local.date().isoformat(), opens.timestamp(), _ts(closes)))
        slots[person.id] = tuple(found)
        excused[person.id] = tuple(
            (
                day.isoformat(),
                timeline.local_moment(day, checkins.at, zone).timestamp(),
                _excuse(plan, person, day),
            )
            for day in timeline.excused_days(plan, person)
        )
        days_off[person.id] = frozenset(_days_off(plan, person))
    return Rhythm(slots, excused, days_off)


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _excuse(plan: Plan, person: Person, day: date) -> str:
    assert plan.checkins is not None
    pause = plan.checkins.paused(day)
    if pause is not None:
        return f"pause: {pause.reason}" if pause.reason else "pause"
    return "away"


def _days_off(plan: Plan, person: Person) -> Iterable[date]:
    assert plan.checkins is not None
    for period in [*plan.checkins.pauses, *person.away]:
        day = period.first
        while day <= period.last:
            yield day
            day += timedelta(days=1)
