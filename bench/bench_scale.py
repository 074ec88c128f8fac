"""A country's partnerships on one Redis: registration, memory, sweep cost, the Monday burst.

What it measures (issue 15), each on a redis-server of its own on a free loopback port:

1. Registration: ``--plans`` generated plans (bench/scale_plans.py: varied zones,
   4-20 people, weekly/biweekly/monthly check-ins, 5-20 milestones, 3-12 months,
   e-mail, Slack, Telegram and SMS) registered with ``worker.plans.register`` into a
   Redis store by 2 processes (each registering half), then the first ``--one-sample``
   of them by 1 process into the emptied store, in plans/s.
   Generating and validating the plans is not timed. The rolling horizon is the
   setting's default (28 days); ``--horizon-compare`` also registers a sample with
   ``horizon_days = 0`` (the whole timeline) and the default, side by side.
2. Memory: Redis ``used_memory`` before and after, per plan, per ledger item and per
   entry of the due index (ZCARD), and a linear projection to 10,000 and 100,000 plans.
3. Sweep cost at that size: one claim of a batch (500) from the full store, beside a
   bare Lua ZRANGEBYSCORE + ZREM + ZADD on a zset of the same size in the same run
   (taken in turns, medians, ratio).
4. The Monday 09:00 burst: ``--burst`` check-in requests due at 09:00 Amsterdam on one
   Monday (plans of ten people each, registered on the Friday before), drained by real
   Celery workers on a Redis broker through a sink that answers after 50 ms, with 1, 2
   and 4 worker processes (prefork, concurrency 1) and 2 processes of 8 threads. The
   workers run on a clock offset that puts them shortly before 09:00, so every item is
   due at the moment the timeline gives it. Drain time, ratio to 1 process, p50/p99
   lateness (sent_at - due, from the ledger) and once-only (each key at the sink once,
   by its Idempotency-Key).

Prints figures and a summary table; asserts nothing on time.

    python bench/bench_scale.py                       # 10,000 plans, burst 20,000
    python bench/bench_scale.py --quick               # 500 plans, burst 2,000
    python bench/bench_scale.py --plans 2000 --horizon-compare --skip-burst
    python bench/bench_scale.py --skip-registration --burst 4000
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench import scale_plans
from bench.bench_sweep import BARE  # the least any claim of a batch can do
from config.plan import Plan
from config.settings import Settings
from tests import processes
from tests.http_sink import SinkProcess, start_sink
from tests.servers import RedisServer
from worker.engine import Engine
from worker.plans.register import register
from worker.run.main import worker_command
from worker.store.redis import RedisStore

KEY = "bench-scale-signing-key-0123456789"
PREFIX = "pk:"
BATCH = 500
LEASE = 120.0
MIB = 1024 * 1024
# INFO memory fields that say what used_memory holds besides the keys.
OVERHEADS = (
    "used_memory_dataset",
    "used_memory_overhead",
    "used_memory_scripts",
    "mem_clients_normal",
    "used_memory_startup",
)
# 09:00 in Amsterdam on a Monday; the burst plans are registered the Friday before.
MONDAY = date(2027, 3, 1)
BURST_AT = datetime(2027, 3, 1, 8, 0, tzinfo=UTC).timestamp()
REGISTERED_AT = BURST_AT - 3 * 86400
SINK_DELAY = 0.05


@dataclass
class Summary:
    """The figures of one run, printed as a table at the end."""

    rows: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, value: str) -> None:
        self.rows.append((name, value))

    def print(self) -> None:
        width = max((len(name) for name, _ in self.rows), default=10)
        print("\nsummary")
        for name, value in self.rows:
            print(f"  {name:<{width}}  {value}")


# -- the store ---------------------------------------------------------------------------


def settings_for(folder: Path, url: str, horizon_days: int | None = None) -> Settings:
    extra = {} if horizon_days is None else {"horizon_days": horizon_days}
    return Settings(
        data_dir=folder / "data",
        redis_url=url,
        redis_prefix=PREFIX,
        secret_key=KEY,
        plans_dir=None,
        **extra,
    )


@contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder, appendonly=False).start()
    try:
        yield server
    finally:
        server.stop()


def used_memory(client: Any) -> int:
    return int(client.info("memory")["used_memory"])


def ledger_size(store: RedisStore) -> int:
    """Ledger items (one hash each) of every registered plan."""
    pipe = store.redis.pipeline(transaction=False)
    for plan_id in store.plan_ids():
        pipe.scard(store._key("planitems", plan_id))
    return sum(int(n) for n in pipe.execute())


# -- 1. registration ---------------------------------------------------------------------


def register_all(settings: Settings, plans: list[Plan], now: float) -> float:
    """Seconds to register ``plans`` one after another, as ``sync`` does."""
    engine = Engine(settings)
    start = time.perf_counter()
    for plan in plans:
        register(engine, plan, now)
    seconds = time.perf_counter() - start
    engine.close()
    return seconds


def _register_part(
    folder: Path, url: str, plans: list[Plan], now: float, ready: Any, go: Any, out: Any
) -> None:
    """One of the registering processes: its share of the plans (inherited through fork,
    not pickled), registered when all processes are ready."""
    ready.set()
    go.wait()
    out.put(register_all(settings_for(folder, url), plans, now))


def register_parallel(folder: Path, url: str, plans: list[Plan], workers: int, now: float) -> float:
    """Wall seconds for ``workers`` processes to register ``plans`` between them, from the
    moment all have started."""
    context = multiprocessing.get_context("fork")
    go, out = context.Event(), context.Queue()
    share = math.ceil(len(plans) / workers)
    readies, children = [], []
    for index in range(workers):
        ready = context.Event()
        part = plans[index * share : (index + 1) * share]
        child = context.Process(
            target=_register_part, args=(folder, url, part, now, ready, go, out)
        )
        child.start()
        readies.append(ready)
        children.append(child)
    for ready in readies:
        ready.wait()
    start = time.perf_counter()
    go.set()
    for _ in children:
        out.get()
    seconds = time.perf_counter() - start
    for child in children:
        child.join()
    return seconds


def registration(folder: Path, count: int, one_sample: int, summary: Summary, repeat: int) -> None:
    """Sections 1 to 3: every plan registered by 2 processes (the store then measured
    and swept), and the first ``one_sample`` plans by 1 process into an emptied store."""
    now = datetime(2027, 1, 4, 6, 0, tzinfo=UTC).timestamp()
    with redis_server(folder / "redis-registration") as server:
        client = redis.Redis.from_url(server.url)
        started = time.perf_counter()
        plans = scale_plans.make_plans(count)
        people = sum(len(plan.people) for plan in plans)
        print(
            f"{count:,} plans, {people:,} people, generated and validated in "
            f"{time.perf_counter() - started:.0f} s (not timed below)",
            flush=True,
        )
        before = used_memory(client)
        two = register_parallel(folder, server.url, plans, 2, now)
        print(f"registration, 2 processes: {count / two:6.1f} plans/s ({two:.0f} s)", flush=True)
        after = used_memory(client)
        store = RedisStore(server.url, prefix=PREFIX)
        memory(store, count, people, before, after, Settings(secret_key=KEY).horizon_days, summary)
        breakdown(store, count)
        sweep_cost(store, repeat, summary)
        store.close()
        client.flushall()
        sample = plans[:one_sample]
        one = register_all(settings_for(folder, server.url), sample, now)
        print(
            f"registration, 1 process, the first {len(sample):,} plans: "
            f"{len(sample) / one:6.1f} plans/s ({one:.0f} s)",
            flush=True,
        )
        summary.add("registration, 1 process", f"{len(sample) / one:.1f} plans/s (target >= 50)")
        summary.add("registration, 2 processes", f"{count / two:.1f} plans/s")


def memory(
    store: RedisStore,
    plans: int,
    people: int,
    before: int,
    after: int,
    horizon_days: int,
    summary: Summary,
) -> None:
    used = after - before
    due = int(store.redis.zcard(store._key("due")))
    items = ledger_size(store)
    per_plan = used / plans
    print(
        f"memory (horizon {horizon_days} days): used_memory {before / MIB:.1f} -> "
        f"{after / MIB:.1f} MiB, {used / MIB:.1f} MiB for {plans:,} plans ({people:,} people)"
    )
    print(
        f"  {per_plan / 1024:.1f} KiB a plan; {items:,} ledger items ({items / plans:.1f} a "
        f"plan), {used / max(items, 1):.0f} B an item; due index ZCARD {due:,} "
        f"({due / plans:.1f} a plan), {used / max(due, 1):.0f} B a due entry"
    )
    for target in (10_000, 100_000):
        print(
            f"  projection (linear in plans) to {target:,} plans: "
            f"{per_plan * target / MIB / 1024:.2f} GiB"
        )
    summary.add("memory a plan", f"{per_plan / 1024:.1f} KiB ({used / max(items, 1):.0f} B/item)")
    summary.add("due index", f"{due:,} entries ({due / plans:.1f} a plan)")
    summary.add(
        "projection 10k / 100k plans",
        f"{per_plan * 1e4 / MIB / 1024:.2f} / {per_plan * 1e5 / MIB / 1024:.2f} GiB "
        "(linear; target <= 2 GiB at 10k)",
    )


def breakdown(store: RedisStore, plans: int) -> None:
    """Where the memory is: MEMORY USAGE of every key, by the key's family (``item``,
    ``plan``, ``rec``...), and Redis's own overhead (used_memory minus the keys)."""
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    names = list(store.redis.scan_iter(match=f"{PREFIX}*", count=5000))
    for start in range(0, len(names), 5000):
        part = names[start : start + 5000]
        pipe = store.redis.pipeline(transaction=False)
        for name in part:
            pipe.memory_usage(name, samples=0)
            pipe.hget(name, "kind") if name.startswith(store._item("")) else pipe.echo("")
        answers = pipe.execute()
        for name, size, kind in zip(part, answers[::2], answers[1::2], strict=True):
            family = name[len(PREFIX) :].split(":")[0]
            family = f"item {kind}" if kind else family
            sizes[family] += int(size or 0)
            counts[family] += 1
    info = store.redis.info("memory")
    total = int(info["used_memory"])
    print(f"  where it is ({len(names):,} keys; MEMORY USAGE SAMPLES 0, with each key's overhead):")
    for family, size in sizes.most_common(12):
        print(
            f"    {family:<20} {counts[family]:>9,} keys {size / MIB:8.1f} MiB "
            f"({size / plans / 1024:6.1f} KiB a plan, {size / counts[family]:6.0f} B a key)"
        )
    print(
        f"    rest of used_memory: {(total - sum(sizes.values())) / MIB:.1f} MiB; INFO memory: "
        + ", ".join(f"{name} {int(info.get(name, 0)) / MIB:.1f} MiB" for name in OVERHEADS)
    )


