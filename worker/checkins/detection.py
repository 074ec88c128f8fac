"""Check-in windows, answers, misses, escalation and overdue deadlines (docs/architecture §7).

**Windows.** The timeline says when each person's windows open and close
(``checkin_open`` / ``checkin_close`` items, ref = the local date it opens).
A window is a row in the records collection ``checkins:<plan>``, id
``<person>/<YYYY-MM-DD>``, stored when something happens to it: an answer
(``answered`` inside the window, ``late`` after it closed) or its close without
one (``missed``). ``pending`` (open, no answer yet) and ``excused`` (a pause or
an away day: no window opened) are what the plan says, so they are derived and
follow a plan edit at once. A closed window whose close the engine never
tracked (it lay before the plan was registered), or whose request never reached
the person (it expired at registration, failed or was cancelled), is
``untracked`` and counts for nothing: it starts no ladder.

**Answers.** ``record_checkin`` is the one way in (web form, JSON API, CLI,
``simulate``'s CSV). An answer through a check-in link goes to the link's window
(late if it has closed); otherwise it answers the person's window open at
``now``, or, between windows, the most recent one, as a late answer. No answer
is taken for a window that has not opened yet, nor once the plan is closed. A
second answer to the same window changes that row (insert-once, then
compare-and-set), never adds one.

**Detection.** ``window_closed`` is the dispatch step of a ``checkin_close``
item; ``close_windows`` does the same for many at once (one read of each plan's
rows, one ``schedule`` call for all warnings). A closed window without an
answer becomes ``missed``; the streak is the run of missed windows since the
last answer (excused and untracked windows neither count nor break it), so
silence from day one counts, a pause excuses without resetting, and resuming
sends no backlog: only the level the streak reaches at this window is raised.
Warnings are engine items with deterministic keys (plan, person, streak start,
level, recipient), so however many sweepers evaluate the same windows, in any
order, each level goes out once per streak. ``stopping`` raises the dropout
warning at once to the last step's recipients.

**Reactions** move forward to the recipient's next reachable moment, and out
of a plan pause: no warning arrives during an agreed holiday.

**Overdue deadlines** (past the due date, not marked done) are reminded once to
owner and lead, checked whenever one of the plan's windows closes: check-ins are
the plan's heartbeat, so a plan without check-ins gets no overdue reminders.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from config.plan import Milestone, Person, Plan, Step
from worker import timeline
from worker.checkins.risk import (
    Overdue,
    Risk,
    assess_person,
    assess_plan,
    current_streak,
    overdue_deadlines,
    overdue_from,
)
from worker.checkins.windows import Window
from worker.delivery.draft import StepResult
from worker.plans.closed import closed_at
from worker.store import Item, Store, records

if TYPE_CHECKING:
    from worker.engine import Engine

log = logging.getLogger("pactkeeper.checkins")

STATUSES = ("on_track", "need_help", "blocked", "stopping")
STATES = ("pending", "answered", "late", "missed", "excused", "untracked")
NOTE_LIMIT = 2000
TRACKED = ("due", "claimed", "sending", "sent", "failed", "unknown")  # a close the engine runs
NEVER_SENT = ("expired", "failed", "cancelled")  # a request that never reached the person


class CheckinError(ValueError):
    """A check-in that cannot be recorded; the message says why, in plain words."""


class PlanClosed(CheckinError):
    """The plan was closed: its check-ins are history, and nothing is recorded any more."""


# -- the plan's rhythm ---------------------------------------------------------------------


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


# -- windows as people see them -----------------------------------------------------------


def _window(row: Mapping[str, Any]) -> Window:
    return Window(
        person=str(row["person"]),
        day=str(row["window"]),
        opens=float(row["opens"]),
        closes=float(row["closes"]),
        state=str(row["state"]),
        status=row.get("status"),
        note=str(row.get("note") or ""),
        answered_at=row.get("answered_at"),
        source=row.get("source"),
        answers=tuple((str(q), str(a)) for q, a in row.get("answers") or ()),
    )


Tracked = Callable[[str, str], bool]


class Tracking:
    """Whether a closed window without a row counts, looked up only if needed.

    Needed only for a closed window without a row. It counts (as missed) when the
    engine runs its ``checkin_close`` and its request (the ``checkin_open``) went or
    is on its way. It counts for nothing (``untracked``) when the close was never
    tracked (the plan was registered after it) or the request is known never to have
    reached the person (expired at registration, failed, cancelled): nobody can miss
    a request they never got. Both keys are computed from the window, so one small
    read answers it, however many items the plan has.
    """

    def __init__(self, store: Store, plan: Plan) -> None:
        self.store = store
        self.plan = plan
        self._known: dict[tuple[str, str], bool] = {}

    def __call__(self, person_id: str, day: str) -> bool:
        if (person_id, day) not in self._known:
            self.prefetch([(person_id, day)])
        return self._known[(person_id, day)]

    def prefetch(self, windows: Iterable[tuple[str, str]]) -> None:
        """Look up many windows in one round trip."""
        prefetch(self.store, [(self, windows)])

    def unknown(self, windows: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
        """The item keys to read for the windows not looked up yet."""
        wanted: dict[tuple[str, str], list[str]] = {}
        for window in windows:
            if window in self._known or window in wanted:
                continue
            keys = self._keys(*window)
            if keys is None:
                self._known[window] = False
            else:
                wanted[window] = list(keys)
        return wanted

    def learn(self, wanted: Mapping[tuple[str, str], list[str]], states: Mapping[str, str]) -> None:
        for window, (close, request) in wanted.items():
            self._known[window] = (
                states.get(close) in TRACKED and states.get(request) not in NEVER_SENT
            )

    def _keys(self, person_id: str, day: str) -> tuple[str, str] | None:
        """The keys of the window's ``checkin_close`` and ``checkin_open`` items."""
        slot = rhythm(self.plan).slot(person_id, day)
        if slot is None:
            return None
        channel = self.plan.person(person_id).channels[0]
        closes = datetime.fromtimestamp(slot.closes, UTC)
        opens = datetime.fromtimestamp(slot.opens, UTC)
        return (
            timeline.occurrence_key(self.plan.id, "checkin_close", day, person_id, None, closes),
            timeline.occurrence_key(self.plan.id, "checkin_open", day, person_id, channel, opens),
        )


