"""Detection cost: 100,000 open check-in windows on Redis, of which 1,000 just closed.

500 plans of 10 people with weekly windows for 20 weeks (100,000 scheduled
``checkin_close`` items); the 100 plans whose windows open at 09:00 have just
closed their first window (1,000 closes due), the others open later in the day.
Measured on one redis-server started here, each figure the median of
``--repeat`` runs with the state restored in between (restoring is not timed):

- a bare claim of the 1,000 due members (ZRANGEBYSCORE + ZREM + ZADD in one Lua
  script, the least any sweep can do);
- the check-in step: ``close_windows`` over the 1,000 closed windows (one read of
  each plan's rows, a row for each window without an answer, one ``schedule``
  call for all warnings), with 80% of the windows answered and with none;
- the same step when only those 100 plans exist (20,000 windows): the cost
  follows the closed windows, not all of them; and with 2,000 closed;
- the whole production path per item: the sweep's claim, then for each claim
  ``dispatch.deliver`` (begin, the step for one window, finish).

Prints figures; asserts nothing. Target (issue 6): the check-in step under 50 ms.

    python bench/bench_detection.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_sweep import BARE  # the least any claim of a batch can do
from config.plan import Plan
from config.settings import Settings
from tests.engine import moment
from tests.servers import RedisServer
from tests.support import minimal_data, plan_from
from worker.checkins.detection import close_windows
from worker.delivery import dispatch
from worker.engine import Engine
from worker.plans.register import items_for, register
from worker.store.base import Item
from worker.store.records import checkin_row_id as row_id
from worker.store.records import checkin_rows as collection
from worker.store.redis import RedisStore

PEOPLE = 10
WEEKS = 20
CLOSED_AT = "2027-01-06 09:00"  # Wednesday: Monday 09:00 windows close (grace 2d)
NOW = moment(CLOSED_AT) + 1
HOURS = ("09:00", "10:00", "11:00", "12:00", "13:00")


def plan(number: int, at: str) -> Plan:
    data = minimal_data()
    data["id"] = f"bench-{number:04d}"
    data["end"] = "2027-05-23"  # 20 Mondays from 4 January
    data["people"] = [
        {"id": "pia", "name": "Pia", "side": "partner", "email": "pia@p.example"},
        *(
            {"id": f"m{n}", "name": f"Member {n}", "side": "team", "email": f"m{n}@t.example"}
            for n in range(PEOPLE)
        ),
    ]
    data["partner"]["contact"] = "pia"
    data["team"]["lead"] = "m0"
    data["checkins"] = {"every": "weekly", "on": "monday", "at": at, "grace": "2d", "who": "team"}
    data["milestones"] = [{"id": "launch", "title": "Launch", "due": "2027-05-01", "owner": "m1"}]
    return plan_from(data)


class Setup:
    def __init__(self, server: RedisServer, plans: int, closing: int, prefix: str) -> None:
        self.store = RedisStore(server.url, prefix=prefix)
        self.store.flush()
        settings = Settings(
            data_dir=Path(tempfile.mkdtemp()), redis_url=None, smtp_host=None, plans_dir=None
        )
        self.engine = Engine(settings, self.store, outbox_only=True)
        self.closes: list[Item] = []
        self.plans: list[Plan] = []
        # Registered before the first windows open, so their requests were due and count:
        # a window whose request never went is no miss (and would raise no warning).
        registered = moment("2027-01-04 08:00")
        for number in range(plans):
            one = plan(number, HOURS[0] if number < closing else HOURS[1 + number % 4])
            register(self.engine, one, registered)
            self.plans.append(one)
            self.closes += [i for i in items_for(one) if i.kind == "checkin_close" and i.due <= NOW]
        self._sent_before_the_closes(registered)
        self.open_windows = self.store.redis.zcard(self.store._key("due"))

    def _sent_before_the_closes(self, registered: float) -> None:
        """Everything due before the closes (the requests, the kickoffs) went out: only
        the closes are left in the due index, as on a running deployment."""
        redis = self.store.redis
        due = self.store._key("due")
        closes = {item.key for item in self.closes}
        pipe = redis.pipeline(transaction=False)
        for key in redis.zrangebyscore(due, "-inf", NOW):
            if key not in closes:
                pipe.zrem(due, key)
                pipe.hset(self.store._item(key), mapping={"state": "sent", "sent_at": registered})
        pipe.execute()

    def answer(self, share: float) -> None:
        """Seed answers for ``share`` of the closed windows; remove every other row."""
        redis = self.store.redis
        for one in self.plans:
            redis.delete(self.store._key("rec", collection(one.id)))
        for index, item in enumerate(self.closes):
            if index % 10 < share * 10:
                row = {
                    "person": item.recipient,
                    "window": item.ref,
                    "opens": item.due - 2 * 86400,
                    "closes": item.due,
                    "state": "answered",
                    "status": "on_track",
                    "note": "",
                    "answered_at": item.due - 86400,
                    "revision": 0,
                }
                self.store.put_record(
                    collection(item.plan_id), row_id(str(item.recipient), item.ref), row
                )

    def due_members(self) -> set[str]:
        return set(self.store.redis.zrange(self.store._key("due"), 0, -1))

    def forget(self, before: set[str]) -> None:
        """Remove what a run scheduled (its warnings), so the next run starts the same."""
        redis = self.store.redis
        new = self.due_members() - before
        if new:
            redis.zrem(self.store._key("due"), *new)
            for key in new:
                redis.delete(self.store._item(key))

    def restore_closes(self) -> None:
        redis = self.store.redis
        pipe = redis.pipeline(transaction=False)
        for item in self.closes:
            pipe.hset(
                self.store._item(item.key), mapping={"state": "due", "token": "", "lease": ""}
            )
            pipe.zadd(self.store._key("due"), {item.key: item.due})
        pipe.delete(self.store._key("lease"))
        pipe.execute()


def median_ms(run: Callable[[], Any], restore: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
        restore()
    return statistics.median(times)


def bare_claim(setup: Setup, repeat: int) -> float:
    script = setup.store.redis.register_script(BARE)
    keys = [setup.store._key("due"), setup.store._key("lease")]
    return median_ms(
        lambda: script(keys=keys, args=[NOW, 1000, NOW + 120]), setup.restore_closes, repeat
    )


def step(setup: Setup, share: float, repeat: int) -> tuple[float, float, int]:
    """(cold first run, warm median) of close_windows; the number of warnings it raises."""
    setup.answer(share)
    before = setup.due_members()
    cold_engine = Engine(setup.engine.settings, setup.store, outbox_only=True)
    started = time.perf_counter()
    close_windows(cold_engine, setup.closes, NOW)
    cold = (time.perf_counter() - started) * 1000
    warnings = len(setup.due_members() - before)

    def restore() -> None:
        setup.forget(before)
        setup.answer(share)

    restore()
    close_windows(setup.engine, setup.closes, NOW)  # warm the engine's plan cache
    restore()
    warm = median_ms(lambda: close_windows(setup.engine, setup.closes, NOW), restore, repeat)
    return cold, warm, warnings


def per_item(setup: Setup, share: float, repeat: int, batched: bool) -> float:
    """The production path: the sweep's claim, then the steps (batched, as the sweep task
    runs them, or one ``dispatch.deliver`` per claim, as a redelivered claim runs)."""
    setup.answer(share)
    before = setup.due_members() - {i.key for i in setup.closes}

    others: list[Any] = []

    def run() -> None:
        claims = dispatch.sweep(setup.engine, NOW, limit=1000)
        if batched:
            # The sweep task runs the steps and enqueues the rest (here: kickoffs that are
            # also due; they are put back untimed, in restore()).
            dispatch.run_steps(setup.engine, [c for c in claims if c.kind == "checkin_close"], NOW)
            others.extend(c for c in claims if c.kind != "checkin_close")
            return
        for claim in claims:
            dispatch.deliver(setup.engine, claim, NOW)

    def restore() -> None:
        for claim in others:
            setup.store.release(claim)
        others.clear()
        setup.restore_closes()
        setup.forget(before | {i.key for i in setup.closes})
        setup.answer(share)

    return median_ms(run, restore, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder), appendonly=False).start()
        try:
            report(server, args.repeat)
        finally:
            server.stop()


def report(server: RedisServer, repeat: int) -> None:
    started = time.perf_counter()
    big = Setup(server, plans=500, closing=100, prefix="bench-big:")
    print(
        f"setup: {len(big.plans)} plans, {len(big.plans) * PEOPLE * WEEKS:,} open windows "
        f"({big.open_windows:,} items in the due index, requests included), "
        f"{len(big.closes):,} just closed ({time.perf_counter() - started:.0f} s to register)"
    )
    bare = bare_claim(big, repeat)
    print(f"bare claim of {len(big.closes):,} due members:            {bare:7.1f} ms")
    for share, label in ((0.8, "80% answered"), (0.0, "none answered")):
        cold, warm, warnings = step(big, share, repeat)
        print(
            f"check-in step, {label:13}: {warm:7.1f} ms  ({warm / bare:4.1f}x bare; "
            f"first run with cold caches {cold:.0f} ms; {warnings} warnings)"
        )
    small = Setup(server, plans=100, closing=100, prefix="bench-small:")
    _, warm_small, _ = step(small, 0.8, repeat)
    print(
        f"same 1,000 closed among {len(small.plans) * PEOPLE * WEEKS:,} open windows: "
        f"{warm_small:7.1f} ms "
        "(80% answered)"
    )
    double = Setup(server, plans=500, closing=200, prefix="bench-double:")
    _, warm_double, _ = step(double, 0.8, repeat)
    print(
        f"{len(double.closes):,} closed among {len(double.plans) * PEOPLE * WEEKS:,} open windows: "
        f"{warm_double:7.1f} ms (80% answered)"
    )
    for share, label in ((0.8, "80% answered"), (0.0, "none answered")):
        swept = per_item(big, share, repeat, batched=True)
        print(
            f"the sweep's check-in step (claim, read, decide, settle), {label}: "
            f"{swept:.0f} ms ({swept / bare:4.1f}x bare)"
        )
    whole = per_item(big, 0.8, max(3, repeat // 2), batched=False)
    print(
        f"one deliver per claim (claim, begin, step, finish), 80% answered: {whole:.0f} ms "
        f"({whole / len(big.closes):.2f} ms a window)"
    )
    for setup in (big, small, double):
        setup.store.flush()
        setup.store.close()


if __name__ == "__main__":
    main()
