"""Where a plan stands: the read model of its check-ins, finished milestones and risk.

Reads the plan's rows, finished milestones and its meetings' calendar answers from the
store and hands them to the pure assessment in ``worker/checkins/risk.py``; writes
nothing. The web pages, the status read model and the handover report read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config.plan import Person, Plan
from worker.checkins.rhythm import rhythm
from worker.checkins.risk import (
    MeetingAnswers,
    Overdue,
    Risk,
    assess_person,
    assess_plan,
    calendar_reasons,
    overdue_deadlines,
    risk_of,
)
from worker.checkins.tracking import Tracking, group_rows, windows_of
from worker.checkins.windows import Window
from worker.inbound.attendance import meeting_answers
from worker.store import records

if TYPE_CHECKING:
    from worker.engine import Engine


@dataclass(frozen=True)
class Standing:
    """A plan's check-ins, finished milestones and risk at one moment."""

    windows: Mapping[str, list[Window]]  # person id -> windows so far, excused days included
    done: Mapping[str, Mapping[str, Any]]  # milestone id -> {"at", "by", "source"}
    overdue: list[Overdue]
    people: Mapping[str, Risk]
    risk: Risk  # the plan's: its people's, its overdue deadlines', its meetings' answers
    meetings: list[MeetingAnswers]  # who answered each meeting's invitation


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
    risk = assess_plan(plan, people, overdue)
    meetings = meeting_answers(engine, plan)
    extra = calendar_reasons(plan, meetings, now)
    if extra:
        risk = risk_of([*risk.reasons, *extra])
    return Standing(windows, done, overdue, people, risk, meetings)


def person_risk(engine: Engine, plan: Plan, person: Person, now: float) -> Risk:
    """One person's risk with its reasons, read fresh from the store."""
    store = engine.store
    rows = group_rows(store.records(records.checkin_rows(plan.id))).get(person.id, {})
    windows = windows_of(plan, person.id, rows, now, Tracking(store, plan))
    overdue = overdue_deadlines(plan, store.records(records.done_rows(plan.id)), now)
    off = rhythm(plan).days_off.get(person.id, frozenset())
    return assess_person(plan, person, windows, overdue, now, off)