def prefetch(store: Store, lookups: Sequence[tuple[Tracking, Iterable[tuple[str, str]]]]) -> None:
    """Look up the windows of many plans in one round trip."""
    wanted = [(tracking, tracking.unknown(windows)) for tracking, windows in lookups]
    keys = [key for _, found in wanted for pair in found.values() for key in pair]
    if not keys:
        return
    states = {item.key: item.state for item in store.get_many(keys)}
    for tracking, found in wanted:
        tracking.learn(found, states)


def windows_of(
    plan: Plan,
    person_id: str,
    rows: Mapping[str, Mapping[str, Any]],
    now: float,
    tracked: Tracked,
) -> list[Window]:
    """A person's windows that have opened by ``now`` (and excused days), in order.

    ``rows`` are the person's stored rows by day; rows for days the plan no
    longer schedules stay (they are history).
    """
    schedule = rhythm(plan)
    found: dict[str, Window] = {day: _window(row) for day, row in rows.items()}
    for slot in schedule.slots.get(person_id, ()):
        if slot.opens > now:
            break
        if slot.day not in found:
            found[slot.day] = _unstored(slot, now, tracked)
    for day, would_open, why in schedule.excused.get(person_id, ()):
        if would_open <= now and day not in found:
            found[day] = Window(person_id, day, would_open, would_open, "excused", excuse=why)
    return sorted(found.values(), key=lambda w: (w.opens, w.day))


def _unstored(slot: Slot, now: float, tracked: Tracked) -> Window:
    if now < slot.closes:
        state = "pending"
    else:
        state = "missed" if tracked(slot.person, slot.day) else "untracked"
    return Window(slot.person, slot.day, slot.opens, slot.closes, state)


