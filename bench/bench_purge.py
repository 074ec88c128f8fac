"""``purge`` of 1,000 closed plans, on SQLite and on Redis (issue 16).

Each plan is the Dutch example (examples/voedselbank.yaml) under its own id, registered
(its ~160 ledger items, all past: none left in the due index), closed at its end, with
a check-in answer with a note per week for three people and a few outbox files. Then
every plan is purged at once, as the beat does (``retention.purge_due``: one compaction
for the lot).

- purge: the time of ``purge_due`` for all plans, and per plan; of it, finding the due
  plans (a fresh engine parses each stored plan text once for its keep_days; a running
  worker has them cached);
- baseline: registering the same plans, measured in the same run: the ratio says what
  erasing a plan costs beside putting it in;
- size: the SQLite file (with -wal and -shm) and Redis ``used_memory`` before and after.

The Redis server is started here on a free port (no persistence). Each figure is the
median of ``--rounds`` runs, each on a fresh store. Prints figures; asserts nothing.
``python bench/bench_purge.py [--plans 1000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.load import load_text
from config.plan import Plan
from config.settings import SQLITE_STORE, Settings
from tests.servers import RedisServer
from worker import timeline
from worker.engine import Engine
from worker.plans.register import register
from worker.privacy import retention
from worker.store import Store, records
from worker.store.redis import RedisStore
from worker.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "examples" / "voedselbank.yaml").read_text(encoding="utf-8")
YEAR = 366 * 24 * 3600.0


def make_plans(count: int) -> list[Plan]:
    """The example under ``count`` ids (the text differs, so each is its own plan)."""
    original = "id: voedselbank-aanmelden"
    return [
        load_text(EXAMPLE.replace(original, f"id: voedselbank-{n:04d}"), f"plan {n}")
        for n in range(count)
    ]


@dataclass
class Round:
    register: float
    purge: float
    finding: float  # of which: finding the due plans (each stored plan text parsed once)
    before: int
    after: int
    plans: int


def fill(engine: Engine, plans: list[Plan]) -> float:
    """Register, close and give each plan a few records and outbox files; the register
    time (the baseline)."""
    started = time.perf_counter()
    for plan in plans:
        # Registered after its close: every item is past (``expired``), none in the due
        # index, as in a store whose plans ran to their end.
        register(engine, plan, timeline.Compiler(plan).close.timestamp() + 3600)
    registered = time.perf_counter() - started
    outbox = engine.settings.outbox_dir
    outbox.mkdir(parents=True, exist_ok=True)
    for plan in plans:
        close = timeline.Compiler(plan).close.timestamp()
        engine.store.put_record(records.CLOSED, plan.id, {"at": close})
        rows = {
            records.checkin_row_id(person, f"2027-01-{day:02d}"): {
                "person": person,
                "window": f"2027-01-{day:02d}",
                "opens": close - 100 * 24 * 3600,
                "closes": close - 98 * 24 * 3600,
                "state": "answered",
                "status": "on_track",
                "note": f"{person} werkt aan het formulier, week {day}",
                "answered_at": close - 99 * 24 * 3600,
            }
            for person in ("bram", "chris", "eva")
            for day in (11, 18, 25)
        }
        engine.store.put_records({records.checkin_rows(plan.id): rows})
        for n in range(3):
            name = f"20270111T0{n}0000Z_{plan.id}_reminder_ana_email_k{n}.eml"
            (outbox / name).write_bytes(b"To: ana@voedselbank.example\r\n\r\nHallo Ana")
    return registered


def one_round(
    plans: list[Plan], folder: Path, make: Callable[[Path], Store], size: Callable[[Store], int]
) -> Round:
    settings = Settings(data_dir=folder, redis_url=None, smtp_host=None, plans_dir=None)
    store = make(folder)
    engine = Engine(settings, store, outbox_only=True)
    registered = fill(engine, plans)
    store.compact()
    before = size(store)
    now = max(timeline.Compiler(p).close.timestamp() for p in plans) + YEAR + 24 * 3600
    started = time.perf_counter()
    retention.real_time_only(engine)
    retention.housekeeping(engine, now)
    due = [plan_id for plan_id, _ in retention.due_for_purge(engine, now)]
    finding = time.perf_counter() - started
    done = retention.purge_plans(engine, due, now)  # what purge_due does, timed in two
    took = time.perf_counter() - started
    after = size(store)
    engine.close()
    return Round(registered, took, finding, before, after, len(done))


def sqlite_size(folder: Path) -> Callable[[Store], int]:
    def measure(_: Store) -> int:
        names = (SQLITE_STORE, f"{SQLITE_STORE}-wal", f"{SQLITE_STORE}-shm")
        return sum((folder / n).stat().st_size for n in names if (folder / n).exists())

    return measure


def redis_size(store: Store) -> int:
    assert isinstance(store, RedisStore)
    return int(store.redis.info("memory")["used_memory"])


def run(name: str, plans: list[Plan], rounds: int, server: RedisServer | None) -> None:
    found = []
    for n in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if server is None:
                found.append(
                    one_round(
                        plans,
                        folder,
                        lambda f: SqliteStore(f / SQLITE_STORE),
                        sqlite_size(folder),
                    )
                )
            else:
                prefix = f"bench{n}:"
                found.append(
                    one_round(
                        plans,
                        folder,
                        lambda _, p=prefix: RedisStore(server.url, prefix=p),
                        redis_size,
                    )
                )
                RedisStore(server.url, prefix=prefix).flush()
    purge = statistics.median(r.purge for r in found)
    finding = statistics.median(r.finding for r in found)
    baseline = statistics.median(r.register for r in found)
    before = statistics.median(r.before for r in found)
    after = statistics.median(r.after for r in found)
    count = found[0].plans
    print(
        f"{name:7} purge {count} plans: {purge:7.2f} s ({purge / count * 1000:6.2f} ms a plan, "
        f"{finding:6.2f} s of it finding them); "
        f"register them (baseline): {baseline:7.2f} s; purge/register {purge / baseline:4.2f}; "
        f"store {before / 1e6:7.2f} MB -> {after / 1e6:6.2f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    plans = make_plans(options.plans)
    print(f"{len(plans)} plans, median of {options.rounds} rounds each")
    run("sqlite", plans, options.rounds, None)
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder), appendonly=False).start()
        try:
            run("redis", plans, options.rounds, server)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
