"""An outcome nobody acted on: the worker died right after writing it down.

A worker that learns a send's outcome is unknown (or that it failed for good)
writes the outcome and what must follow from it (a re-send, a notice to the team
lead) in one step, and then acts on it. These tests leave the store exactly as a
worker killed between those two steps leaves it, then run the reaper: the lead
is told once, an e-mail is re-sent once, and a second reaper run changes nothing.
The crash test (tests/system/test_crash.py) does the same with real kills.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.engine import make_engine, moment, registered, run_due, run_until
from tests.http_sink import start_sink
from tests.support import minimal_data, plan_from
from worker.delivery import dispatch
from worker.engine import Engine
from worker.store import Claim, Item

pytestmark = pytest.mark.system


def _plan(channel: str) -> Any:
    data = minimal_data()
    data["communication"]["channels"]["mattermost"] = {"webhook": "env:FOLLOW_MM_HOOK"}
    data["people"][0]["channels"] = [channel]  # pia, the partner contact
    data["milestones"] = [
        {"id": "visit", "title": "Site visit", "at": "2027-02-10 10:00", "remind": ["1d"]}
    ]
    return plan_from(data)


def _dying_worker(engine: Engine, now: float, state: str, problem: str) -> Item:
    """Claim Pia's reminder, begin sending, record the outcome, and stop there."""
    claims = engine.store.claim(now, 100, 60)
    items = {i.key: i for i in engine.store.get_many([c.key for c in claims])}
    mine: Claim | None = None
    for claim in claims:
        item = items[claim.key]
        if item.kind == "reminder" and item.recipient == "pia" and mine is None:
            mine = claim
        else:
            engine.store.release(claim)
    assert mine is not None
    begun = engine.store.begin(mine, now, 60)
    assert begun is not None
    channel = begun.channel
    assert engine.store.finish(mine, state, now, "read timeout", channel=channel, follow_up=problem)
    found = engine.store.get(mine.key)
    assert found is not None
    return found


def _left_behind(tmp_path: Path, channel: str, state: str) -> tuple[Engine, Any, Item, float]:
    """Pia's reminder on ``channel`` as a killed worker left it, then two reaper runs."""
    plan = _plan(channel)
    engine = registered(make_engine(tmp_path), plan, moment("2027-01-04 00:00"))
    due = moment("2027-02-09 10:00")
    run_until(engine, due - 1)  # the kickoff, and the horizon moved on to the reminder
    item = _dying_worker(engine, due, state, state)
    dispatch.reap(engine, due + 1)
    dispatch.reap(engine, due + 2)  # again: nothing new
    return engine, plan, item, due


def _notices(engine: Engine, plan_id: str) -> list[Item]:
    return [i for i in engine.store.items(plan_id) if i.kind == "notice"]


@pytest.fixture
def sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    server = start_sink(tmp_path / "sink")
    monkeypatch.setenv("FOLLOW_MM_HOOK", f"{server.url}/hooks/follow-up-secret")
    yield server
    server.stop()


def test_an_unknown_outcome_left_behind_is_reported_once(tmp_path: Path, sink: Any) -> None:
    plan = _plan("mattermost")
    engine = registered(make_engine(tmp_path), plan, moment("2027-01-04 00:00"))
    due = moment("2027-02-09 10:00")
    run_until(engine, due - 1)  # the kickoff and the rest before the reminder
    before = len(sink.requests())
    item = _dying_worker(engine, due, "unknown", "unknown")
    assert _notices(engine, plan.id) == []  # the worker died before telling anyone
    dispatch.reap(engine, due + 5)
    (notice,) = _notices(engine, plan.id)
    assert notice.recipient == "tim"
    assert (notice.data["about"], notice.data["problem"]) == (item.key, "unknown")
    assert engine.store.follow_ups() == []
    dispatch.reap(engine, due + 10)  # again: nothing new
    assert len(_notices(engine, plan.id)) == 1
    sent = [d for d in run_due(engine, due + 10) if d.item.kind == "notice"]
    assert [d.state for d in sent] == ["sent"]
    # Mattermost does not de-duplicate: the reminder itself is not sent again.
    after = engine.store.get(item.key)
    assert after is not None and after.state == "unknown"
    assert len(sink.requests()) == before  # the notice went to Tim by e-mail


def test_an_unknown_email_left_behind_is_sent_again_once(tmp_path: Path, sink: Any) -> None:
    engine, plan, item, due = _left_behind(tmp_path, "email", "unknown")
    assert _notices(engine, plan.id) == []  # e-mail de-duplicates by Message-ID: re-sent
    again = engine.store.get(item.key)
    assert again is not None and (again.state, again.attempts) == ("due", 1)
    deliveries = run_due(engine, due + dispatch.RESEND_DELAY + 2)
    assert [d.state for d in deliveries if d.item.key == item.key] == ["sent"]
    assert engine.store.follow_ups() == []


def test_a_failure_left_behind_is_reported_once(tmp_path: Path, sink: Any) -> None:
    engine, plan, item, _ = _left_behind(tmp_path, "mattermost", "failed")
    (notice,) = _notices(engine, plan.id)
    assert (notice.data["about"], notice.data["problem"]) == (item.key, "failed")
    assert notice.data["detail"] == "read timeout"


def test_a_worker_that_lives_leaves_nothing_to_follow_up(tmp_path: Path, sink: Any) -> None:
    """The usual path: the worker acts on the outcome itself; the reaper finds nothing."""
    sink.script(200, delay=3.0)
    plan = _plan("mattermost")
    engine = registered(
        make_engine(tmp_path, http_read_timeout=0.5), plan, moment("2027-01-04 00:00")
    )
    due = moment("2027-02-09 10:00")
    deliveries = run_due(engine, due)
    unknown = [d for d in deliveries if d.state == "unknown"]
    assert {d.item.kind for d in unknown} == {"kickoff", "reminder"}  # both to Pia
    assert {d.item.recipient for d in unknown} == {"pia"}
    about = [n.data["about"] for n in _notices(engine, plan.id)]
    assert sorted(about) == sorted(d.item.key for d in unknown)
    assert engine.store.follow_ups() == []


def test_a_channel_that_fails_for_good_with_no_other_is_reported_once(
    tmp_path: Path, sink: Any
) -> None:
    """Pia has Mattermost only and its webhook is gone: one notice about the channel,
    the reminder failed, nothing left to follow up."""
    sink.script(404, body="no such hook")
    plan = _plan("mattermost")
    engine = registered(make_engine(tmp_path), plan, moment("2027-01-04 00:00"))
    run_until(engine, moment("2027-02-09 10:00"))
    notices = _notices(engine, plan.id)
    assert [(n.data["person"], n.data["problem"]) for n in notices] == [("pia", "channel_failed")]
    reminder = next(
        i for i in engine.store.items(plan.id) if i.kind == "reminder" and i.recipient == "pia"
    )
    assert reminder.state == "failed"
    assert engine.store.follow_ups() == []