def registration_parts(folder: Path, sample: int, summary: Summary) -> None:
    """Where a registration's time goes, on a sample: the timeline into items
    (``items_for``), the store's atomic sync, and the calendar changes it queues
    (``queue_changes``: an invitation for every meeting and attendee), each timed by
    wrapping the function ``register`` calls."""
    from worker.plans import register as registering

    spent: Counter[str] = Counter()
    originals = {name: getattr(registering, name) for name in ("items_for", "queue_changes")}

    def timer(name: str, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        return timed

    now = datetime(2027, 1, 4, 6, 0, tzinfo=UTC).timestamp()
    plans = scale_plans.make_plans(sample)
    sync = RedisStore.sync
    with redis_server(folder / "redis-parts") as server:
        for name, function in originals.items():
            setattr(registering, name, timer(name, function))
        RedisStore.sync = timer("store.sync", sync)  # type: ignore[method-assign]
        try:
            total = register_all(settings_for(folder, server.url), plans, now)
        finally:
            for name, function in originals.items():
                setattr(registering, name, function)
            RedisStore.sync = sync  # type: ignore[method-assign]
    parts = ", ".join(
        f"{name} {seconds / sample * 1e3:.1f} ms ({seconds / total:.0%})"
        for name, seconds in spent.most_common()
    )
    print(f"registration parts, {sample} plans: {total / sample * 1e3:.1f} ms a plan; {parts}")
    summary.add("registration a plan", f"{total / sample * 1e3:.1f} ms: {parts}")


def horizon_compare(folder: Path, sample: int, summary: Summary) -> None:
    """The same sample registered with the whole timeline and with the default horizon."""
    now = datetime(2027, 1, 4, 6, 0, tzinfo=UTC).timestamp()
    plans = scale_plans.make_plans(sample)
    for days in (0, Settings(secret_key=KEY).horizon_days):
        with redis_server(folder / f"redis-horizon-{days}") as server:
            client = redis.Redis.from_url(server.url)
            before = used_memory(client)
            seconds = register_all(settings_for(folder, server.url, days), plans, now)
            used = used_memory(client) - before
            store = RedisStore(server.url, prefix=PREFIX)
            items, due = ledger_size(store), int(store.redis.zcard(store._key("due")))
            store.close()
        label = "whole timeline" if days == 0 else f"horizon {days} days"
        line = (
            f"{sample / seconds:6.1f} plans/s, {used / sample / 1024:7.1f} KiB a plan, "
            f"{items / sample:6.1f} items and {due / sample:6.1f} due entries a plan"
        )
        print(f"horizon compare, {sample} plans, {label:<15}: {line}", flush=True)
        summary.add(f"sample of {sample}, {label}", line)


# -- 3. sweep cost -----------------------------------------------------------------------


def sweep_cost(store: RedisStore, repeat: int, summary: Summary) -> None:
    """A claim of one batch from the full due index, and the bare script on a same-size copy."""
    client = store.redis
    due_key = store._key("due")
    bare_due, bare_lease = store._key("bare", "due"), store._key("bare", "lease")
    size = int(client.zcard(due_key))
    if size < BATCH:
        print(f"sweep: only {size} in the due index, fewer than a batch; skipped")
        return
    client.zunionstore(bare_due, [due_key])
    moment = float(client.zrange(due_key, BATCH - 1, BATCH - 1, withscores=True)[0][1])
    script = client.register_script(BARE)
    ours_times, bare_times = [], []
    for _ in range(repeat):
        taken = dict(client.zrangebyscore(due_key, "-inf", moment, 0, BATCH, withscores=True))
        start = time.perf_counter()
        claims = store.claim(moment, BATCH, LEASE)
        ours_times.append(time.perf_counter() - start)
        _restore_claims(store, [c.key for c in claims], taken)
        taken = dict(client.zrangebyscore(bare_due, "-inf", moment, 0, BATCH, withscores=True))
        start = time.perf_counter()
        keys = script(keys=[bare_due, bare_lease], args=[moment, BATCH, moment + LEASE])
        bare_times.append(time.perf_counter() - start)
        pipe = client.pipeline(transaction=False)
        pipe.zadd(bare_due, {key: taken[key] for key in keys})
        pipe.delete(bare_lease)
        pipe.execute()
    client.delete(bare_due)
    ours, bare = statistics.median(ours_times), statistics.median(bare_times)
    print(
        f"sweep: claim of {BATCH} among {size:,} in the due index {ours * 1e3:6.2f} ms, bare "
        f"script on a same-size zset {bare * 1e3:6.2f} ms, ratio {ours / bare:4.2f} "
        f"(medians of {repeat}, in turns)",
        flush=True,
    )
    summary.add(
        "sweep claim / bare", f"{ours * 1e3:.2f} / {bare * 1e3:.2f} ms = {ours / bare:.2f}x"
    )


def _restore_claims(store: RedisStore, keys: list[str], scores: dict[str, float]) -> None:
    """Put claimed items back as they were: due, no token, at their own due time."""
    pipe = store.redis.pipeline(transaction=False)
    for key in keys:
        pipe.zadd(store._key("due"), {key: scores[key]})
        pipe.hset(store._item(key), mapping={"state": "due", "token": "", "lease": ""})
    if keys:
        pipe.zrem(store._key("lease"), *keys)
    pipe.execute()


# -- 4. the Monday burst -----------------------------------------------------------------


@dataclass
class BurstRun:
    label: str
    processes: int
    drain: float  # seconds from 09:00 to the last sent_at, from the ledger
    p50: float
    p99: float
    sent: int
    missing: int  # burst keys that never reached the sink
    duplicated: int  # burst keys that reached the sink more than once
    margin: float  # seconds the workers were ready before 09:00


@dataclass
class BurstSetup:
    """One registration of the burst plans, kept as a DUMP of every key and restored
    before each run, so each run starts from the very store registration made."""

    server: RedisServer
    sink: SinkProcess
    keys: list[str]
    snapshot: list[tuple[bytes, bytes]]


def burst_setup(folder: Path, server: RedisServer, sink: SinkProcess, count: int) -> BurstSetup:
    url = f"{sink.url}/hooks/burst"
    plans = [
        scale_plans.load(scale_plans.burst_data(n, url, MONDAY))
        for n in range(math.ceil(count / 10))
    ]
    settings = settings_for(folder, server.url)
    seconds = register_all(settings, plans, REGISTERED_AT)
    store = RedisStore(server.url, prefix=PREFIX)
    window = store.redis.zrangebyscore(store._key("due"), BURST_AT, BURST_AT + 60)
    keys = list(window)[:count]
    before = store.redis.zcount(store._key("due"), "-inf", BURST_AT - 0.001)
    pipe = store.redis.pipeline(transaction=False)
    for key in keys:
        pipe.hget(store._item(key), "kind")
    kinds = Counter(pipe.execute())
    print(
        f"burst: {len(plans):,} plans registered on Friday {MONDAY - timedelta(days=3)} in "
        f"{seconds:.0f} s; {len(window):,} items due 09:00-09:01 Amsterdam on Monday {MONDAY} "
        f"({dict(kinds)}), {before} due before it. Due times are the timeline's: the workers "
        f"run on a clock offset that starts them shortly before that 09:00",
        flush=True,
    )
    raw = redis.Redis.from_url(server.url)
    names = list(raw.scan_iter(count=5000))
    snapshot = []
    for start in range(0, len(names), 5000):
        part = names[start : start + 5000]
        pipe = raw.pipeline(transaction=False)
        for name in part:
            pipe.dump(name)
        snapshot.extend(zip(part, pipe.execute(), strict=True))
    store.close()
    return BurstSetup(server, sink, keys, snapshot)


def restore(setup: BurstSetup) -> None:
    raw = redis.Redis.from_url(setup.server.url)
    raw.flushall()
    for start in range(0, len(setup.snapshot), 5000):
        pipe = raw.pipeline(transaction=False)
        for name, value in setup.snapshot[start : start + 5000]:
            pipe.restore(name, 0, value)
        pipe.execute()


def start_workers(
    env: dict[str, str], logs: Path, count: int, threads: int
) -> list[subprocess.Popen[bytes]]:
    """``count`` worker processes: prefork with one child each, or ``threads`` threads."""
    started = []
    for index in range(count):
        command = worker_command(threads or 1, beat=False, name=f"burst{index}")
        if threads:
            command += ["-P", "threads"]
        log = (logs / f"worker{index}.log").open("ab")
        started.append(
            subprocess.Popen(
                command,
                env=env,
                cwd=processes.ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return started


def workers_ready(url: str, count: int, before: float) -> float:
    """Seconds to spare before ``before`` (real time) when ``count`` workers answer a ping."""
    from celery import Celery

    probe = Celery("pactkeeper", broker=url)
    while time.time() < before + 120:
        if len(probe.control.ping(timeout=0.5)) >= count:
            return before - time.time()
    raise TimeoutError(f"fewer than {count} workers answered")


def drained(store: RedisStore, until: float) -> bool:
    """Nothing of the burst due or leased any more (two ZCARDs, light on the CPU)."""
    due = store.redis.zcount(store._key("due"), "-inf", until)
    return not due and not store.redis.zcard(store._key("lease"))


def burst_run(
    folder: Path, setup: BurstSetup, label: str, count: int, threads: int, lead: float
) -> BurstRun:
    restore(setup)
    run = folder / label.replace(" ", "-")
    run.mkdir()
    seen = len(setup.sink.requests())
    offset = (BURST_AT - lead) - time.time()
    env = processes.celery_env(
        run / "data",
        setup.server.url,
        PREFIX,
        PACTKEEPER_SECRET_KEY=KEY,
        PACTKEEPER_CLOCK_OFFSET=repr(offset),
    )
    running = [processes.beat(env, run / "beat-schedule", run / "beat.log")]
    running += start_workers(env, run, count, threads)
    store = RedisStore(setup.server.url, prefix=PREFIX)
    try:
        margin = workers_ready(setup.server.url, count, BURST_AT - offset)
        processes.wait_until(lambda: drained(store, BURST_AT + 60), timeout=3600, step=0.5)
    finally:
        for process in running:
            processes.stop(process)
    result = _burst_result(store, setup, label, count, seen, margin)
    store.close()
    return result


def _burst_result(
    store: RedisStore, setup: BurstSetup, label: str, count: int, seen: int, margin: float
) -> BurstRun:
    pipe = store.redis.pipeline(transaction=False)
    for key in setup.keys:
        pipe.hmget(store._item(key), "state", "sent_at", "due")
    rows = pipe.execute()
    late = sorted(float(sent) - float(due) for state, sent, due in rows if state == "sent")
    arrivals = Counter(r["headers"].get("Idempotency-Key") for r in setup.sink.requests()[seen:])
    wanted = set(setup.keys)
    p99 = late[max(0, math.ceil(len(late) * 0.99) - 1)] if late else float("nan")
    return BurstRun(
        label=label,
        processes=count,
        drain=max(float(sent) for _, sent, _ in rows if sent) - BURST_AT,
        p50=statistics.median(late) if late else float("nan"),
        p99=p99,
        sent=len(late),
        missing=sum(1 for key in wanted if arrivals[key] == 0),
        duplicated=sum(1 for key in wanted if arrivals[key] > 1),
        margin=margin,
    )


def burst(
    folder: Path, count: int, shapes: list[tuple[str, int, int]], lead: float, summary: Summary
) -> None:
    with redis_server(folder / "redis-burst") as server:
        sink = start_sink(folder / "sink")
        try:
            sink.script(delay=SINK_DELAY)
            setup = burst_setup(folder, server, sink, count)
            runs: list[BurstRun] = []
            for label, processes_, threads in shapes:
                result = burst_run(folder, setup, label, processes_, threads, lead)
                runs.append(result)
                print(f"burst {label}: " + json.dumps(result.__dict__), flush=True)
        finally:
            sink.stop()
    _burst_table(runs, len(setup.keys), summary)


def _burst_table(runs: list[BurstRun], count: int, summary: Summary) -> None:
    base = runs[0].drain if runs else float("nan")
    print(
        f"\nburst of {count:,} check-in requests due at 09:00 Amsterdam, sink answers after "
        f"{SINK_DELAY * 1000:.0f} ms (due times from registration; workers on a clock offset)"
    )
    print(
        f"  {'workers':<22} {'drain s':>8} {'speed-up':>8} {'p50 s':>7} {'p99 s':>7} "
        f"{'sent':>6} {'missing':>7} {'twice':>6} {'ready s before':>14}"
    )
    for run in runs:
        print(
            f"  {run.label:<22} {run.drain:8.1f} {base / run.drain:8.2f} {run.p50:7.1f} "
            f"{run.p99:7.1f} {run.sent:6d} {run.missing:7d} {run.duplicated:6d} {run.margin:14.1f}"
        )
        summary.add(
            f"burst {count:,}, {run.label}",
            f"drain {run.drain:.1f} s (speed-up {base / run.drain:.2f}), p50 "
            f"{run.p50:.1f} s, p99 {run.p99:.1f} s, sent {run.sent}, missing {run.missing}, "
            f"twice {run.duplicated}",
        )


def shapes_of(processes_: list[int], threads: int) -> list[tuple[str, int, int]]:
    shapes = [(f"{n} process{'es' if n > 1 else ''} x 1", n, 0) for n in processes_]
    if threads:
        shapes.append((f"2 processes x {threads} threads", 2, threads))
    return shapes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="500 plans, a burst of 2,000")
    parser.add_argument("--horizon-compare", action="store_true")
    parser.add_argument("--sample", type=int, default=300, help="plans in --horizon-compare")
    parser.add_argument(
        "--one-sample", type=int, default=1000, help="plans registered by 1 process"
    )
    parser.add_argument("--repeat", type=int, default=15, help="claims timed in the sweep")
    parser.add_argument("--workers", default="1,2,4", help="worker processes to compare")
    parser.add_argument("--threads", type=int, default=8, help="threads a process; 0: none")
    parser.add_argument(
        "--lead", type=float, default=30.0, help="seconds before 09:00 the workers start"
    )
    parser.add_argument("--skip-registration", action="store_true")
    parser.add_argument("--skip-burst", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.plans, args.burst, args.sample = min(args.plans, 500), min(args.burst, 2000), 100
    for name, value in scale_plans.SECRETS.items():
        os.environ.setdefault(name, value)
    summary = Summary()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as name:
        folder = Path(name)
        if not args.skip_registration:
            registration(folder, args.plans, args.one_sample, summary, args.repeat)
        if args.horizon_compare:
            horizon_compare(folder, args.sample, summary)
            registration_parts(folder, args.sample, summary)
        if not args.skip_burst:
            shapes = shapes_of([int(n) for n in args.workers.split(",")], args.threads)
            burst(folder, args.burst, shapes, args.lead, summary)
    summary.print()


if __name__ == "__main__":
    main()
