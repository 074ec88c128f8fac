"""CalDAV sync of a 200-event plan to a real Radicale on loopback (issue 4).

The plan: 100 meetings, 98 deadlines, the handover meeting and one check-in
series, 200 calendar events. Each phase registers the plan (which revises the
SEQUENCEs and queues the push) and then runs the push, the way the ``caldav``
step does; the figures are wall time and the requests made, counted by our client
and, independently, from Radicale's own log:

1. first sync: every event is created;
2. no-op re-sync: the same plan again (target: no writes);
3. one moved meeting: one PUT.

Prints figures; asserts nothing. ``python bench/bench_caldav.py [--rounds 5]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.plan import Plan
from connectors.calendar.caldav import CalendarCollection
from tests.engine import make_engine, moment
from tests.support import minimal_data, plan_from
from tests.system.test_calendar_caldav import PASSWORD, USER, Radicale
from worker.calendar.events import events_for
from worker.calendar.push import PushResult, push
from worker.engine import Engine
from worker.plans.register import register

START = date(2027, 1, 4)
MEETINGS, DEADLINES = 100, 98


def plan_data(shift: int = 0) -> dict[str, Any]:
    data = minimal_data()
    data["id"] = "bench-caldav"
    data["end"] = "2027-12-31"
    data["people"].append({"id": "tom", "name": "Tom", "side": "team", "email": "tom@t.example"})
    meetings = [
        {
            "id": f"meeting-{n:03d}",
            "title": f"Working session {n}",
            "at": f"{START + timedelta(days=7 + n * 3)} {10 + (shift if n == 50 else 0)}:00",
            "duration": "1h",
            "location": "Utrecht",
        }
        for n in range(MEETINGS)
    ]
    deadlines = [
        {
            "id": f"deadline-{n:03d}",
            "title": f"Deliverable {n}",
            "due": str(START + timedelta(days=8 + n * 3)),
            "owner": "tom",
        }
        for n in range(DEADLINES)
    ]
    data["milestones"] = meetings + deadlines
    data["checkins"] = {"every": "weekly", "on": "monday", "who": ["tom"]}
    data["handover"] = {"at": "2027-12-20 14:00", "duration": "1h"}
    return data


def phase(
    engine: Engine, radicale: Radicale, url: str, plan: Plan, now: float
) -> tuple[float, float, PushResult, Counter[str]]:
    """(register seconds, push seconds, what the push did, what Radicale logged)."""
    mark = radicale.mark()
    began = time.perf_counter()
    register(engine, plan, now)
    registered = time.perf_counter()
    result = push(engine, plan, now, CalendarCollection(url, (USER, PASSWORD)))
    pushed = time.perf_counter()
    return registered - began, pushed - registered, result, radicale.counts_since(mark)


def line(name: str, seconds: tuple[float, float], result: PushResult, logged: Counter[str]) -> str:
    ours = ", ".join(f"{n} {m}" for m, n in sorted(result.requests.items()))
    server = ", ".join(f"{n} {m}" for m, n in sorted(logged.items()))
    return (
        f"{name:<22} register {seconds[0] * 1000:7.1f} ms   push {seconds[1] * 1000:8.1f} ms   "
        f"writes {result.writes:3d}   requests: {ours} (Radicale log: {server})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="no-op re-syncs to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        radicale = Radicale(tmp / "radicale").start()
        try:
            url = radicale.calendar("bench")
            engine = make_engine(tmp, caldav_url=url, caldav_user=USER, caldav_password=PASSWORD)
            plan = plan_from(plan_data())
            events = len(events_for(plan))
            now = moment("2027-01-04 08:00")
            print(f"plan: {events} events ({MEETINGS} meetings, {DEADLINES} deadlines,")
            print("      the handover, one check-in series); Radicale on loopback, htpasswd auth")
            register_s, push_s, result, logged = phase(engine, radicale, url, plan, now)
            print(line("first sync", (register_s, push_s), result, logged))
            timings = []
            for n in range(args.rounds):
                register_s, push_s, result, logged = phase(engine, radicale, url, plan, now + n + 1)
                timings.append((register_s, push_s))
            print(
                line(
                    f"no-op re-sync (med {args.rounds})",
                    (
                        statistics.median(t[0] for t in timings),
                        statistics.median(t[1] for t in timings),
                    ),
                    result,
                    logged,
                )
            )
            moved = plan_from(plan_data(shift=2))
            register_s, push_s, result, logged = phase(engine, radicale, url, moved, now + 60)
            print(line("one moved meeting", (register_s, push_s), result, logged))
        finally:
            radicale.stop()


if __name__ == "__main__":
    main()
