"""Delivery throughput and lateness through the whole engine, on Redis, to a local HTTP sink.

1. Throughput: N reminders due at once, delivered by one Celery worker with two
   pool processes (and a beat sweeping every second), beside a plain loop that
   posts the same payloads with one requests Session in one process, in the same
   run. Target (issue 3): at least 0.5 of the plain loop.
2. Lateness: reminders falling due at 100 per second for 30 seconds; p50 and p99
   of (sent - due). Target: p99 under the sweep interval plus 2 s.

With ``--pacing`` both run twice in the same run: pacing off (as before), then on with
the Mattermost webhook paced at a rate no burst here fills (``PACING_ON``), so every send
takes its slot through the store and none waits: what pacing costs when no bucket is full
(issue 15: within 5% of the figures without it).

Prints figures; asserts nothing. ``python bench/bench_delivery.py [--count 3000] [--pacing]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from config.plan import Plan
from tests import processes
from tests.http_sink import start_sink
from tests.servers import RedisServer
from tests.support import minimal_data, plan_from
from worker.engine import Engine
from worker.plans.register import register
from worker.store.base import Item
from worker.store.redis import RedisStore

SWEEP_INTERVAL = 1.0
PACING_OFF = "off"
PACING_ON = "mattermost=100000/s:100000"  # every send books a slot; nothing here fills it


def plan() -> Plan:
    data = minimal_data()
    data["communication"]["channels"]["mattermost"] = {"webhook": "env:BENCH_MM_HOOK"}
    data["people"][1]["channels"] = ["mattermost"]
    data["milestones"] = [
        {
            "id": "m",
            "title": "Planning session",
            "at": "2027-06-10 12:00",
            "duration": "1h",
            "attendees": ["tim"],
            "remind": ["1d"],
        }
    ]
    return plan_from(data)


def reminders(plan_id: str, count: int, first_due: float, per_second: float | None) -> list[Item]:
    return [
        Item(
            key=f"bench{n:06d}",
            plan_id=plan_id,
            kind="reminder",
            ref="m",
            due=first_due + (n / per_second if per_second else 0.0),
            recipient="tim",
            channel="mattermost",
            origin="engine",
            data={"zone": "Europe/Amsterdam"},
        )
        for n in range(count)
    ]


def wait_sent(
    store: RedisStore, plan_id: str, count: int, timeout: float, last_due: float
) -> float:
    """Wait until nothing is due or in flight, then check every reminder was sent.

    Polls two ZCARDs: counting states item by item while the workers run would
    steal the CPU being measured.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        # A paced retry is due a moment after the last reminder: a minute's margin counts it
        # (the plan's own items fall due days later).
        due = store.redis.zcount(store._key("due"), "-inf", last_due + 60)
        pending = due + store.redis.zcard(store._key("lease"))
        if not pending:
            end = time.perf_counter()
            sent = store.counts(plan_id).get("sent", 0)
            if sent < count:
                raise RuntimeError(f"only {sent} of {count} sent: {store.counts(plan_id)}")
            return end
        time.sleep(0.02)
    raise TimeoutError(store.counts(plan_id))


def plain_loop(url: str, payloads: list[bytes]) -> float:
    session = requests.Session()
    start = time.perf_counter()
    for body in payloads:
        session.post(
            url, data=body, headers={"Content-Type": "application/json"}, timeout=(5, 20)
        ).raise_for_status()
    return time.perf_counter() - start


def engine_run(
    folder: Path,
    server: RedisServer,
    hook: str,
    items: list[Item],
    the_plan: Plan,
    prefix: str,
    pacing: str,
) -> tuple[RedisStore, list[Any]]:
    store = RedisStore(server.url, prefix=prefix)
    settings = _settings(folder, server.url, prefix)
    register(Engine(settings, store), the_plan, time.time())
    store.schedule(items)
    env = processes.celery_env(
        folder / "data",
        server.url,
        prefix,
        BENCH_MM_HOOK=hook,
        PACTKEEPER_SWEEP_INTERVAL=str(SWEEP_INTERVAL),
        PACTKEEPER_PACING=pacing,
    )
    logs = folder / f"logs-{prefix.strip(':')}"
    logs.mkdir()
    running = [
        processes.beat(env, folder / f"beat-{prefix.strip(':')}", logs / "beat.log"),
        processes.worker(env, "bench", logs / "worker.log", concurrency=2),
    ]
    return store, running


