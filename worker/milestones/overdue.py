"""Overdue deadlines: past the due date, not marked done, reminded once to owner and lead.

Two ways in: ``deadline_passed``, the step of a ``deadline_check`` item at the end of a
deadline's due date, and the closing of any of the plan's check-in windows
(``worker/checkins/detection.py`` calls ``overdue_items``). Both make the same items
with the same keys, so each reminder goes out once. A plan without check-ins gets its
reminders from the ``deadline_check`` alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from config.plan import Person, Plan
from worker import timeline
from worker.checkins.risk import Overdue, overdue_deadlines, overdue_from
from worker.delivery.draft import StepResult
from worker.store import Item, records

if TYPE_CHECKING:
    from worker.engine import Engine


def any_past_due(plan: Plan, now: float) -> bool:
    return any(overdue_from(plan, m) <= now for m in plan.deadlines())


def overdue_items(plan: Plan, done: Mapping[str, Mapping[str, Any]], now: float) -> list[Item]:
    """The reminders of every overdue deadline, to its owner and the team lead."""
    found = []
    for late in overdue_deadlines(plan, done, now):
        for person in _owner_and_lead(plan, late):
            found.append(_overdue_item(plan, late, person, now))
    return found


def _owner_and_lead(plan: Plan, late: Overdue) -> list[Person]:
    """Who is reminded of an overdue deadline: its owner and the lead (not an erased one)."""
    owner = [late.milestone.owner] if late.milestone.owner else []
    people = [plan.person(pid) for pid in dict.fromkeys([*owner, plan.team.lead])]
    return [person for person in people if not person.erased]


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
    people = _owner_and_lead(plan, late[0])
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
