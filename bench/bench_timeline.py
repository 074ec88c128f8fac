"""``timeline.compile`` over 1,000 generated plans (issue 2).

Each plan: 10 people (5 on each side, two of them in America/New_York and one in
Asia/Singapore, some with reachable hours and an away week), 20 milestones (10
meetings, 10 deadlines, each with the plan's reminder offsets), weekly check-ins
for everyone for a year, one pause and a handover meeting. The plans differ in
id, start day and times, so nothing is the same twice.

- compile: every occurrence of every plan (reminders per recipient and channel,
  check-in windows with reachable hours, pauses and away days, kickoff,
  handover, close);
- baseline: the same check-in rules expanded by dateutil alone into naive local
  instants, the bare minimum any scheduler of these plans must do, in the same run.

Target: the whole set under 10 s. Prints figures; asserts nothing.
``python bench/bench_timeline.py [--plans 1000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dateutil.rrule import rrulestr

from config.plan import Plan
from tests.support import minimal_data
from worker import timeline

ZONES = ["Europe/Amsterdam"] * 7 + ["America/New_York"] * 2 + ["Asia/Singapore"]


def plan_data(n: int) -> dict[str, Any]:
    start = date(2027, 1, 4) + timedelta(days=n % 28)
    end = start + timedelta(days=364)
    data = minimal_data()
    data["id"] = f"plan-{n:04d}"
    data["start"], data["end"] = str(start), str(end)
    data["people"] = [
        {
            "id": f"p{k}",
            "name": f"Person {k}",
            "side": "partner" if k < 5 else "team",
            "email": f"p{k}@example.org",
            "timezone": ZONES[k],
            **({"reachable": "Mon-Fri 09:00-17:00"} if k % 3 == 0 else {}),
            **(
                {
                    "away": [
                        {
                            "from": str(start + timedelta(days=70)),
                            "to": str(start + timedelta(days=76)),
                        }
                    ]
                }
                if k % 4 == 1
                else {}
            ),
        }
        for k in range(10)
    ]
    data["partner"]["contact"], data["team"]["lead"] = "p0", "p5"
    data["communication"]["remind_before"] = ["1w", "1d", "2h"]
    data["milestones"] = [
        {
            "id": f"m{k:02d}",
            "title": f"Milestone {k}",
            **(
                {"at": f"{start + timedelta(days=9 + k * 17)}T{10 + n % 6}:00", "duration": "1h"}
                if k % 2 == 0
                else {"due": str(start + timedelta(days=9 + k * 17)), "owner": f"p{5 + k % 5}"}
            ),
        }
        for k in range(20)
    ]
    data["checkins"] = {
        "every": "weekly",
        "on": "monday",
        "at": f"{9 + n % 3:02d}:00",
        "grace": "2d",
        "who": [f"p{k}" for k in range(10)],
        "pauses": [
            {"from": str(start + timedelta(days=120)), "to": str(start + timedelta(days=130))}
        ],
    }
    data["handover"] = {"at": f"{end - timedelta(days=3)}T14:00"}
    return data


def make_plans(count: int) -> list[Plan]:
    plans = []
    for n in range(count):
        plan = Plan.model_validate(plan_data(n))
        plan.attach_source(None, "")
        plans.append(plan)
    return plans


def baseline(plans: list[Plan]) -> int:
    """Weekly rules expanded by dateutil, one series per person: instants only."""
    count = 0
    for plan in plans:
        assert plan.checkins is not None
        begin = datetime.combine(plan.start, plan.checkins.at)
        until = datetime.combine(plan.end, plan.checkins.at)
        for _person in plan.checkin_people():
            rule = rrulestr("FREQ=WEEKLY;BYDAY=MO", dtstart=begin)
            count += len(rule.between(begin, until, inc=True))
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    started = time.perf_counter()
    plans = make_plans(options.plans)
    print(
        f"{len(plans)} plans validated in {time.perf_counter() - started:.1f} s (not timed below)"
    )
    times, base_times, occurrences, instants = [], [], 0, 0
    for _ in range(options.rounds):
        started = time.perf_counter()
        occurrences = sum(len(timeline.compile(plan)) for plan in plans)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
        instants = baseline(plans)
        base_times.append(time.perf_counter() - started)
    compiled, base = statistics.median(times), statistics.median(base_times)
    print(f"compile: {occurrences:,} occurrences in {compiled:.2f} s (median of {options.rounds})")
    print(
        f"  {occurrences / compiled:,.0f} occurrences/s, "
        f"{compiled / len(plans) * 1000:.1f} ms a plan"
    )
    print(
        f"baseline (dateutil expansion of the check-in rules only): {instants:,} instants "
        f"in {base:.2f} s"
    )
    thousand = compiled / len(plans) * 1000
    scaled = "" if len(plans) == 1000 else f" (scaled from {len(plans)} plans)"
    print(
        f"ratio compile/baseline: {compiled / base:.1f}x; 1,000 plans in {thousand:.1f} s"
        f"{scaled}, target under 10 s: {'met' if thousand < 10 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
