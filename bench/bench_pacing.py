"""Pacing in real time: a burst into one Slack webhook through Celery workers on Redis.

N reminders fall due at once for one Slack incoming webhook. The local HTTP sink stands in
for Slack: it lets 1 request a second through and answers 429 (Retry-After: 1) above that.
A beat and one worker with two pool processes deliver them, once with the sweep every
second (the default) and once every 10 s. For each it prints the time from the first
send to the last against the N - 1 s that 1 a second takes at best, the number of 429s,
and whether every reminder was accepted exactly once. ``--without`` adds a run with
pacing off: what a burst did before, retries with backoff into a wall of 429s.

Prints figures; asserts nothing. ``python bench/bench_pacing.py [--count 60]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_delivery import _settings
from config.plan import Plan
from tests import processes
from tests.http_sink import SinkProcess, start_sink
from tests.servers import RedisServer
from tests.support import minimal_data, plan_from
from worker.engine import Engine
from worker.plans.register import register
from worker.store.base import Item
from worker.store.redis import RedisStore

HOOK_PATH = "/services/T0/B0/bench"


def slack_plan() -> Plan:
    data = minimal_data()
    data["communication"]["channels"]["slack"] = {"webhook": "env:BENCH_SLACK_HOOK"}
    data["people"][1]["channels"] = ["slack"]
    data["milestones"] = [
        {"id": "m", "title": "Planning session", "at": "2027-06-10 12:00", "remind": ["1d"]}
    ]
    return plan_from(data)


def burst(plan_id: str, count: int, due: float) -> list[Item]:
    return [
        Item(
            key=f"pacing{n:05d}",
            plan_id=plan_id,
            kind="reminder",
            ref="m",
            due=due,
            recipient="tim",
            channel="slack",
            origin="engine",
            data={"zone": "Europe/Amsterdam"},
        )
        for n in range(count)
    ]


def run(
    folder: Path, server: RedisServer, sink: SinkProcess, count: int, sweep: float, pacing: str
) -> None:
    name = f"{'on' if pacing == '' else 'off'}{sweep:g}"
    prefix = f"pace{name}:"
    sink.reset()
    sink.limit(1, path="/services/", retry_after="1")
    started = time.time()
    store = RedisStore(server.url, prefix=prefix)
    plan = slack_plan()
    register(Engine(_settings(folder, server.url, prefix), store), plan, time.time())
    items = burst(plan.id, count, time.time() + 3)
    store.schedule(items)
    env = processes.celery_env(
        folder / "data",
        server.url,
        prefix,
        BENCH_SLACK_HOOK=sink.url + HOOK_PATH,
        PACTKEEPER_SWEEP_INTERVAL=str(sweep),
        PACTKEEPER_PACING=pacing,
    )
    logs = folder / f"logs-{name}"
    logs.mkdir()
    running = [
        processes.beat(env, folder / f"beat-{name}", logs / "beat.log"),
        processes.worker(env, f"pacing{name}", logs / "worker.log", concurrency=2),
    ]
    try:
        deadline = time.time() + 60 + count * 3
        while time.time() < deadline:
            states = [item.state for item in store.get_many([i.key for i in items])]
            if all(state == "sent" for state in states):
                break
            time.sleep(0.5)
    finally:
        for process in running:
            processes.stop(process)
    answered = [
        r
        for r in sink.requests()
        if r.get("path", "").startswith("/services/") and float(r["at"]) >= started
    ]
    accepted = [r for r in answered if r.get("status") == 200]
    throttled = [r for r in answered if r.get("status") == 429]
    times = sorted(float(r["at"]) for r in accepted)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    sent = sum(1 for item in store.get_many([i.key for i in items]) if item.state == "sent")
    best = count - 1
    print(
        f"pacing {'on ' if pacing == '' else 'off'}, sweep every {sweep:>2g} s: {count} reminders, "
        f"{sent} sent, {len(accepted)} accepted "
        f"by the sink, {len(throttled)} answered 429; first to last send {span:6.1f} s "
        f"(1 a second at best: {best} s, {span / best:4.2f}x)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--sweeps", default="1,10", help="sweep intervals to compare, in s")
    parser.add_argument(
        "--without", action="store_true", help="also run with pacing off (the 429 storm)"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = RedisServer(folder / "redis", appendonly=False).start()
        sink = start_sink(folder / "sink")
        try:
            for sweep in (float(s) for s in options.sweeps.split(",")):
                run(folder, server, sink, options.count, sweep, "")
            if options.without:
                run(folder, server, sink, options.count, 1.0, "off")
        finally:
            sink.stop()
            server.stop()


if __name__ == "__main__":
    main()
