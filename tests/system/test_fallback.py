"""A channel that fails permanently: the message goes on the person's next channel.

The Dutch example's team uses Slack first. Here the Slack webhook is a local HTTP
server answering 404 (a deleted webhook). Bram and Chris still get every message,
on their next channel; the channel stays off for them until the plan changes,
and Bram, the team lead, is told once per person and channel.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from config.load import load_plan
from tests.engine import make_engine, moment, registered, run_until
from tests.http_sink import start_sink
from tests.support import DUTCH

pytestmark = pytest.mark.system


def test_permanent_failure_falls_back_to_the_next_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = start_sink(tmp_path / "sink")
    try:
        sink.script(404, body="no_service")
        monkeypatch.setenv("ACME_SLACK_WEBHOOK", f"{sink.url}/services/T0/B0/secret")
        plan = load_plan(DUTCH)
        engine = registered(make_engine(tmp_path), plan, moment("2027-01-11 00:00"))
        deliveries = run_until(engine, moment("2027-01-20 00:00"))
        sent = [d for d in deliveries if d.state == "sent"]
        # Slack was tried once per person, then never again.
        assert len(sink.requests()) == 2
        channels = Counter((d.item.recipient, d.channel) for d in sent if d.item.kind != "notice")
        assert channels[("bram", "slack")] == channels[("chris", "slack")] == 0
        assert channels[("bram", "sms")] > 0  # Bram: slack, then sms
        assert channels[("chris", "email")] > 0  # Chris: slack, then email
        items = engine.store.items(plan.id)
        kickoff_bram = next(i for i in items if i.kind == "kickoff" and i.recipient == "bram")
        assert (kickoff_bram.state, kickoff_bram.channel_used) == ("sent", "sms")
        notices = [d for d in sent if d.item.kind == "notice"]
        assert sorted(d.item.data["person"] for d in notices) == ["bram", "chris"]
        assert all(d.item.recipient == "bram" for d in notices)
        assert all("Slack: HTTP 404" in d.item.data["detail"] for d in notices)
        disabled = engine.store.records(f"targets:{plan.id}")
        assert sorted(disabled) == ["bram/slack", "chris/slack"]
        # Nothing reached anyone twice.
        keys = Counter(d.item.key for d in sent)
        assert max(keys.values()) == 1
    finally:
        sink.stop()


def test_a_changed_plan_switches_the_channel_back_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = start_sink(tmp_path / "sink")
    try:
        sink.script(410, body="channel_is_archived", times=2)
        monkeypatch.setenv("ACME_SLACK_WEBHOOK", f"{sink.url}/services/T0/B0/secret")
        plan = load_plan(DUTCH)
        engine = registered(make_engine(tmp_path), plan, moment("2027-01-11 00:00"))
        run_until(engine, moment("2027-01-12 00:00"))
        assert len(engine.store.records(f"targets:{plan.id}")) == 2
        # The coordinator fixes the webhook and edits the plan: Slack is tried again.
        from config.load import load_text

        edited = load_text(
            DUTCH.read_text().replace("Intakegesprek", "Intake"),
            str(DUTCH),
            base=DUTCH.parent,
            path=DUTCH,
        )
        registered(engine, edited, moment("2027-01-12 00:00"))
        deliveries = run_until(engine, moment("2027-01-19 00:00"))
        slack = [d for d in deliveries if d.state == "sent" and d.channel == "slack"]
        assert {d.item.recipient for d in slack} == {"bram", "chris"}
    finally:
        sink.stop()