def group_rows(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    """Stored rows by person, then by day."""
    grouped: dict[str, dict[str, Mapping[str, Any]]] = {}
    for key, row in rows.items():
        person_id, _, day = key.partition("/")
        grouped.setdefault(person_id, {})[day] = row
    return grouped


# -- where a plan stands ----------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """A plan's check-ins, finished milestones and risk at one moment."""

    windows: Mapping[str, list[Window]]  # person id -> windows so far, excused days included
    done: Mapping[str, Mapping[str, Any]]  # milestone id -> {"at", "by", "source"}
    overdue: list[Overdue]
    people: Mapping[str, Risk]
    risk: Risk


def standing(engine: Engine, plan: Plan, now: float) -> Standing:
    store = engine.store
    rows = group_rows(store.records(records.checkin_rows(plan.id)))
    done = store.records(records.done_rows(plan.id))
    states = Tracking(store, plan)
    overdue = overdue_deadlines(plan, done, now)
    windows: dict[str, list[Window]] = {}
    people: dict[str, Risk] = {}
    off = rhythm(plan).days_off
    for person in plan.checkin_people():
        windows[person.id] = windows_of(plan, person.id, rows.get(person.id, {}), now, states)
        people[person.id] = assess_person(
            plan, person, windows[person.id], overdue, now, off.get(person.id, frozenset())
        )
    return Standing(windows, done, overdue, people, assess_plan(plan, people, overdue))


# -- answers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckinResult:
    person: str
    name: str
    window: str
    state: str  # answered | late
    outcome: str  # recorded | updated | unchanged
    status: str
    done: tuple[str, ...] = ()
    warnings: int = 0

    def summary(self) -> str:
        verbs = {
            "recorded": "recorded",
            "updated": "updated",
            "unchanged": "was already recorded",
        }
        text = (
            f"{self.person}: check-in for the window of {self.window} {verbs[self.outcome]}"
            f" ({self.status}{', late' if self.state == 'late' else ''})"
        )
        if self.done:
            text += f"; marked done: {', '.join(self.done)}"
        if self.warnings:
            what = "dropout warning" if self.status == "stopping" else "request for help"
            whom = "1 person" if self.warnings == 1 else f"{self.warnings} people"
            text += f"; {what} sent to {whom}"
        return text


@dataclass(frozen=True)
class Answer:
    status: str
    note: str
    answers: tuple[tuple[str, str], ...]
    at: float
    source: str


def checking_person(plan: Plan, person_id: str) -> Person:
    """The person, if they check in on this plan; ``CheckinError`` otherwise."""
    try:
        person = plan.person(person_id)
    except KeyError:
        raise CheckinError(f"there is no person '{person_id}' in the plan '{plan.id}'") from None
    if plan.checkins is None:
        raise CheckinError(f"the plan '{plan.id}' has no check-ins")
    if person.id not in rhythm(plan).slots:  # ids: comparing pydantic models is slow
        raise CheckinError(f"{person.name} does not check in on the plan '{plan.id}'")
    return person


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise CheckinError(
            f"'{status}' is not a check-in status: use on_track, need_help, blocked or stopping"
        )
    return status


def record_checkin(
    engine: Engine,
    plan: Plan,
    person_id: str,
    now: float,
    status: str,
    note: str = "",
    done: Sequence[str] = (),
    source: str = "cli",
    answers: Sequence[tuple[str, str]] = (),
    *,
    window: str | None = None,
    recorded: float | None = None,
) -> CheckinResult:
    """Record one answer at ``now`` (see the module docstring).

    ``window`` (the local day it opens) is the window a check-in link is bound to; the
    answer goes there, late if it has closed. Without it, the answer goes to the window
    open at ``now``, or the most recent one. ``recorded`` is the real moment of recording
    when ``now`` is given by hand (``checkin --at``): no answer is taken for a window
    that has not opened by then, nor for a moment after it. Nothing is recorded once the
    plan is closed.
    """
    person = checking_person(plan, person_id)
    check_status(status)
    known = {m.id for m in plan.milestones}
    unknown = [m for m in done if m not in known]
    if unknown:
        raise CheckinError(f"there is no milestone '{unknown[0]}' in the plan '{plan.id}'")
    _refuse_closed(engine, plan)
    slot = _answered_window(plan, person, now, window, recorded)
    pairs = tuple((_clean(q), _clean(a)) for q, a in answers)
    answer = Answer(status, _clean(note), pairs, now, source)
    outcome, row = _answer(engine.store, plan.id, slot, answer)
    marked = tuple(m for m in dict.fromkeys(done) if mark_done(engine, plan, m, now, person.id))
    raised = 0
    if status == "stopping":
        raised = len(engine.store.schedule(_stopping(plan, person, slot, row, now)))
    elif status in HELP:
        raised = len(engine.store.schedule(_asking(plan, person, slot, status, row, now)))
    return CheckinResult(
        person.id, person.name, slot.day, str(row["state"]), outcome, status, marked, raised
    )


def _answered_window(
    plan: Plan, person: Person, now: float, window: str | None, recorded: float | None
) -> Slot:
    """The window an answer at ``now`` goes to; ``CheckinError`` when there is none yet."""
    schedule = rhythm(plan)
    if window is not None:
        slot = schedule.slot(person.id, window)
        if slot is None:
            raise CheckinError(f"the plan '{plan.id}' has no check-in window on {window}")
    else:
        slot = schedule.latest(person.id, now)
        if slot is None:
            raise CheckinError(f"no check-in window has opened yet for {person.name}")
    opened_by = now if recorded is None else min(now, recorded)
    if slot.opens > opened_by:
        raise CheckinError(
            f"the check-in window of {slot.day} for {person.name} has not opened yet"
        )
    if recorded is not None and now > recorded:
        when = datetime.fromtimestamp(now, plan.zone_of(person)).strftime("%Y-%m-%d %H:%M")
        raise CheckinError(f"{when} lies in the future: a check-in is recorded once it is given")
    return slot


def _refuse_closed(engine: Engine, plan: Plan) -> None:
    at = closed_at(engine, plan.id)
    if at is not None:
        day = datetime.fromtimestamp(at, plan.zone).date().isoformat()
        raise PlanClosed(
            f"the plan '{plan.id}' was closed on {day}: check-ins are no longer recorded"
        )


# Characters that would steer a terminal or reorder text (ESC, NUL, BEL and the other C0
# and C1 controls, the bidirectional overrides and isolates). Whitespace among them
# (newline, tab) is collapsed to a space below instead.
_STEERING = dict.fromkeys(
    [
        *(c for c in range(0x20) if not chr(c).isspace()),
        *range(0x7F, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]
)


def _clean(text: str) -> str:
    """One line of at most NOTE_LIMIT characters, without control characters, that any
    store can encode (a shell may pass undecodable bytes as lone surrogates)."""
    flat = " ".join(text.translate(_STEERING).split())[:NOTE_LIMIT]
    return flat.encode("utf-8", "replace").decode("utf-8")


def _answer(store: Store, plan_id: str, slot: Slot, answer: Answer) -> tuple[str, dict[str, Any]]:
    """Insert the row once; after that, compare-and-set on its revision."""
    where, key = records.checkin_rows(plan_id), records.checkin_row_id(slot.person, slot.day)
    fresh = _row(slot, "answered" if answer.at < slot.closes else "late", answer)
    for _ in range(20):
        old = store.put_record_once(where, key, fresh)
        if old is None:
            return "recorded", fresh
        revision = int(old.get("revision") or 0)
        if old["state"] in ("answered", "late"):
            if (old.get("status"), old.get("note"), _pairs(old)) == (
                answer.status,
                answer.note,
                answer.answers,
            ):
                return "unchanged", old
            # A second answer corrects the first; when it first came in stays.
            changes = {
                "status": answer.status,
                "note": answer.note,
                "answers": [list(pair) for pair in answer.answers],
                "source": answer.source,
                "changed_at": answer.at,
            }
            outcome = "updated"
        else:
            changes = {k: v for k, v in fresh.items() if k not in ("person", "window")}
            outcome = "recorded"
        changes["revision"] = revision + 1
        if store.update_record(where, key, {"revision": old.get("revision")}, changes, old):
            return outcome, {**old, **changes}
    raise RuntimeError(f"the check-in {key} kept changing; try again")


def _pairs(row: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(q), str(a)) for q, a in row.get("answers") or ())


def _row(slot: Slot, state: str, answer: Answer | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "person": slot.person,
        "window": slot.day,
        "opens": slot.opens,
        "closes": slot.closes,
        "state": state,
        "revision": 0,
    }
    if answer is not None:
        row.update(
            status=answer.status,
            note=answer.note,
            answers=[list(pair) for pair in answer.answers],
            answered_at=answer.at,
            changed_at=answer.at,
            source=answer.source,
        )
    return row


def mark_done(
    engine: Engine, plan: Plan, milestone_id: str, now: float, by: str | None = None
) -> bool:
    """Mark a milestone done; False when it already was. Unknown ids raise ``CheckinError``."""
    if milestone_id not in {m.id for m in plan.milestones}:
        raise CheckinError(f"there is no milestone '{milestone_id}' in the plan '{plan.id}'")
    record = {"at": now, "by": by}
    return engine.store.put_record(
        records.done_rows(plan.id), milestone_id, record, only_if_absent=True
    )


def open_milestones(plan: Plan, person: Person, done: Iterable[str]) -> list[Milestone]:
    """The milestones a person owns and has not marked done yet (for the check-in form)."""
    finished = set(done)
    return [m for m in plan.milestones if m.owner == person.id and m.id not in finished]


# -- closing windows -------------------------------------------------------------------


def window_closed(engine: Engine, item: Item, now: float) -> StepResult:
    """The dispatch step of one ``checkin_close`` item."""
    return close_windows(engine, [item], now)[0]


@dataclass
class _Batch:
    """What one call of ``close_windows`` learned and decided, per plan."""

    plan: Plan
    rows: dict[str, dict[str, Mapping[str, Any]]]
    states: Tracking
    done: Mapping[str, Mapping[str, Any]] | None = None
    reactions: list[Item] = field(default_factory=list)


def close_windows(engine: Engine, items: Sequence[Item], now: float) -> list[StepResult]:
    """Evaluate many closed windows in a few round trips, whatever the number of plans:
    one read of every plan's rows, one write of the missed rows, one ``schedule``."""

    details: dict[str, str] = {}
    decided: dict[str, list[str]] = {}
    reactions: list[Item] = []
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.plan_id, []).append(item)
    batches = _open_batches(engine, groups, details)
    _fill_missed(engine, batches, groups)
    for plan_id, batch in batches.items():
        for item in groups[plan_id]:
            details[item.key], new = _close_one(engine, batch, item, now)
            decided[item.key] = [reaction.key for reaction in new]
            reactions.extend(new)
        reactions.extend(_overdue(engine, batch, now))
    added = set(engine.store.schedule(reactions))
    results = []
    for item in items:
        detail = details[item.key]
        keys = decided.get(item.key, [])
        if keys and not any(key in added for key in keys):
            detail += " (already raised)"
        results.append(StepResult(detail))
    return results