def payloads_of(folder: Path, server: RedisServer, the_plan: Plan, count: int) -> list[bytes]:
    """What the plain loop posts: the engine's own payloads for the same reminders."""
    from connectors.mattermost import MattermostConnector
    from worker.delivery.compose import compose

    settings = _settings(folder, server.url, "tp:")
    engine = Engine(settings, RedisStore(server.url, prefix="payload:"))
    register(engine, the_plan, time.time())
    person = the_plan.person("tim")
    connector = MattermostConnector(the_plan.communication.channels.mattermost, settings)
    return [
        connector.render(compose(engine, the_plan, item, person, "mattermost", time.time()))[1]
        for item in reminders(the_plan.id, count, time.time(), None)
    ]


def throughput(
    folder: Path,
    server: RedisServer,
    hook: str,
    the_plan: Plan,
    payloads: list[bytes],
    pacing: str,
) -> None:
    count = len(payloads)
    plain = plain_loop(hook, payloads)
    items = reminders(the_plan.id, count, time.time() + 3, None)
    prefix = f"tp-{_tag(pacing)}:"
    store, running = engine_run(folder, server, hook, items, the_plan, prefix, pacing)
    try:
        ready = items[0].due
        while time.time() < ready:
            time.sleep(0.01)
        start = time.perf_counter()
        end = wait_sent(store, the_plan.id, count, 600, items[-1].due)
        ours = end - start
    finally:
        for process in running:
            processes.stop(process)
    print(
        f"throughput, pacing {_tag(pacing)}: plain requests loop {count / plain:7.0f}/s, engine "
        f"(2 worker processes) {count / ours:7.0f}/s, ratio {plain / ours:4.2f}",
        flush=True,
    )


def _tag(pacing: str) -> str:
    return "off" if pacing == PACING_OFF else "on"


def lateness(
    folder: Path,
    server: RedisServer,
    hook: str,
    the_plan: Plan,
    rate: float,
    seconds: float,
    pacing: str,
) -> None:
    count = int(rate * seconds)
    items = reminders(the_plan.id, count, time.time() + 5, rate)
    prefix = f"late-{_tag(pacing)}:"
    store, running = engine_run(folder, server, hook, items, the_plan, prefix, pacing)
    try:
        wait_sent(store, the_plan.id, count, seconds + 120, items[-1].due)
    finally:
        for process in running:
            processes.stop(process)
    late = sorted(
        float(i.sent_at or 0) - i.due for i in store.items(the_plan.id) if i.key.startswith("bench")
    )
    p50 = statistics.median(late)
    p99 = late[int(len(late) * 0.99) - 1]
    print(
        f"lateness, pacing {_tag(pacing)}, at {rate:.0f}/s for {seconds:.0f} s ({count} "
        f"reminders, sweep every "
        f"{SWEEP_INTERVAL:g} s): p50 {p50:5.2f} s, p99 {p99:5.2f} s, max {late[-1]:5.2f} s "
        f"(target p99 < {SWEEP_INTERVAL + 2:g} s)",
        flush=True,
    )


def _settings(folder: Path, url: str, prefix: str) -> Any:
    from config.settings import Settings

    return Settings(
        data_dir=folder / "data",
        redis_url=url,
        redis_prefix=prefix,
        secret_key="bench-signing-key-0123456789",
        plans_dir=None,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pacing", action="store_true", help="also with pacing on")
    args = parser.parse_args()
    modes = [PACING_OFF, PACING_ON] if args.pacing else [PACING_OFF]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        server = RedisServer(folder / "redis", appendonly=False).start()
        sink = start_sink(folder / "sink")
        hook = f"{sink.url}/hooks/bench"
        os.environ["BENCH_MM_HOOK"] = hook
        try:
            the_plan = plan()
            payloads = payloads_of(folder, server, the_plan, args.count)
            for pacing in modes:
                throughput(folder, server, hook, the_plan, payloads, pacing)
            for pacing in modes:
                lateness(folder, server, hook, the_plan, args.rate, args.seconds, pacing)
        finally:
            sink.stop()
            server.stop()


if __name__ == "__main__":
    main()
