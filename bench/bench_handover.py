"""Handover bundle build time for a one-year plan, 20 people, weekly check-ins (issue 7).

The plan runs 2027-01-04 to 2027-12-31 with 20 people (10 on each side), all of
them checking in every Monday (1,040 windows), 24 milestones and a handover
meeting. The year is played on the engine's own functions (every reminder and
check-in request goes to the outbox); about four in five windows get an answer
with a note, and half the deadlines are ticked off. Then the plan is closed and
the bundle built, several times:

- bundle: ``build_bundle`` (gather the facts from the store, write the report,
  the SVG, the CSVs, the calendar, the runbook, make the bag, zip it);
- baseline: zipping the same payload files with ``zipfile`` alone (deflate,
  nothing else), in the same run, so the ratio says what the bundle costs
  beyond compressing its bytes.

Target: the bundle under 2 s. Prints figures; asserts nothing.
``python bench/bench_handover.py [--rounds 5]``
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.engine import make_engine, moment, run_until
from tests.support import minimal_data, plan_from
from worker.checkins.answers import CheckinError, record_checkin
from worker.handover import close as handover
from worker.plans.register import register

START, END = date(2027, 1, 4), date(2027, 12, 31)
PEOPLE = 20
MILESTONES = 24
NOTES = ("Loopt goed", "Wacht op feedback", "Test draait", "Even druk op het werk", "Klaar")


def plan_data() -> dict[str, Any]:
    data = minimal_data()
    data["id"] = "bench-handover"
    data["language"] = "nl"
    data["start"], data["end"] = str(START), str(END)
    data["people"] = [
        {
            "id": f"p{n:02d}",
            "name": f"Persoon {n}",
            "side": "partner" if n < PEOPLE // 2 else "team",
            "email": f"p{n:02d}@example.org",
            "phone": f"+316{n:08d}",
        }
        for n in range(PEOPLE)
    ]
    data["partner"]["contact"], data["team"]["lead"] = "p00", f"p{PEOPLE // 2:02d}"
    data["milestones"] = [
        {
            "id": f"m{n:02d}",
            "title": f"Mijlpaal {n}",
            "due": str(START + timedelta(days=14 + n * 14)),
            "owner": f"p{PEOPLE // 2 + n % (PEOPLE // 2):02d}",
        }
        for n in range(MILESTONES)
    ]
    data["checkins"] = {
        "every": "weekly",
        "on": "monday",
        "grace": "2d",
        "who": [p["id"] for p in data["people"]],
    }
    data["handover"] = {"at": "2027-12-20T14:00"}
    return data


def played(folder: Path) -> tuple[Any, Any, float]:
    plan = plan_from(plan_data())
    engine = make_engine(folder)
    register(engine, plan, moment("2027-01-01 00:00"))
    chance = random.Random(7)
    day = START
    answers = 0
    while day <= END:
        run_until(engine, moment(f"{day} 11:00"))
        for person in plan.people:
            if chance.random() < 0.8:
                try:
                    record_checkin(
                        engine,
                        plan,
                        person.id,
                        moment(f"{day} 11:00"),
                        chance.choice(("on_track", "on_track", "on_track", "need_help")),
                        chance.choice(NOTES),
                        source="bench",
                    )
                    answers += 1
                except CheckinError:
                    pass  # a window that is not open (a holiday of the rule)
        day += timedelta(days=7)
    for n, milestone in enumerate(plan.milestones):
        if n % 2 == 0 and milestone.due is not None:
            from worker.checkins.answers import mark_done

            mark_done(engine, plan, milestone.id, moment(f"{milestone.due} 09:00"))
    closing = moment("2028-01-01 00:00")
    run_until(engine, closing + 3 * 86400)
    print(f"played the year: {answers} check-ins answered", flush=True)
    return engine, plan, closing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        engine, plan, closing = played(Path(tmp))
        if engine.store.get_record(handover.CLOSED, plan.id) is None:
            handover.close_plan(engine, plan, closing)
        windows = len(engine.store.records(f"checkins:{plan.id}"))
        deliveries = sum(1 for i in engine.store.items(plan.id) if i.state == "sent")
        times, base_times = [], []
        data = b""
        for _ in range(rounds):
            started = time.perf_counter()
            data = handover.build_bundle(engine, plan, closing + 86400)
            times.append(time.perf_counter() - started)
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                files = {i.filename: archive.read(i) for i in archive.infolist()}
            started = time.perf_counter()
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as plain:
                for name, content in files.items():
                    plain.writestr(name, content)
            base_times.append(time.perf_counter() - started)
        bundle, base = statistics.median(times), statistics.median(base_times)
        print(
            f"plan: {len(plan.people)} people, {len(plan.milestones)} milestones, "
            f"{windows or 'n/a'} check-in rows, {deliveries} deliveries sent"
        )
        print(f"bundle: {len(data):,} bytes, {len(files)} files in the zip")
        print(f"build_bundle median of {rounds}: {bundle:.3f} s (min {min(times):.3f} s)")
        print(f"baseline (zip the same files, deflate only): {base:.3f} s")
        print(
            f"ratio bundle/baseline: {bundle / base:.1f}x; target under 2 s: "
            f"{'met' if bundle < 2 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