def _open_batches(
    engine: Engine, groups: Mapping[str, Sequence[Item]], details: dict[str, str]
) -> dict[str, _Batch]:
    """The plans of the closing windows and their rows, read in one round trip."""
    plans, problems = engine.plans(list(groups))
    for plan_id, problem in problems.items():
        for item in groups[plan_id]:
            details[item.key] = f"not evaluated: {problem}"
    stored = engine.store.records_of([records.checkin_rows(plan_id) for plan_id in plans])
    return {
        plan_id: _Batch(
            plan, group_rows(stored[records.checkin_rows(plan_id)]), Tracking(engine.store, plan)
        )
        for plan_id, plan in plans.items()
    }


def _done(engine: Engine, batch: _Batch) -> Mapping[str, Mapping[str, Any]]:
    if batch.done is None:
        batch.done = engine.store.records(records.done_rows(batch.plan.id))
    return batch.done


def _close_one(engine: Engine, batch: _Batch, item: Item, now: float) -> tuple[str, list[Item]]:
    plan, person_id, day = batch.plan, item.recipient or "", item.ref
    slot = rhythm(plan).slot(person_id, day) if plan.checkins else None
    if slot is None:
        return f"the plan no longer has a window on {day} for {person_id}", []
    rows = batch.rows.setdefault(person_id, {})
    row = rows.get(day)
    if row is None and not batch.states(person_id, day):
        return f"not tracked: the check-in request of {day} never reached {person_id}", []
    if row is None:
        row = _store_missed(engine.store, plan.id, slot)
        rows[day] = row
    if row["state"] != "missed":
        return f"{row['state']} ({row.get('status')})", []
    person = plan.person(person_id)
    windows = windows_of(plan, person_id, rows, now, batch.states)
    run = current_streak([w for w in windows if w.opens <= slot.opens])
    if not run or run[-1].day != day:
        return "missed", []
    new = _ladder(plan, person, run, slot, now)
    names = ", ".join(dict.fromkeys(str(w.recipient) for w in new))
    level = f"; level {new[0].data['level']} to {names}" if new else ""
    return f"missed ({len(run)} in a row since {run[0].day}){level}", new


