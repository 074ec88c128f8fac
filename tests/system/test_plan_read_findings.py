"""A registered plan read again by the worker and the web app, and a message that
cannot be built.

Before: a handover document deleted after ``sync`` made the stored plan unreadable,
so every delivery of the plan failed for good and the check-in pages answered 503;
and a name holding a line break made each e-mail raise mid-send, recorded as
``unknown`` and sent again eight times, although nothing ever left.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from config.load import load_plan
from config.plan import Plan
from tests.engine import make_engine, moment, run_due, run_until
from tests.smtp_sink import start_smtp
from tests.support import dump, minimal_data
from tests.system.test_web import serve
from worker.delivery import dispatch
from worker.engine import Delivery, Engine, digest_of
from worker.plans.register import items_for, register_file
from worker.store.base import PlanRecord

pytestmark = pytest.mark.system

KICKOFF = "2027-01-04 09:00"  # the minimal plan's start, at its deadline time


def plan_with_documents(folder: Path, data: dict[str, Any] | None = None) -> Path:
    data = data or minimal_data()
    data["handover"] = {"at": "2027-06-28 14:00", "documents": ["docs/readme.md"]}
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "readme.md").write_text("# How to run it\n")
    path = folder / "plan.yaml"
    path.write_text(dump(data), encoding="utf-8")
    return path


def test_a_missing_handover_document_after_sync_stops_no_delivery(tmp_path: Path) -> None:
    path = plan_with_documents(tmp_path / "plans")
    engine = make_engine(tmp_path)
    register_file(engine, path, moment("2027-01-01 00:00"))
    shutil.move(tmp_path / "plans" / "docs", tmp_path / "docs.moved")

    worker = make_engine(tmp_path, store=engine.store)  # a fresh process: nothing cached
    deliveries = run_due(worker, moment(KICKOFF))

    kickoffs = [d for d in deliveries if d.item.kind == "kickoff"]
    assert sorted(d.item.recipient or "" for d in kickoffs) == ["pia", "tim"]
    assert {d.state for d in kickoffs} == {"sent"}
    assert worker.store.counts("test-plan").get("failed", 0) == 0
    assert worker.plan("test-plan").document_paths() == [
        (tmp_path / "plans" / "docs" / "readme.md").resolve()
    ]


def test_check_in_pages_work_while_a_handover_document_is_missing(tmp_path: Path) -> None:
    data = minimal_data()  # the people and check-ins of the web tests' plan
    data["people"].append({"id": "tom", "name": "Tom", "side": "team", "email": "tom@t.example"})
    data["checkins"] = {"every": "weekly", "on": "monday", "grace": "2d", "who": ["tom", "tim"]}
    plan = load_plan(plan_with_documents(tmp_path / "plans", data))
    shutil.rmtree(tmp_path / "plans" / "docs")

    with serve(tmp_path, plan) as served:
        form = requests.get(f"{served.base}/checkin/{served.checkin_token()}", timeout=10)
        status = requests.get(f"{served.base}/status/{plan.id}/{served.status_token()}", timeout=10)

    assert form.status_code == 200, form.text
    assert status.status_code == 200, status.text


def test_an_unreadable_stored_plan_keeps_its_items_due_until_it_reads_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever makes the stored text unreadable (here a damaged store), nothing is lost."""
    path = plan_with_documents(tmp_path / "plans")
    engine = make_engine(tmp_path)
    registration = register_file(engine, path, moment("2027-01-01 00:00"))
    plan = registration.plan
    damage(engine, plan, moment("2027-01-02 00:00"))

    with caplog.at_level(logging.WARNING, logger="pactkeeper"):
        waiting = run_due(make_engine(tmp_path, store=engine.store), moment(KICKOFF))

    assert {d.state for d in waiting} == {"retry"}
    assert all("waiting: the plan cannot be read" in d.detail for d in waiting)
    alerts = [r for r in caplog.records if "the stored plan test-plan cannot be read" in r.message]
    assert len(alerts) == 1  # once per revision, not once per item
    assert set(engine.store.counts(plan.id)) == {"due"}
    # Waiting counts no attempt: once the plan reads, every retry a send has is still there.
    assert all(engine.store.get(d.item.key).attempts == 0 for d in waiting)  # type: ignore[union-attr]

    register_file(engine, path, moment("2027-01-04 09:30"))  # the plan file synced again
    later = run_until(make_engine(tmp_path, store=engine.store), moment("2027-01-04 12:00"))
    assert sorted(d.item.recipient or "" for d in later if d.item.kind == "kickoff") == [
        "pia",
        "tim",
    ]
    assert {d.state for d in later if d.item.kind == "kickoff"} == {"sent"}


