"""bench/scale_plans.py makes valid, varied plans, and the burst plans fall due at 09:00."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bench import scale_plans
from worker import timeline
from worker.plans.register import items_for


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in scale_plans.SECRETS.items():
        monkeypatch.setenv(name, value)


def test_generated_plans_are_valid_and_varied() -> None:
    plans = scale_plans.make_plans(5)
    assert [plan.id for plan in plans] == [f"scale-{n:06d}" for n in range(5)]
    assert all(4 <= len(plan.people) <= 20 for plan in plans)
    assert all(5 <= len(plan.milestones) <= 20 for plan in plans)
    assert {plan.timezone for plan in plans} == {
        "Europe/Amsterdam",
        "Europe/London",
        "Europe/Berlin",
    }
    channels = {channel for plan in plans for person in plan.people for channel in person.channels}
    assert {"email", "slack", "telegram", "sms"} <= channels
    # The text is what the store keeps and workers parse again: a real plan file.
    assert all(f"id: {plan.id}" in plan.text for plan in plans)
    assert all(items_for(plan) for plan in plans)


def test_plan_data_is_the_same_for_the_same_number() -> None:
    assert scale_plans.plan_data(7) == scale_plans.plan_data(7)
    assert scale_plans.plan_data(7) != scale_plans.plan_data(8)


def test_burst_plan_opens_every_window_at_nine_in_amsterdam() -> None:
    monday = date(2027, 3, 1)
    plan = scale_plans.load(scale_plans.burst_data(0, "http://127.0.0.1:9/hook", monday))
    nine = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    first = [o for o in timeline.compile(plan) if o.at <= nine]
    assert len(first) == 10
    assert {o.kind for o in first} == {"checkin_open"}
    assert {o.at for o in first} == {nine}
    assert {o.channel for o in first} == {"webhook"}