def _fill_missed(
    engine: Engine, batches: Mapping[str, _Batch], groups: Mapping[str, Sequence[Item]]
) -> None:
    """A ``missed`` row for every closing window without one whose request went: one round
    trip to learn which requests went, one to write the rows."""
    unanswered: dict[str, list[Slot]] = {}
    for plan_id, batch in batches.items():
        if batch.plan.checkins is None:
            continue
        for item in groups[plan_id]:
            slot = rhythm(batch.plan).slot(item.recipient or "", item.ref)
            if slot is not None and slot.day not in batch.rows.get(slot.person, {}):
                unanswered.setdefault(plan_id, []).append(slot)
    lookups = [
        (batches[pid].states, [(s.person, s.day) for s in ss]) for pid, ss in unanswered.items()
    ]
    prefetch(engine.store, lookups)
    wanted: dict[str, dict[str, tuple[Slot, dict[str, Any]]]] = {}
    for plan_id, slots in unanswered.items():
        for slot in slots:
            if batches[plan_id].states(slot.person, slot.day):  # no miss for a request never sent
                missed = _row(slot, "missed")
                wanted.setdefault(plan_id, {})[records.checkin_row_id(slot.person, slot.day)] = (
                    slot,
                    missed,
                )
    if not wanted:
        return
    rows = {
        records.checkin_rows(pid): {rid: row for rid, (_, row) in ws.items()}
        for pid, ws in wanted.items()
    }
    written = engine.store.put_records(rows, only_if_absent=True)
    for plan_id, entries in wanted.items():
        done = set(written.get(records.checkin_rows(plan_id), []))
        for rid, (slot, missed) in entries.items():
            # Not written: an answer came in at the very moment the window closed.
            stored = (
                missed
                if rid in done
                else engine.store.get_record(records.checkin_rows(plan_id), rid)
            )
            batches[plan_id].rows.setdefault(slot.person, {})[slot.day] = stored or missed