def test_a_message_that_cannot_be_built_fails_for_good_and_is_never_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name with a line break in a plan stored before validation refused it: the e-mail
    header refuses it while the message is built, before anything goes on the wire."""
    from worker.delivery import compose as composing

    real_compose = composing.compose

    def from_an_older_plan(*args: Any) -> Any:
        message = real_compose(*args)
        if message.recipient.id != "pia":
            return message
        name = "Pia\r\nBcc: x@e.example"
        return replace(message, recipient=replace(message.recipient, name=name))

    monkeypatch.setattr(composing, "compose", from_an_older_plan)
    smtp = start_smtp(tmp_path / "smtp")
    try:
        engine = make_engine(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls="none")
        register_file(engine, plan_with_documents(tmp_path / "plans"), moment("2027-01-01 00:00"))
        deliveries = run_due(engine, moment(KICKOFF))
        received = [str(m["To"].addresses[0].addr_spec) for m in smtp.messages()]
        notices = [m for m in smtp.messages() if "may not have arrived" in str(m["Subject"])]
    finally:
        smtp.stop()

    pia = next(d for d in deliveries if d.item.kind == "kickoff" and d.item.recipient == "pia")
    assert pia.state == "failed"
    assert pia.detail.startswith("cannot build the message: ValueError: ")
    stored = engine.store.get(pia.item.key)
    assert stored is not None and (stored.state, stored.attempts) == ("failed", 0)
    assert "pia@partner.example" not in received
    # The lead is told once about each, on messages that build.
    failed = [d for d in deliveries if d.item.recipient == "pia" and d.state == "failed"]
    assert len(notices) == len(failed) >= 2  # the kickoff and the handover invitation
    assert {str(m["To"].addresses[0].addr_spec) for m in notices} == {"tim@team.example"}
    assert engine.store.counts("test-plan").get("unknown", 0) == 0


def damage(engine: Engine, plan: Plan, at: float) -> None:
    """The stored text no longer reads (here: a person id no plan may have)."""
    damaged = plan.text.replace("id: tim", "id: Tim!")
    record = PlanRecord(plan.id, damaged, digest_of(damaged), at, str(plan.path))
    engine.store.sync(record, items_for(plan), at, 0)


def closing_windows(engine: Engine, now: float) -> list[Delivery]:
    """What the sweep task does with the check-in windows due to close: one batch."""
    claims = dispatch.sweep(engine, now)
    for claim in claims:
        if claim.kind not in dispatch.BATCH_STEPS:
            dispatch.deliver(engine, claim, now)
    return dispatch.run_steps(engine, [c for c in claims if c.kind in dispatch.BATCH_STEPS], now)


def test_closing_windows_of_an_unreadable_plan_wait_instead_of_being_skipped(
    tmp_path: Path,
) -> None:
    """Before, each closing window of such a plan was settled as "not evaluated"."""
    data = minimal_data()
    data["checkins"] = {"every": "weekly", "on": "monday", "grace": "2d"}
    path = plan_with_documents(tmp_path / "plans", data)
    engine = make_engine(tmp_path)
    plan = register_file(engine, path, moment("2027-01-01 00:00")).plan
    damage(engine, plan, moment("2027-01-02 00:00"))
    closes = moment("2027-01-06 09:00")  # Monday 4 January 09:00 plus two days

    waited = closing_windows(make_engine(tmp_path, store=engine.store), closes)

    assert [d.item.kind for d in waited] == ["checkin_close"]
    assert waited[0].state == "retry" and "waiting: the plan cannot be read" in waited[0].detail
    closing = [i for i in engine.store.items(plan.id) if i.kind == "checkin_close"]
    assert all(i.state == "due" for i in closing)

    register_file(engine, path, moment("2027-01-06 09:10"))
    worker = make_engine(tmp_path, store=engine.store)
    later = closing_windows(worker, moment("2027-01-06 12:00"))
    assert [(d.item.kind, d.state) for d in later] == [("checkin_close", "done")]
    assert "not evaluated" not in later[0].detail
