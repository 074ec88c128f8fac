"""The check-in endpoint under load: 50 concurrent clients from a second process on loopback.

uvicorn serves ``web.app:app`` in its own process (as ``pactkeeper run`` starts
it) on a free port; this process is the load: ``--clients`` concurrent
keep-alive connections posting ``POST /api/checkins`` with the tokens of
``--people`` different people, so most requests record or change a check-in
rather than repeat one. The client is a few lines of asyncio HTTP/1.1, not
httpx: on this two-core machine httpx spent more CPU per request than the
server and measured itself. Each run first warms up, then sends ``--requests``
requests and prints requests per second and latency percentiles; asserts
nothing. Target (issue 6): p99 under 50 ms at 50 concurrent.

Before each store the same load goes to a baseline in the same run:
``bench/checkin_baseline_app.py``, a trivial FastAPI POST on the same route under
the same uvicorn settings. The figures that travel between machines are the
ratios ours / baseline of p50 and p99 (target, issue 15: p99 at most 2x).

    python bench/bench_checkin_endpoint.py [--store sqlite redis] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.plan import Plan
from config.settings import Settings
from tests.engine import moment
from tests.servers import RedisServer, free_port, wait_for_port
from tests.support import minimal_data, plan_from
from worker import tokens
from worker.engine import Engine
from worker.plans.register import register
from worker.store import open_store

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-signing-key-0123456789"
NOW = "2027-01-05 12:00"  # Tuesday: every Monday window is open
STATUSES = ("on_track", "need_help", "blocked", "on_track")


def bench_plan(people: int) -> Plan:
    data = minimal_data()
    data["id"] = "bench-endpoint"
    data["people"] += [
        {"id": f"m{n}", "name": f"Member {n}", "side": "team", "email": f"m{n}@t.example"}
        for n in range(people)
    ]
    data["checkins"] = {"every": "weekly", "on": "monday", "grace": "2d", "who": "team"}
    return plan_from(data)


def start_server(
    data_dir: Path,
    redis_url: str | None,
    offset: float,
    workers: int = 1,
    app: str = "web.app:app",
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    env.update(
        PACTKEEPER_DATA_DIR=str(data_dir),
        PACTKEEPER_SECRET_KEY=KEY,
        PACTKEEPER_CLOCK_OFFSET=repr(offset),
        PYTHONPATH=str(ROOT),
    )
    if redis_url:
        env.update(PACTKEEPER_REDIS_URL=redis_url, PACTKEEPER_REDIS_PREFIX="bench-web:")
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    wait_for_port(port, timeout=30)
    return process, f"http://127.0.0.1:{port}"


async def connection(
    host: str, port: int, bodies: list[bytes], latencies: list[float], codes: dict[int, int]
) -> None:
    """One keep-alive HTTP/1.1 connection sending its requests one after the other."""
    reader, writer = await asyncio.open_connection(host, port)
    for body in bodies:
        started = time.perf_counter()
        writer.write(request(body))
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        latencies.append((time.perf_counter() - started) * 1000)
        codes[status] = codes.get(status, 0) + 1
    writer.close()
    await writer.wait_closed()


def request(body: bytes) -> bytes:
    head = (
        "POST /api/checkins HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def load(
    base: str, bodies: list[bytes], clients: int
) -> tuple[list[float], dict[int, int], float]:
    """``clients`` connections share the requests; (latencies ms, status counts, seconds)."""
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    codes: dict[int, int] = {}
    shares = [bodies[n::clients] for n in range(clients)]
    started = time.perf_counter()
    await asyncio.gather(
        *(connection(host, int(port), share, latencies, codes) for share in shares)
    )
    return latencies, codes, time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


BASELINE = "bench.checkin_baseline_app:app"


@dataclass
class Figures:
    latencies: list[float]
    codes: dict[int, int]
    elapsed: float

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", choices=("sqlite", "redis"), nargs="+", default=["sqlite", "redis"]
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--repeat", type=int, default=3, help="baseline/ours pairs per store")
    args = parser.parse_args()
    for store in args.store:
        with tempfile.TemporaryDirectory() as folder:
            run(Path(folder), store, args)


def run(folder: Path, store: str, args: argparse.Namespace) -> None:
    redis = RedisServer(folder / "redis").start() if store == "redis" else None
    redis_url = redis.url if redis else None
    try:
        # The web app runs on the plan's clock (an offset: a virtual clock), so the folder
        # is registered on that clock too: a data folder belongs to one clock.
        offset = moment(NOW) - time.time()
        settings = Settings(
            clock_offset=offset,
            data_dir=folder / "data",
            redis_url=redis_url,
            redis_prefix="bench-web:",
            smtp_host=None,
            plans_dir=None,
            secret_key=KEY,
        )
        engine = Engine(settings, open_store(settings), outbox_only=True)
        plan = bench_plan(args.people)
        register(engine, plan, moment("2027-01-01 00:00"))
        engine.close()
        bodies = request_bodies(plan.id, args.people, args.requests)
        # The baseline, then ours, each on its own uvicorn with the same settings; in
        # pairs, so that a neighbour's load on a shared machine falls on both alike.
        pairs = []
        for _ in range(args.repeat):
            baseline = measure(folder / "data", redis_url, offset, args, bodies, BASELINE)
            ours = measure(folder / "data", redis_url, offset, args, bodies, "web.app:app")
            pairs.append((baseline, ours))
    finally:
        if redis:
            redis.stop()
    print(
        f"POST /api/checkins, {store} store, {args.workers} uvicorn process(es), "
        f"{args.clients} concurrent clients, {args.requests} requests, {args.repeat} pairs"
    )
    for baseline, ours in pairs:
        show("trivial FastAPI POST", baseline)
        show(f"ours ({store})", ours)
    p50 = statistics.median(ours.p50 / baseline.p50 for baseline, ours in pairs)
    p99 = statistics.median(ours.p99 / baseline.p99 for baseline, ours in pairs)
    print(
        f"  ours / trivial, median of {len(pairs)} pairs: p50 {p50:.2f}x, p99 {p99:.2f}x"
        " (target p99 at most 2x)"
    )


def measure(
    data_dir: Path,
    redis_url: str | None,
    offset: float,
    args: argparse.Namespace,
    bodies: list[bytes],
    app: str,
) -> Figures:
    process, base = start_server(data_dir, redis_url, offset, args.workers, app)
    try:
        asyncio.run(load(base, bodies[: args.clients * 4], args.clients))  # warm up
        return Figures(*asyncio.run(load(base, bodies, args.clients)))
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def show(name: str, figures: Figures) -> None:
    answers = ", ".join(f"{n} x {code}" for code, n in sorted(figures.codes.items()))
    print(
        f"  {name:<22} {len(figures.latencies) / figures.elapsed:6.0f} requests/s,"
        f" latency ms: p50 {figures.p50:.1f}, p95 {percentile(figures.latencies, 0.95):.1f},"
        f" p99 {figures.p99:.1f}, max {max(figures.latencies):.1f} ({answers})"
    )


def request_bodies(plan_id: str, people: int, count: int) -> list[bytes]:
    """Person after person; each round a new status, so a request records or changes."""
    expires = moment(NOW) + 30 * 86400
    token = [
        tokens.sign(
            KEY.encode(), "checkin", {"p": plan_id, "u": f"m{n}", "w": "2027-01-04"}, expires
        )
        for n in range(people)
    ]
    return [
        json.dumps(
            {
                "token": token[i % people],
                "status": STATUSES[(i // people) % len(STATUSES)],
                "note": f"week note {i}",
            }
        ).encode()
        for i in range(count)
    ]


if __name__ == "__main__":
    main()