def _store_missed(store: Store, plan_id: str, slot: Slot) -> Mapping[str, Any]:
    missed = _row(slot, "missed")
    if store.put_record(
        records.checkin_rows(plan_id),
        records.checkin_row_id(slot.person, slot.day),
        missed,
        only_if_absent=True,
    ):
        return missed
    # An answer came in at the very moment the window closed.
    return (
        store.get_record(
            records.checkin_rows(plan_id), records.checkin_row_id(slot.person, slot.day)
        )
        or missed
    )


def person_risk(engine: Engine, plan: Plan, person: Person, now: float) -> Risk:
    """One person's risk with its reasons, read fresh from the store."""
    store = engine.store
    rows = group_rows(store.records(records.checkin_rows(plan.id))).get(person.id, {})
    windows = windows_of(plan, person.id, rows, now, Tracking(store, plan))
    overdue = overdue_deadlines(plan, store.records(records.done_rows(plan.id)), now)
    off = rhythm(plan).days_off.get(person.id, frozenset())
    return assess_person(plan, person, windows, overdue, now, off)


def _any_past_due(plan: Plan, now: float) -> bool:
    return any(overdue_from(plan, m) <= now for m in plan.deadlines())


# -- the ladder --------------------------------------------------------------------------


def rung_people(plan: Plan, step: Step, silent: Person) -> list[Person]:
    """Who one step of the ladder reaches; the silent person only through ``self``."""
    found: dict[str, Person] = {}
    for name in step.notify:
        for person in plan.rung(name, silent):
            if name == "self" or person.id != silent.id:
                found.setdefault(person.id, person)
    return list(found.values())


def _ladder(plan: Plan, person: Person, run: list[Window], slot: Slot, now: float) -> list[Item]:
    assert plan.checkins is not None
    steps = plan.checkins.escalate
    found = []
    for level, step in enumerate(steps, start=1):
        if step.after != len(run):
            continue
        for recipient in rung_people(plan, step, person):
            found.append(
                _warning(
                    plan,
                    person,
                    recipient,
                    level=level,
                    dropout=level == len(steps),
                    origin=run[0].day,
                    facts={
                        "trigger": "silence",
                        "window": slot.day,
                        "since": run[0].day,
                        "count": len(run),
                        "missed": [w.day for w in run],
                    },
                    now=now,
                )
            )
    return found


def _stopping(
    plan: Plan, person: Person, slot: Slot, row: Mapping[str, Any], now: float
) -> list[Item]:
    """``stopping`` raises the dropout warning at once, to the last step's people."""
    assert plan.checkins is not None
    steps = plan.checkins.escalate
    return [
        _warning(
            plan,
            person,
            recipient,
            level=len(steps),
            dropout=True,
            origin=f"stopping:{slot.day}",
            facts={"trigger": "stopping", "window": slot.day, "note": row.get("note") or ""},
            now=now,
            defer_pauses=False,
        )
        for recipient in rung_people(plan, steps[-1], person)
        if recipient.id != person.id
    ]


