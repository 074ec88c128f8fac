"""The rolling horizon: the due index holds the next ``horizon_days`` of each plan.

A year-long plan schedules over a thousand items, and almost all of them wait for
months. Holding only the coming weeks keeps a store of ten thousand plans small and
registration fast (docs/scaling.md). The timeline is pure, so what lies beyond the
horizon can be built again at any time with the same keys: an engine item of kind
``horizon``, due halfway through the window, registers the stored plan again with the
horizon moved on (``worker.plans.register.extend``).

The horizon ends at midnight UTC ``horizon_days`` after the day of registration, so
registrations on one day agree on it; it never moves back (a shorter setting, or an
earlier clock, would cancel what is already scheduled). A plan registered with the
whole timeline (``horizon_days = 0``, or a store from before the horizon) keeps it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from config.plan import Plan
from worker import timeline
from worker.store import Item, PlanRecord

DAY = 86400.0
KIND = "horizon"


def horizon_end(days: int, now: float, previous: PlanRecord | None) -> float | None:
    """The end of what a registration at ``now`` schedules; None for the whole timeline."""
    if days == 0 or (previous is not None and previous.horizon is None):
        return None
    end = (now // DAY + days) * DAY
    if previous is not None and previous.horizon is not None:
        end = max(end, previous.horizon)
    return end


def last_due(plan: Plan) -> float:
    """An instant after which the plan schedules nothing: a day past its close and past
    every milestone and the handover (a deadline is checked the morning after it)."""
    anchors = [timeline.Compiler(plan).close]
    anchors += [timeline.milestone_anchor(plan, m) for m in plan.milestones]
    if plan.handover is not None:
        anchors.append(plan.handover.at.replace(tzinfo=plan.zone).astimezone(UTC))
    return (max(anchors) + timedelta(days=2)).timestamp()


def top_up(plan: Plan, end: float, days: int) -> Item | None:
    """The engine item that moves the horizon on, halfway through the window; None when
    the horizon already covers everything the plan schedules."""
    if end >= last_due(plan):
        return None
    due = end - max(1, days // 2) * DAY
    at = datetime.fromtimestamp(due, UTC)
    ends = datetime.fromtimestamp(end, UTC).date().isoformat()
    key = timeline.occurrence_key(plan.id, KIND, ends, None, None, at)
    return Item(key=key, plan_id=plan.id, kind=KIND, due=due, ref=ends, origin="engine")


def sync_grace(grace: float, now: float, previous: PlanRecord | None) -> float:
    """How far back a new item may be due and still be sent rather than expired.

    Items past the previous horizon were never in the due index because of it, not
    because the plan was registered late: when a top-up runs late (the workers were
    down), they are sent late like everything else that waited, not dropped."""
    if previous is None or previous.horizon is None:
        return grace
    return max(grace, now - previous.horizon)
