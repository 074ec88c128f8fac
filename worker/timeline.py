"""Plan -> occurrences: everything a plan schedules, when, for whom, on which channel.

Pure and deterministic: no clock, no I/O. The timing rules are docs/architecture.md §4:

- every time is computed in the recipient's own zone and kept in UTC;
- a reminder is due at its anchor minus the offset; day and week offsets are
  calendar days (same wall-clock time), hours and minutes exact;
- announcements (reminders) never give less notice than asked: outside
  reachable hours or on an away day they move *back* to the end of the latest
  reachable period; reactions and the kickoff move *forward*;
- a check-in window opens at ``checkins.at`` in the person's zone and closes
  ``grace`` later; none opens on an away day or in a pause.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import NamedTuple
from zoneinfo import ZoneInfo

from config import rhythm
from config.notation import Duration, Reachable
from config.plan import Milestone, Person, Plan

KINDS = (
    "kickoff",
    "meeting",
    "deadline",
    "reminder",
    "checkin_open",
    "checkin_close",
    "handover",
    "close",
)
KIND_ORDER = {kind: number for number, kind in enumerate(KINDS)}
# What the engine acts on; meetings, deadlines and the handover meeting live in calendars.
ACTIONS = ("kickoff", "reminder", "checkin_open", "checkin_close", "close")
HORIZON_DAYS = 400


class Occurrence(NamedTuple):
    """One thing the plan schedules (a named tuple: a plan makes thousands)."""

    key: str
    kind: str
    at: datetime  # UTC
    zone: str  # the recipient's zone, or the plan's for items without a recipient
    ref: str  # the milestone id, the window date, or kickoff / handover / close
    recipient: str | None = None
    channel: str | None = None
    offset: Duration | None = None  # for reminders: how long before the anchor

    @property
    def local(self) -> datetime:
        return self.at.astimezone(ZoneInfo(self.zone))

    def as_json(self) -> dict[str, str | None]:
        return {
            "key": self.key,
            "kind": self.kind,
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "local": self.local.isoformat(),
            "ref": self.ref,
            "recipient": self.recipient,
            "channel": self.channel,
        }


def occurrence_key(
    plan_id: str, kind: str, ref: str, recipient: str | None, channel: str | None, at: datetime
) -> str:
    """The stable key of one occurrence: the same inputs give the same key, always."""
    u = at if at.tzinfo is UTC else at.astimezone(UTC)
    return _key(plan_id, kind, ref, recipient, channel, _stamp(u))


def _stamp(u: datetime) -> str:
    # What strftime("%Y%m%dT%H%M%SZ") writes, at half its cost.
    return "%04d%02d%02dT%02d%02d%02dZ" % (u.year, u.month, u.day, u.hour, u.minute, u.second)  # noqa: UP031


def _key(
    plan_id: str, kind: str, ref: str, recipient: str | None, channel: str | None, stamp: str
) -> str:
    text = "|".join((plan_id, kind, ref, recipient or "", channel or "", stamp))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def local_moment(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time on a day in a zone, as a UTC instant (DST gaps normalised)."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


class Availability:
    """When one person can be reached: reachable hours, minus away days, in their zone."""

    def __init__(self, zone: ZoneInfo, reachable: Reachable | None, person: Person | None):
        self.zone = zone
        self.reachable = reachable
        self.person = person

    @classmethod
    def of(cls, plan: Plan, person: Person) -> Availability:
        return cls(plan.zone_of(person), person.reachable, person)

    def periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The reachable periods of a local day as UTC (start, end) pairs."""
        if self.person is not None and self.person.is_away(day):
            return []
        if self.reachable is None:
            minutes = [(0, 24 * 60)]
        else:
            minutes = [(p.start, p.end) for p in self.reachable.on(day.weekday())]
        return [(self._at(day, start), self._at(day, end)) for start, end in minutes]

    def _at(self, day: date, minutes: int) -> datetime:
        return local_moment(
            day + timedelta(days=minutes // 1440),
            time((minutes % 1440) // 60, minutes % 60),
            self.zone,
        )

    def last_reachable(self, moment: datetime, not_before: datetime) -> datetime | None:
        """The latest reachable instant at or before ``moment``, not before ``not_before``."""
        day = moment.astimezone(self.zone).date()
        if self.reachable is None and (self.person is None or not self.person.is_away(day)):
            return moment if moment >= not_before else None  # reachable all day
        floor = not_before.astimezone(self.zone).date() - timedelta(days=1)
        while day >= floor:
            for start, end in reversed(self.periods(day)):
                if start <= moment:
                    found = min(moment, end)
                    return found if found >= not_before else None
            day -= timedelta(days=1)
        return None

    def next_reachable(self, moment: datetime) -> datetime:
        """The earliest reachable instant at or after ``moment`` (itself if reachable)."""
        day = moment.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(HORIZON_DAYS):
            for start, end in self.periods(day):
                if end >= moment:
                    return max(moment, start)
            day += timedelta(days=1)
        return moment


class Compiler:
    """Builds the occurrences of one plan; with ``until``, only those due by then (the
    same occurrences, with the same keys, that the whole timeline has up to that instant)."""

    def __init__(self, plan: Plan, until: datetime | None = None) -> None:
        self.plan = plan
        self.until = until
        self.start = local_moment(plan.start, time(0), plan.zone)
        self.close = local_moment(plan.end + timedelta(days=1), time(0), plan.zone)
        self._stamps: dict[datetime, str] = {}

    @cached_property
    def zones(self) -> dict[str, ZoneInfo]:
        return {p.id: self.plan.zone_of(p) for p in self.plan.people}

    @cached_property
    def availability(self) -> dict[str, Availability]:
        return {p.id: Availability.of(self.plan, p) for p in self.plan.people}

    def occurrence(
        self,
        kind: str,
        at: datetime,
        ref: str,
        person: Person | None = None,
        channel: str | None = None,
        offset: Duration | None = None,
    ) -> Occurrence:
        zone = self.zones[person.id].key if person else self.plan.timezone
        recipient = person.id if person else None
        if at.tzinfo is not UTC:
            at = at.astimezone(UTC)
        stamp = self._stamps.get(at)
        if stamp is None:  # many occurrences share an instant (a zone's check-in windows)
            stamp = self._stamps[at] = _stamp(at)
        key = _key(self.plan.id, kind, ref, recipient, channel, stamp)
        return Occurrence(key, kind, at, zone, ref, recipient, channel, offset)

    def all(self) -> list[Occurrence]:
        found: dict[str, Occurrence] = {}
        until = self.until
        for item in self._everything():
            if until is None or item.at <= until:
                found.setdefault(item.key, item)
        return sorted(
            found.values(), key=lambda o: (o.at, KIND_ORDER[o.kind], o.ref, o.recipient or "")
        )

    def _everything(self) -> Iterator[Occurrence]:
        yield from self.kickoff()
        for milestone in self.plan.milestones:
            yield from self.milestone(milestone)
        yield from self.handover()
        yield from self.checkins()
        yield self.occurrence("close", self.close, "close")

    def kickoff(self) -> Iterator[Occurrence]:
        clock = self.plan.communication.deadline_time
        for person in self.plan.present():
            due = local_moment(self.plan.start, clock, self.plan.zone_of(person))
            at = self.availability[person.id].next_reachable(due)
            yield self.occurrence("kickoff", at, "kickoff", person, person.channels[0])

    def milestone(self, milestone: Milestone) -> Iterator[Occurrence]:
        anchor = milestone_anchor(self.plan, milestone)
        kind = "meeting" if milestone.is_meeting else "deadline"
        yield self.occurrence(kind, anchor, milestone.id)
        offsets = milestone.remind or self.plan.communication.remind_before
        yield from self.reminders(milestone.id, anchor, offsets, self.plan.reminded(milestone))

    def handover(self) -> Iterator[Occurrence]:
        if self.plan.handover is None:
            return
        anchor = self.plan.handover.at.replace(tzinfo=self.plan.zone).astimezone(UTC)
        yield self.occurrence("handover", anchor, "handover")
        offsets = self.plan.communication.remind_before
        yield from self.reminders("handover", anchor, offsets, self.plan.handover_recipients())

    def reminders(
        self, ref: str, anchor: datetime, offsets: list[Duration], people: list[Person]
    ) -> Iterator[Occurrence]:
        for person in people:
            local_anchor = anchor.astimezone(self.plan.zone_of(person))
            for offset in offsets:
                due = offset.before_utc(local_anchor)
                if due < self.start:
                    continue  # reminders due before the plan's start are not scheduled
                at = self.availability[person.id].last_reachable(due, self.start) or due
                yield self.occurrence("reminder", at, ref, person, person.channels[0], offset)

    def checkins(self) -> Iterator[Occurrence]:
        checkins = self.plan.checkins
        if checkins is None:
            return
        days = [(day, day.isoformat()) for day in checkin_days(self.plan)]
        days = [(day, name) for day, name in days if not checkins.paused(day)]
        if self.until is not None:
            # A local day starts at most 14 hours before its UTC day: a window opening on a
            # later day cannot be due by ``until`` (``all`` keeps exactly what is).
            last = self.until.date() + timedelta(days=1)
            days = [(day, name) for day, name in days if day <= last]
        # Windows open and close at the same instants for everyone in one zone.
        instants: dict[str, list[tuple[datetime, datetime]]] = {}
        for person in self.plan.checkin_people():
            zone = self.zones[person.id]
            if zone.key not in instants:
                opening = [local_moment(day, checkins.at, zone) for day, _ in days]
                instants[zone.key] = [
                    (opens, checkins.grace.after_utc(opens.astimezone(zone))) for opens in opening
                ]
            away = person.is_away
            for (day, name), (opens, closes) in zip(days, instants[zone.key], strict=True):
                if away(day):
                    continue
                yield self.occurrence("checkin_open", opens, name, person, person.channels[0])
                yield self.occurrence("checkin_close", closes, name, person)


def compile(plan: Plan, until: datetime | None = None) -> list[Occurrence]:
    """Every occurrence the plan schedules, in time order, with stable keys; with
    ``until``, those due at or before it."""
    return Compiler(plan, until).all()


def milestone_anchor(plan: Plan, milestone: Milestone) -> datetime:
    """A meeting's start, or ``deadline_time`` on a deadline's due date, in UTC."""
    if milestone.at is not None:
        return milestone.at.replace(tzinfo=plan.zone).astimezone(UTC)
    assert milestone.due is not None
    return local_moment(milestone.due, plan.communication.deadline_time, plan.zone)


# -- the check-in series -----------------------------------------------------------

# The rhythm lives in config, where validation counts windows with it.
checkin_rule = rhythm.checkin_rule
checkin_days = rhythm.checkin_days


def checkin_windows(plan: Plan, person: Person) -> list[datetime]:
    """The UTC instants at which this person's check-in windows open."""
    return [opens for _, opens in _windows(plan, person)]


def _windows(plan: Plan, person: Person) -> list[tuple[date, datetime]]:
    """Each window of this person: its local day and the UTC instant it opens."""
    assert plan.checkins is not None
    zone, clock = plan.zone_of(person), plan.checkins.at
    return [
        (day, local_moment(day, clock, zone))
        for day in checkin_days(plan)
        if not plan.checkins.paused(day) and not person.is_away(day)
    ]


def excused_days(plan: Plan, person: Person) -> list[date]:
    """Scheduled check-in days on which no window opens for this person (pause or away)."""
    if plan.checkins is None:
        return []
    return [day for day in checkin_days(plan) if plan.checkins.paused(day) or person.is_away(day)]


def reaction_time(plan: Plan, person: Person, now: float, defer_pauses: bool = True) -> float:
    """The recipient's next reachable moment; out of a plan pause when ``defer_pauses``."""
    availability = Availability.of(plan, person)
    moment = availability.next_reachable(datetime.fromtimestamp(now, UTC))
    if defer_pauses and plan.checkins is not None:
        zone = plan.zone_of(person)
        for _ in range(len(plan.checkins.pauses) + 1):
            pause = plan.checkins.paused(moment.astimezone(zone).date())
            if pause is None:
                break
            after = local_moment(pause.last + timedelta(days=1), time(0), zone)
            moment = availability.next_reachable(after)
    return moment.timestamp()
