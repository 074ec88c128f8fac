"""The rolling horizon changes what the due index holds, never what is delivered or shown.

Each plan runs from registration to the end twice or more, in stores of their own: once
with the whole timeline in the due index (``horizon_days = 0``), once with a horizon of
28 days and once with one of 3 days (a top-up every day or two). Every delivery and
every step (its key, kind, recipient, time, outcome, channel and subject) is the same,
the top-up steps aside; so is ``status`` at moments along the way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.load import load_plan
from config.plan import Plan
from tests.engine import make_engine, moment, run_due, run_until
from tests.support import DUTCH, ENGLISH, minimal_data, plan_from
from worker.engine import Delivery, Engine
from worker.plans import horizon
from worker.plans.register import items_for, register
from worker.status import plan_status

DAY = 86400.0


def trace(deliveries: list[Delivery]) -> list[tuple[Any, ...]]:
    return [
        (d.item.key, d.item.kind, d.item.recipient, d.at, d.state, d.channel, d.subject)
        for d in deliveries
        if d.item.kind != horizon.KIND
    ]


def engine_for(tmp: Path, days: int) -> Engine:
    folder = tmp / f"horizon-{days}"
    return make_engine(folder, horizon_days=days)


def run_plan(engine: Engine, plan: Plan, start: float, end: float) -> list[Delivery]:
    register(engine, plan, start)
    return run_until(engine, end)


@pytest.mark.parametrize("path", [DUTCH, ENGLISH], ids=["nl", "en"])
def test_every_delivery_is_the_same_with_and_without_the_horizon(
    tmp_path: Path, path: Path
) -> None:
    plan = load_plan(path)
    start = plan_start(plan) - 10 * DAY
    end = horizon.last_due(plan) + 10 * DAY
    whole = trace(run_plan(engine_for(tmp_path, 0), plan, start, end))
    assert len(whole) > 50
    for days in (28, 3):
        assert trace(run_plan(engine_for(tmp_path, days), plan, start, end)) == whole, days


def test_a_top_up_that_runs_late_sends_late_like_the_rest(tmp_path: Path) -> None:
    """Workers down for three weeks: what fell due meanwhile goes out when they are back,
    whether it was in the due index already or beyond the horizon (never expired)."""
    plan = load_plan(DUTCH)
    start = plan_start(plan) - 2 * DAY
    back = start + 30 * DAY
    end = horizon.last_due(plan) + 10 * DAY
    traces = []
    for days in (0, 7):
        engine = engine_for(tmp_path, days)
        register(engine, plan, start)
        done = run_due(engine, back)  # everything that waited, at once
        done += run_until(engine, end)
        traces.append(trace(done))
        assert not engine.store.items(plan.id, ("expired",))
    assert traces[0] == traces[1]


def test_status_is_the_same_with_and_without_the_horizon(tmp_path: Path) -> None:
    plan = load_plan(DUTCH)
    start = plan_start(plan) - 3 * DAY
    engines = {days: engine_for(tmp_path, days) for days in (0, 28)}
    for engine in engines.values():
        register(engine, plan, start)
    for weeks in (0, 3, 9):
        now = start + weeks * 7 * DAY
        shown = []
        for engine in engines.values():
            run_until(engine, now)
            report = plan_status(engine, plan.id, now)
            shown.append({k: report[k] for k in ("counts", "next", "risk", "checkins")})
        assert shown[0] == shown[1], weeks


def test_the_due_index_holds_only_the_window(tmp_path: Path) -> None:
    plan = load_plan(DUTCH)
    start = plan_start(plan)
    engine = engine_for(tmp_path, 28)
    register(engine, plan, start)
    stored = engine.store.items(plan.id)
    end = (start // DAY + 28) * DAY
    assert engine.store.plan(plan.id).horizon == end  # type: ignore[union-attr]
    assert all(i.due <= end for i in stored if i.kind != horizon.KIND)
    whole = items_for(plan)
    assert {i.key for i in stored if i.origin == "plan"} == {i.key for i in whole if i.due <= end}
    assert len(stored) < len(whole)
    [top_up] = [i for i in stored if i.kind == horizon.KIND]
    assert top_up.due == end - 14 * DAY and top_up.origin == "engine"


def test_the_horizon_never_moves_back_and_a_whole_timeline_stays_whole(tmp_path: Path) -> None:
    plan = plan_from(minimal_data())
    start = plan_start(plan)
    engine = engine_for(tmp_path, 28)
    register(engine, plan, start)
    first = engine.store.plan(plan.id).horizon  # type: ignore[union-attr]
    engine.settings.horizon_days = 7
    register(engine, plan, start + DAY)
    assert engine.store.plan(plan.id).horizon == first  # type: ignore[union-attr]
    assert not engine.store.items(plan.id, ("cancelled",))
    whole = engine_for(tmp_path, 0)
    register(whole, plan, start)
    whole.settings.horizon_days = 28
    register(whole, plan, start + DAY)
    assert whole.store.plan(plan.id).horizon is None  # type: ignore[union-attr]
    assert not [i for i in whole.store.items(plan.id) if i.kind == horizon.KIND]


def test_registrations_on_one_day_share_one_top_up(tmp_path: Path) -> None:
    plan = plan_from(minimal_data())
    engine = engine_for(tmp_path, 28)
    day = (plan_start(plan) // DAY + 1) * DAY  # the horizon is counted in UTC days
    for hours in (0, 5, 23):
        register(engine, plan, day + hours * 3600)
    steps = [i for i in engine.store.items(plan.id) if i.kind == horizon.KIND]
    assert len(steps) == 1


def test_a_closed_plan_is_not_topped_up(tmp_path: Path) -> None:
    from worker.handover.close import close_plan

    plan = load_plan(DUTCH)
    engine = engine_for(tmp_path, 28)
    start = plan_start(plan)
    register(engine, plan, start)
    close_plan(engine, plan, start + DAY)
    done = run_until(engine, horizon.last_due(plan) + 10 * DAY)
    assert not [d for d in done if d.item.kind != horizon.KIND and d.at > start + 2 * DAY]


def plan_start(plan: Plan) -> float:
    return moment(f"{plan.start.isoformat()} 00:00", plan.zone)
