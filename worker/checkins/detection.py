"""Closing check-in windows: the batch step of ``checkin_close`` (docs/architecture.md §7).

``window_closed`` is the dispatch step of a ``checkin_close`` item; ``close_windows``
does the same for many at once (one read of each plan's rows, one write of the missed
rows, one ``schedule`` call for all warnings). A closed window without an answer
becomes ``missed``; the streak is the run of missed windows since the last answer
(excused and untracked windows neither count nor break it), so silence from day one
counts, a pause excuses without resetting, and resuming sends no backlog. The ladder
(``worker/checkins/ladder.py``) decides which warnings that raises.

Overdue deadlines are checked here too, whenever one of the plan's windows closes:
check-ins are the plan's heartbeat (``worker/milestones/overdue.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from config.plan import Plan
from worker.checkins.answers import window_row
from worker.checkins.ladder import silence_warnings
from worker.checkins.rhythm import Slot, rhythm
from worker.checkins.risk import current_streak
from worker.checkins.tracking import Tracking, group_rows, prefetch, windows_of
from worker.delivery.draft import StepResult
from worker.milestones.overdue import any_past_due, overdue_items
from worker.store import Item, Store, records

if TYPE_CHECKING:
    from worker.engine import Engine


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
    new = silence_warnings(plan, person, run, slot, now)
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
                missed = window_row(slot, "missed")
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
    missed = window_row(slot, "missed")
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


def _overdue(engine: Engine, batch: _Batch, now: float) -> list[Item]:
    if not any_past_due(batch.plan, now):  # no read of the done rows when nothing is due
        return []
    return overdue_items(batch.plan, _done(engine, batch), now)
