"""An overdue deadline is reminded to owner and lead once, with or without check-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine import make_engine, moment, registered, run_until
from tests.support import minimal_data, plan_from
from worker.checkins.answers import mark_done


def plan_with_deadlines() -> dict[str, object]:
    data = minimal_data()  # no check-ins at all
    data["people"].append({"id": "ola", "name": "Ola", "side": "team", "email": "ola@team.example"})
    data["milestones"] = [
        {"id": "late", "title": "Report", "due": "2027-03-10", "owner": "ola"},
        {"id": "kept", "title": "Form", "due": "2027-03-12", "owner": "ola"},
    ]
    return data


def test_overdue_deadline_reminded_once_to_owner_and_lead(tmp_path: Path) -> None:
    plan = plan_from(plan_with_deadlines())
    engine = registered(make_engine(tmp_path), plan, moment("2027-01-04 00:00"))
    deliveries = run_until(engine, moment("2027-03-11 12:00"))
    mark_done(engine, plan, "kept", moment("2027-03-11 12:00"))
    deliveries += run_until(engine, moment("2027-03-31 00:00"))
    overdue = [d for d in deliveries if d.item.kind == "overdue" and d.state == "sent"]
    assert sorted((d.item.ref, d.item.recipient) for d in overdue) == [
        ("late", "ola"),
        ("late", "tim"),
    ]
    # The morning after the due date at the deadline time (09:00), as the recipient can be
    # reached then (no reachable hours given: at once).
    assert all(d.at == moment("2027-03-11 09:00") for d in overdue)
    checks = {i.ref: i.detail for i in engine.store.items(plan.id) if i.kind == "deadline_check"}
    assert checks == {"late": "late is overdue: reminding ola, tim", "kept": "kept: done in time"}


@pytest.mark.parametrize(
    ("days", "states"),
    # With the whole timeline in the due index the old check is cancelled; with a
    # 28-day horizon it was never scheduled (it lay beyond it): no overdue either way.
    [(0, ["cancelled", "due"]), (28, ["due"])],
)
def test_moving_a_deadline_moves_its_check(tmp_path: Path, days: int, states: list[str]) -> None:
    data = plan_with_deadlines()
    engine = make_engine(tmp_path, horizon_days=days)
    registered(engine, plan_from(data), moment("2027-01-04 00:00"))
    data["milestones"][0]["due"] = "2027-04-10"  # type: ignore[index]
    plan = plan_from(data)
    registered(engine, plan, moment("2027-01-05 00:00"))
    deliveries = run_until(engine, moment("2027-03-31 00:00"))
    assert not [d for d in deliveries if d.item.kind == "overdue" and d.item.ref == "late"]
    found = sorted(
        i.state
        for i in engine.store.items(plan.id)
        if i.kind == "deadline_check" and i.ref == "late"
    )
    assert found == states
