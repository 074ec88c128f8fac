"""Check-ins under careless or hostile use: the future, a closed plan, control characters.

The plan and the clock are those of ``tests.unit.test_checkins``: Tom checks in on
Mondays at 09:00 in Amsterdam from 4 January 2027, windows close two days later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.engine import make_engine, moment, run_until
from tests.support import dump, plan_from, run_cli
from tests.unit.test_checkins import REGISTERED, plan_data
from worker.checkins.answers import CheckinError, PlanClosed, record_checkin
from worker.checkins.standing import standing
from worker.engine import Engine
from worker.handover.close import close_plan
from worker.plans.register import register
from worker.run.cli import print_status
from worker.status import plan_status
from worker.store.base import Store
from worker.store.records import checkin_rows as collection

STEERING = "\x1b[31mRED\x00 \x07bell \u202eevil\u2066 \x9bx"


@pytest.fixture
def engine(store: Store, tmp_path: Path) -> Engine:
    found = make_engine(tmp_path, store)
    register(found, plan_from(plan_data()), moment(REGISTERED))
    return found


def warnings(engine: Engine) -> list[str]:
    return [i.key for i in engine.store.items("test-plan") if i.kind == "warning"]


# -- #23: no answer for a window that has not opened ------------------------------------


def test_a_checkin_at_a_future_moment_is_refused_and_records_nothing(engine: Engine) -> None:
    """``checkin --at`` a week ahead: the window open then has not opened at the real moment."""
    plan = engine.plan("test-plan")
    real = moment("2027-01-05 10:00")
    with pytest.raises(CheckinError, match="window of 2027-01-11 for Tom has not opened yet"):
        record_checkin(engine, plan, "tom", moment("2027-01-12 10:00"), "on_track", recorded=real)
    with pytest.raises(CheckinError, match="window of 2027-01-11 for Tom has not opened yet"):
        record_checkin(engine, plan, "tom", real, "stopping", window="2027-01-11")
    with pytest.raises(CheckinError, match="2027-01-05 11:00 lies in the future"):
        record_checkin(engine, plan, "tom", real + 3600, "on_track", recorded=real)
    assert engine.store.records(collection("test-plan")) == {}
    assert warnings(engine) == []
    past = record_checkin(
        engine, plan, "tom", moment("2027-01-04 10:00"), "on_track", recorded=real
    )
    assert (past.window, past.state) == ("2027-01-04", "answered")


# -- #15: nothing is recorded once the plan is closed ----------------------------------


def test_after_the_close_record_checkin_refuses_and_raises_no_warning(engine: Engine) -> None:
    plan = engine.plan("test-plan")
    run_until(engine, moment("2027-01-05 12:00"))
    close_plan(engine, plan, moment("2027-01-05 12:00"))
    before = warnings(engine)
    for status in ("stopping", "blocked", "on_track"):
        with pytest.raises(PlanClosed, match="'test-plan' was closed on 2027-01-05"):
            record_checkin(engine, plan, "tom", moment("2027-01-05 13:00"), status, "after")
    assert engine.store.records(collection("test-plan")) == {}
    assert warnings(engine) == before


def test_the_checkin_command_refuses_a_closed_plan_in_one_line(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(dump(plan_data()))
    env = {"PACTKEEPER_DATA_DIR": str(tmp_path / "data")}
    assert run_cli("sync", str(plan), **env).returncode == 0
    assert run_cli("close", str(plan), **env).returncode == 0
    refused = run_cli("checkin", str(plan), "tom", "--status", "stopping", **env)
    assert refused.returncode == 1
    assert (
        refused.stderr.splitlines() == [refused.stderr.strip()]
        and "check-ins are no longer recorded" in refused.stderr
    )
    assert "Traceback" not in refused.stderr


# -- #18: control characters never stored, never printed raw ----------------------------


def test_control_characters_are_stripped_from_notes_and_answers(engine: Engine) -> None:
    plan = engine.plan("test-plan")
    question = plan.checkins.questions[0] if plan.checkins else ""
    record_checkin(
        engine,
        plan,
        "tom",
        moment("2027-01-04 10:00"),
        "need_help",
        f"line one\n\tline two {STEERING}",
        answers=[(question, f"did {STEERING}")],
    )
    row = engine.store.records(collection("test-plan"))["tom/2027-01-04"]
    assert row["note"] == "line one line two [31mRED bell evil x"
    assert row["answers"] == [[question, "did [31mRED bell evil x"]]


def test_status_escapes_what_it_prints_for_the_terminal(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """A note stored before control characters were stripped, and rich markup in it."""
    plan = engine.plan("test-plan")
    now = moment("2027-01-04 10:00")
    record_checkin(engine, plan, "tom", now, "need_help", "help")
    where, key = collection("test-plan"), "tom/2027-01-04"
    old = engine.store.get_record(where, key)
    assert old is not None
    engine.store.put_record(where, key, {**old, "note": f"{STEERING} [bold]not bold[/bold]"})
    print_status([plan_status(engine, "test-plan", now)])
    shown = capsys.readouterr().out
    assert "\\x1b[31mRED\\x00 \\x07bell \\u202eevil\\u2066 \\x9bx [bold]not bold[/bold]" in shown
    assert not any(char in shown for char in "\x1b\x00\x07\u202e\u2066\x9b")


# -- a request that failed for good is no miss either ------------------------------------


def test_a_window_whose_request_failed_for_good_is_not_missed(tmp_path: Path) -> None:
    """Tom's mail server refuses his address (550): the request of 4 January fails for good,
    so the close of that window two days later raises nothing about him."""
    from tests.smtp_sink import start_smtp

    def refused_address(data: dict[str, Any]) -> None:
        data["people"][2]["email"] = "reject-tom@t.example"

    sink = start_smtp(tmp_path / "smtp")
    try:
        settings = {"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_tls": "none"}
        engine = make_engine(tmp_path, **settings)
        plan = plan_from(plan_data(refused_address))
        register(engine, plan, moment(REGISTERED))
        run_until(engine, moment("2027-01-07 00:00"))
    finally:
        sink.stop()
    requests = [i for i in engine.store.items(plan.id) if i.kind == "checkin_open"]
    assert {i.ref: i.state for i in requests if i.ref == "2027-01-04"} == {"2027-01-04": "failed"}
    about_tom = [i for i in engine.store.items(plan.id) if i.data.get("about") == "tom"]
    assert about_tom == []
    windows = standing(engine, plan, moment("2027-01-07 00:00")).windows["tom"]
    assert [(w.day, w.state) for w in windows] == [("2027-01-04", "untracked")]