# An answer that asks for someone: who hears of it at once (not the person who asked).
HELP = {"need_help": ("lead",), "blocked": ("lead", "contact")}


def _asking(
    plan: Plan, person: Person, slot: Slot, status: str, row: Mapping[str, Any], now: float
) -> list[Item]:
    """``need_help`` goes to the team lead, ``blocked`` also to the partner contact; the
    lead who asks is heard by the partner contact. Once per window and status: answering
    again changes nothing, turning "need help" into "blocked" is news."""
    ids = [plan.team.lead if name == "lead" else plan.partner.contact for name in HELP[status]]
    if all(pid == person.id for pid in ids):
        ids = [plan.partner.contact if person.id != plan.partner.contact else plan.team.lead]
    facts = {"trigger": status, "window": slot.day, "note": row.get("note") or ""}
    return [
        _warning(
            plan,
            person,
            recipient,
            level=0,
            dropout=False,
            origin=f"help:{slot.day}:{status}",
            facts=facts,
            now=now,
            defer_pauses=False,
            template="help_request",
        )
        for recipient in (plan.person(pid) for pid in dict.fromkeys(ids))
        if recipient.id != person.id
    ]


def _warning(
    plan: Plan,
    person: Person,
    recipient: Person,
    level: int,
    dropout: bool,
    origin: str,
    facts: dict[str, Any],
    now: float,
    defer_pauses: bool = True,
    template: str | None = None,
) -> Item:
    if template is None:
        template = (
            ("dropout_warning" if dropout else "lead_warning")
            if recipient.id != person.id
            else "nudge"
        )
    key_text = "|".join((plan.id, "warning", person.id, origin, str(level), recipient.id))
    return Item(
        key=hashlib.sha256(key_text.encode()).hexdigest()[:24],
        plan_id=plan.id,
        kind="warning",
        due=timeline.reaction_time(plan, recipient, now, defer_pauses),
        ref=str(facts["window"]),
        recipient=recipient.id,
        channel=recipient.channels[0],
        origin="engine",
        data={
            "about": person.id,
            "level": level,
            "dropout": dropout,
            "template": template,
            "raised": now,
            **facts,
        },
    )


# -- overdue deadlines -------------------------------------------------------------------


def _overdue(engine: Engine, batch: _Batch, now: float) -> list[Item]:
    plan = batch.plan
    if not _any_past_due(plan, now):
        return []
    found = []
    for late in overdue_deadlines(plan, _done(engine, batch), now):
        owner = [late.milestone.owner] if late.milestone.owner else []
        for person_id in dict.fromkeys([*owner, plan.team.lead]):
            found.append(_overdue_item(plan, late, plan.person(person_id), now))
    return found


def deadline_passed(engine: Engine, item: Item, now: float) -> StepResult:
    """The step at the end of a deadline's due date: not done yet -> remind owner and lead.

    Plans without check-ins get their overdue reminders from here; with check-ins,
    a closing window may have raised the same ones already (same keys: sent once).
    """

    plan = engine.plan(item.plan_id)
    done = engine.store.records(records.done_rows(plan.id))
    late = [o for o in overdue_deadlines(plan, done, now) if o.milestone.id == item.ref]
    if not late:
        return StepResult(f"{item.ref}: done in time")
    owner = [late[0].milestone.owner] if late[0].milestone.owner else []
    people = [plan.person(pid) for pid in dict.fromkeys([*owner, plan.team.lead])]
    engine.store.schedule([_overdue_item(plan, late[0], person, now) for person in people])
    return StepResult(f"{item.ref} is overdue: reminding {', '.join(p.id for p in people)}")


def _overdue_item(plan: Plan, late: Overdue, person: Person, now: float) -> Item:
    key_text = "|".join((plan.id, "overdue", late.milestone.id, late.due.isoformat(), person.id))
    return Item(
        key=hashlib.sha256(key_text.encode()).hexdigest()[:24],
        plan_id=plan.id,
        kind="overdue",
        due=timeline.reaction_time(plan, person, now),
        ref=late.milestone.id,
        recipient=person.id,
        channel=person.channels[0],
        origin="engine",
        # simulate's log.jsonl knows overdue reminders as reminders (docs/architecture.md §3).
        data={
            "milestone": late.milestone.id,
            "due": late.due.isoformat(),
            "log_kind": "reminder",
            "zone": plan.zone_of(person).key,
        },
    )
