"""Sweep cost: one claim of 1,000 due items among 10,000 and 1,000,000 scheduled.

Compared in the same run with a bare Lua script that does only ZRANGEBYSCORE +
ZREM + ZADD over the same data (the least any claim can do), and the SQLite
store against a bare claim transaction. Prints medians and ratios; asserts
nothing. Targets (issue 3): our claim at most 2x the bare script; 1M/10k at
most 1.3 (the cost follows what is due, not what is scheduled).

With ``--variants`` it first prints where a Redis claim's time goes: the bare
script, the bare script plus each per-key step our claim adds, the claim script
called raw, and ``RedisStore.claim()`` (the script plus building the Claims),
timed in interleaved rounds on the same data (median, and the server's own
share from INFO commandstats).

With ``--pacing`` each Redis size is measured twice in the same run: as before, then
with ``PACE_BUCKETS`` destination buckets (each with a booked slot) in the same Redis, as
a paced deployment has them; the claim never reads them, so the ratio should not move
(issue 15: within 5%). It then prints what pacing adds per delivery where a destination
is paced: one ``take_slot`` script call, beside the least any script call costs.

    python bench/bench_sweep.py [--sizes 10000 1000000] [--due 1000] [--repeat 15]
    python bench/bench_sweep.py --variants [--sizes 10000] [--repeat 41]
    python bench/bench_sweep.py --pacing [--sizes 10000 1000000] [--skip-sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import RedisServer
from worker.store.base import Claim, Item, Pace, claims_of
from worker.store.redis import CLAIM, RedisStore
from worker.store.sqlite import SqliteStore

NOW = 1_800_000_000.0
LEASE = 120.0
PACE_BUCKETS = 10_000
NOTHING = "return 0"  # the least a script call costs: one round trip, no work
BARE = """
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #keys == 0 then return keys end
redis.call('ZREM', KEYS[1], unpack(keys))
local leases = {}
for _, key in ipairs(keys) do
  leases[#leases + 1] = ARGV[3]
  leases[#leases + 1] = key
end
redis.call('ZADD', KEYS[2], unpack(leases))
return keys
"""

# The claim script as it was when issue 15 measured it (3.0x the bare script).
CLAIM_BEFORE = """
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #keys == 0 then return keys end
redis.call('ZREM', KEYS[1], unpack(keys))
local leases, kinds = {}, {}
for i, key in ipairs(keys) do
  local item = ARGV[5] .. key
  redis.call('HSET', item, 'state', 'claimed', 'token', ARGV[4])
  kinds[i] = redis.call('HGET', item, 'kind')
  leases[#leases + 1] = ARGV[3]
  leases[#leases + 1] = key
end
redis.call('ZADD', KEYS[2], unpack(leases))
return {keys, kinds}
"""

# The bare script plus one per-key step of a claim: what each step costs on its own.
STEP = """
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #keys == 0 then return keys end
redis.call('ZREM', KEYS[1], unpack(keys))
local leases = {}
for _, key in ipairs(keys) do
  %s
  leases[#leases + 1] = ARGV[3]
  leases[#leases + 1] = key
end
redis.call('ZADD', KEYS[2], unpack(leases))
return keys
"""
VARIANTS = {
    "bare script": BARE,
    "+ EXISTS per key": STEP % "redis.call('EXISTS', ARGV[5] .. key)",
    "+ HSET state per key": STEP % "redis.call('HSET', ARGV[5] .. key, 'state', 'claimed')",
    "+ HSET state, token": STEP
    % "redis.call('HSET', ARGV[5] .. key, 'state', 'claimed', 'token', ARGV[4])",
    "+ HGET kind per key": STEP % "redis.call('HGET', ARGV[5] .. key, 'kind')",
    "CLAIM before (issue 15)": CLAIM_BEFORE,
    "CLAIM script, raw": CLAIM,
}


def item(number: int, due: float) -> Item:
    return Item(
        key=f"k{number:08d}",
        plan_id="bench",
        kind="reminder",
        due=due,
        ref="m",
        recipient="ana",
        channel="email",
        data={"zone": "Europe/Amsterdam"},
    )


def populate_redis(store: RedisStore, size: int, due: int) -> None:
    store.flush()
    pipe = store.redis.pipeline(transaction=False)
    for number in range(size):
        moment = NOW - 1 - number if number < due else NOW + 86400 + number
        row = {
            name: "" if value is None else str(value)
            for name, value in item(number, moment).to_row().items()
        }
        pipe.hset(store._item(row["key"]), mapping=row)
        pipe.zadd(store._key("due"), {row["key"]: moment})
        if number % 20_000 == 0:
            pipe.execute()
    pipe.execute()


def restore_redis(store: RedisStore, keys: list[str]) -> None:
    pipe = store.redis.pipeline(transaction=False)
    for key in keys:
        number = int(key[1:])
        pipe.zadd(store._key("due"), {key: NOW - 1 - number})
        pipe.hset(store._item(key), mapping={"state": "due", "token": "", "lease": ""})
    pipe.zrem(store._key("lease"), *keys)
    pipe.execute()


def timed(
    ours: Callable[[], list[str]],
    bare: Callable[[], list[str]],
    restore: Callable[[list[str]], None],
    repeat: int,
    expect: int,
) -> tuple[float, float]:
    """Median seconds of ours and of the bare claim, taken in turns: a neighbour's load
    on this shared machine then falls on both alike instead of on one of them."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for action, times in zip((ours, bare), samples, strict=True):
            start = time.perf_counter()
            keys = action()
            times.append(time.perf_counter() - start)
            assert len(keys) == expect, (len(keys), expect)
            restore(keys)
    return statistics.median(samples[0]), statistics.median(samples[1])


def bench_redis(
    sizes: list[int], due: int, repeat: int, pacing: bool = False
) -> dict[int, tuple[float, float]]:
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder), appendonly=False).start()
        try:
            store = RedisStore(server.url, prefix="bench:")
            bare = store.redis.register_script(BARE)
            for size in sizes:
                populate_redis(store, size, due)
                results[size] = claim_ratio(store, bare, size, due, repeat, "")
                if pacing:
                    fill_buckets(store)
                    claim_ratio(store, bare, size, due, repeat, f", {PACE_BUCKETS:,} pace buckets")
            if pacing:
                slot_cost(store, repeat)
            store.flush()
        finally:
            server.stop()
    return results


def claim_ratio(
    store: RedisStore, bare: Any, size: int, due: int, repeat: int, label: str
) -> tuple[float, float]:
    """Our claim and the bare script on the same data, printed with their ratio."""

    def ours() -> list[str]:
        return [c.key for c in store.claim(NOW, due, LEASE)]

    def plain() -> list[str]:
        keys = [store._key("due"), store._key("lease")]
        return list(bare(keys=keys, args=[NOW, due, NOW + LEASE]))

    ours_time, bare_time = timed(ours, plain, lambda k: restore_redis(store, k), repeat, due)
    print(
        f"redis  {size:>9,} scheduled, {due} due{label}: claim {ours_time * 1e3:6.2f} ms,"
        f" bare script {bare_time * 1e3:6.2f} ms, ratio {ours_time / bare_time:4.2f}",
        flush=True,
    )
    return ours_time, bare_time


def fill_buckets(store: RedisStore) -> None:
    """PACE_BUCKETS busy destinations, each with one message booked for a later slot."""
    for number in range(PACE_BUCKETS):
        pace = [Pace(f"slack:{number:08x}", 1.0)]
        store.take_slot(pace, NOW, f"first{number}")
        store.take_slot(pace, NOW, f"second{number}")


def slot_cost(store: RedisStore, repeat: int) -> None:
    """Median seconds of one take_slot (a free bucket: the send goes) and of the least
    script call, in turns; what a paced delivery adds to its round trips."""
    nothing = store.redis.register_script(NOTHING)
    samples: tuple[list[float], list[float]] = ([], [])
    for round_number in range(repeat * 20):
        pace = [Pace(f"free:{round_number}", 1.0)]
        start = time.perf_counter()
        store.take_slot(pace, NOW + round_number, "k")
        samples[0].append(time.perf_counter() - start)
        start = time.perf_counter()
        nothing(keys=[], args=[])
        samples[1].append(time.perf_counter() - start)
    slot, least = statistics.median(samples[0]), statistics.median(samples[1])
    print(
        f"redis  take_slot {slot * 1e3:6.3f} ms, empty script call {least * 1e3:6.3f} ms, "
        f"ratio {slot / least:4.2f} (one per paced delivery; none where unpaced)",
        flush=True,
    )


def bench_variants(size: int, due: int, repeat: int) -> None:
    """Where a claim's time goes: each variant once per round, rounds interleaved so a
    busy neighbour slows them all alike; median wall time and median server time."""
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder), appendonly=False).start()
        try:
            store = RedisStore(server.url, prefix="bench:")
            populate_redis(store, size, due)
            actions = {name: raw_script(store, text, due) for name, text in VARIANTS.items()}
            actions["claim() as before"] = claim_before(store, due)
            actions["RedisStore.claim()"] = lambda: [c.key for c in store.claim(NOW, due, LEASE)]
            wall: dict[str, list[float]] = {name: [] for name in actions}
            busy: dict[str, list[float]] = {name: [] for name in actions}
            for _ in range(repeat):
                for name, action in actions.items():
                    before = script_time(store)
                    start = time.perf_counter()
                    keys = action()
                    wall[name].append(time.perf_counter() - start)
                    busy[name].append(script_time(store) - before)
                    assert len(keys) == due, (name, len(keys), due)
                    restore_redis(store, keys)
            store.flush()
        finally:
            server.stop()
    base = statistics.median(wall["bare script"])
    print(f"redis claim variants, {size:,} scheduled, {due} due, {repeat} rounds (medians)")
    print(f"  {'variant':<24} {'wall ms':>8} {'server ms':>9} {'/ bare':>7}")
    for name in actions:
        median = statistics.median(wall[name])
        print(
            f"  {name:<24} {median * 1e3:8.2f} {statistics.median(busy[name]) * 1e3:9.2f}"
            f" {median / base:7.2f}"
        )
    constructed, filled = claims_time(repeat)
    print(f"  {'1,000 Claim(...)':<24} {constructed * 1e3:8.2f}")
    print(f"  {'1,000 from claims_of':<24} {filled * 1e3:8.2f}")


def raw_script(store: RedisStore, text: str, due: int) -> Callable[[], list[str]]:
    script = store.redis.register_script(text)
    keys = [store._key("due"), store._key("lease")]
    args = [NOW, due, NOW + LEASE, uuid.uuid4().hex, store._key("item", "")]

    def action() -> list[str]:
        reply = script(keys=keys, args=args)
        return list(reply[0] if reply and isinstance(reply[0], list) else reply)

    return action


def claim_before(store: RedisStore, due: int) -> Callable[[], list[str]]:
    """RedisStore.claim() as issue 15 measured it: the old script, Claim(...) per key."""
    script = store.redis.register_script(CLAIM_BEFORE)
    keys = [store._key("due"), store._key("lease")]

    def action() -> list[str]:
        token = uuid.uuid4().hex
        args = [repr(NOW), str(due), repr(NOW + LEASE), token, store._key("item", "")]
        found, kinds = script(keys=keys, args=args)
        claims = [Claim(k, token, kind or "") for k, kind in zip(found, kinds, strict=True)]
        return [c.key for c in claims]

    return action


def script_time(store: RedisStore) -> float:
    """Seconds the server has spent in scripts so far (INFO commandstats)."""
    stats = store.redis.info("commandstats")
    used = sum(stats.get(f"cmdstat_{name}", {}).get("usec", 0) for name in ("evalsha", "eval"))
    return float(used) / 1e6


def claims_time(repeat: int) -> tuple[float, float]:
    """The Python side alone: 1,000 Claims from keys and kinds already decoded, through
    the dataclass constructor and through claims_of (what both stores use)."""
    keys, kinds, token = [f"k{n:08d}" for n in range(1000)], ["reminder"] * 1000, "t" * 32
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        start = time.perf_counter()
        [Claim(key, token, kind) for key, kind in zip(keys, kinds, strict=True)]
        samples[0].append(time.perf_counter() - start)
        start = time.perf_counter()
        claims_of(keys, token, list(kinds))
        samples[1].append(time.perf_counter() - start)
    return statistics.median(samples[0]), statistics.median(samples[1])


def populate_sqlite(store: SqliteStore, size: int, due: int) -> None:
    db = store._db()
    db.execute("DELETE FROM items")
    rows = []
    for number in range(size):
        moment = NOW - 1 - number if number < due else NOW + 86400 + number
        row = item(number, moment).to_row()
        rows.append(tuple(row.values()))
        if len(rows) == 50_000:
            _insert(store, rows)
            rows = []
    _insert(store, rows)


def _insert(store: SqliteStore, rows: list[tuple[object, ...]]) -> None:
    if not rows:
        return
    marks = ", ".join("?" for _ in rows[0])
    with store._write() as db:
        db.executemany(f"INSERT INTO items VALUES ({marks})", rows)


def restore_sqlite(store: SqliteStore, keys: list[str]) -> None:
    with store._write() as db:
        db.executemany(
            "UPDATE items SET state = 'due', token = NULL, lease = NULL WHERE key = ?",
            [(key,) for key in keys],
        )


def bench_sqlite(sizes: list[int], due: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "bench.sqlite3")
        for size in sizes:
            populate_sqlite(store, size, due)

            def ours() -> list[str]:
                return [c.key for c in store.claim(NOW, due, LEASE)]

            def plain() -> list[str]:
                with store._write() as db:
                    keys = [
                        row[0]
                        for row in db.execute(
                            "SELECT key FROM items WHERE state = 'due' AND due <= ? "
                            "ORDER BY due LIMIT ?",
                            (NOW, due),
                        )
                    ]
                    db.executemany(
                        "UPDATE items SET state = 'claimed' WHERE key = ?", [(key,) for key in keys]
                    )
                return keys

            ours_time, bare_time = timed(
                ours, plain, lambda k: restore_sqlite(store, k), repeat, due
            )
            print(
                f"sqlite {size:>9,} scheduled, {due} due: claim {ours_time * 1e3:6.2f} ms, "
                f"bare transaction {bare_time * 1e3:6.2f} ms, ratio "
                f"{ours_time / bare_time:4.2f}",
                flush=True,
            )
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--variants", action="store_true", help="where a claim's time goes")
    parser.add_argument("--pacing", action="store_true", help="also with pace buckets")
    args = parser.parse_args()
    if args.variants:
        for size in args.sizes:
            bench_variants(size, args.due, args.repeat)
        return
    results = bench_redis(args.sizes, args.due, args.repeat, args.pacing)
    if len(args.sizes) >= 2:
        small, large = min(args.sizes), max(args.sizes)
        print(
            f"redis claim {large:,}/{small:,}: {results[large][0] / results[small][0]:4.2f} "
            f"(bare script: {results[large][1] / results[small][1]:4.2f})"
        )
    if not args.skip_sqlite:
        bench_sqlite(args.sizes, args.due, args.repeat)


if __name__ == "__main__":
    main()
