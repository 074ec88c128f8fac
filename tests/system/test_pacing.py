"""Must show 3 of issue 15: a burst into one Slack webhook is paced, not a storm of 429s.

200 reminders fall due at the same moment for one Slack webhook. The local HTTP sink
(tests/http_sink.py) stands in for Slack: it lets 1 request a second through and answers
429 with Retry-After above that. Two engines (two workers, each its own connection) share
one real redis-server. The engine runs on a virtual clock, and the sink's rate limit reads
that same clock, so the ~200 s the burst must take are simulated, not waited for.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from config.plan import Plan
from tests.engine import make_engine, moment
from tests.http_sink import SinkProcess, start_sink
from tests.servers import RedisServer
from tests.support import minimal_data, plan_from
from worker.clock import VirtualClock
from worker.delivery import dispatch
from worker.engine import Delivery, Engine
from worker.plans.register import register
from worker.store.base import Item
from worker.store.redis import RedisStore

pytestmark = pytest.mark.system

BURST = 200
DUE = moment("2027-06-09 12:00")


def slack_plan() -> Plan:
    data = minimal_data()
    data["communication"]["channels"]["slack"] = {"webhook": "env:PACING_SLACK_HOOK"}
    data["people"][1]["channels"] = ["slack"]
    data["milestones"] = [
        {"id": "m", "title": "Planning session", "at": "2027-06-10 12:00", "remind": ["1d"]}
    ]
    return plan_from(data)


def keys(count: int = BURST) -> list[str]:
    return [f"pace{n:04d}" for n in range(count)]


def burst(plan_id: str, count: int = BURST) -> list[Item]:
    return [
        Item(
            key=key,
            plan_id=plan_id,
            kind="reminder",
            ref="m",
            due=DUE,
            recipient="tim",
            channel="slack",
            origin="engine",
            data={"zone": "Europe/Amsterdam"},
        )
        for key in keys(count)
    ]


def drain(
    engines: list[Engine], sink: SinkProcess, clock: VirtualClock, count: int = BURST
) -> list[Delivery]:
    """Sweep and deliver at each due time, the claims shared out over the engines, until
    every reminder of the burst is sent; the sink's clock follows the engine's."""
    store, done = engines[0].store, []
    while not all(i.state == "sent" for i in store.get_many(keys(count))):
        due = store.next_due_time()
        assert due is not None and due < DUE + 3600, "the burst did not drain"
        clock.set(due)
        sink.set_clock(clock.now())
        for n, claim in enumerate(dispatch.sweep(engines[0], clock.now())):
            delivery = dispatch.deliver(engines[n % len(engines)], claim, clock.now())
            done.extend([delivery] if delivery else [])
    return done


def test_a_burst_into_one_slack_webhook_is_paced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=False).start()
    sink = start_sink(tmp_path / "sink")
    stores = [RedisStore(server.url, prefix="pace:") for _ in range(2)]
    try:
        sink.limit(1, path="/services/", retry_after="1")
        monkeypatch.setenv("PACING_SLACK_HOOK", f"{sink.url}/services/T0/B0/secret")
        engines = [make_engine(tmp_path, store, pacing="") for store in stores]  # defaults
        plan = slack_plan()
        register(engines[0], plan, DUE)
        engines[0].store.schedule(burst(plan.id))
        done = drain(engines, sink, VirtualClock(DUE))

        items = stores[0].get_many(keys())
        assert [i.state for i in items] == ["sent"] * BURST
        sent = Counter(d.item.key for d in done if d.state == "sent")
        assert all(sent[i.key] == 1 for i in items)
        on_slack = [d for d in done if d.state == "sent" and d.channel == "slack"]
        answers = Counter(
            r["status"] for r in sink.requests() if r["path"].startswith("/services/")
        )
        assert answers[200] == len(on_slack)  # each send reached Slack once
        assert answers[429] <= 5
        taken = max(float(i.sent_at or 0) for i in items) - DUE
        paced = sum(1 for d in done if d.detail.startswith("paced: "))
        print(
            f"\n{BURST} reminders into one Slack webhook (1/s, 429 above): {answers[200]} "
            f"accepted, {answers[429]} answered 429, {paced} waits for a slot; simulated "
            f"time {taken:.1f} s"
        )
        assert taken >= BURST - 1  # 1 a second: the last goes 199 s after the first
    finally:
        for store in stores:
            store.flush()
            store.close()
        sink.stop()
        server.stop()


def test_a_service_stricter_than_the_default_narrows_the_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This webhook takes 1 request per 2 s, half the documented rate: its 429s hold the
    bucket for Retry-After and double its interval; sends widen it back a tenth at a time.
    Every reminder still arrives once, and most sends meet a free slot."""
    count = 60
    server = RedisServer(tmp_path / "redis", appendonly=False).start()
    sink = start_sink(tmp_path / "sink")
    store = RedisStore(server.url, prefix="pace:")
    try:
        sink.limit(1, per=2.0, path="/services/", retry_after="2")
        monkeypatch.setenv("PACING_SLACK_HOOK", f"{sink.url}/services/T0/B0/secret")
        engine = make_engine(tmp_path, store, pacing="")
        plan = slack_plan()
        register(engine, plan, DUE)
        store.schedule(burst(plan.id, count))
        done = drain([engine], sink, VirtualClock(DUE), count)
        items = store.get_many(keys(count))
        sent = Counter(d.item.key for d in done if d.state == "sent")
        assert [sent[i.key] for i in items] == [1] * count
        answers = Counter(
            r["status"] for r in sink.requests() if r["path"].startswith("/services/")
        )
        taken = max(float(i.sent_at or 0) for i in items) - DUE
        print(
            f"\n{count} reminders into a webhook taking 1 per 2 s: {answers[200]} accepted, "
            f"{answers[429]} answered 429; simulated time {taken:.1f} s"
        )
        assert answers[429] <= count // 4
        assert taken >= 2 * (count - 1)  # the service's own rate, as it allows no faster
    finally:
        store.flush()
        store.close()
        sink.stop()
        server.stop()


def test_on_the_embedded_store_waits_are_not_attempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same on SQLite, with 20 reminders: each waits for its slot once, uncounted."""
    count = 20
    sink = start_sink(tmp_path / "sink")
    try:
        sink.limit(1, path="/services/", retry_after="1")
        monkeypatch.setenv("PACING_SLACK_HOOK", f"{sink.url}/services/T0/B0/secret")
        engine = make_engine(tmp_path, pacing="")
        plan = slack_plan()
        register(engine, plan, DUE)
        engine.store.schedule(burst(plan.id, count))
        done = drain([engine], sink, VirtualClock(DUE), count)
        items = engine.store.get_many(keys(count))
        assert [(i.state, i.attempts) for i in items] == [("sent", 0)] * count
        waits = Counter(d.item.key for d in done if d.detail.startswith("paced: "))
        assert max(waits.values()) == 1 and len(waits) >= count - 1
        answers = Counter(
            r["status"] for r in sink.requests() if r["path"].startswith("/services/")
        )
        assert answers[429] == 0
        assert max(float(i.sent_at or 0) for i in items) - DUE >= count - 1
    finally:
        sink.stop()
