"""How much the calendar builder costs over icalendar itself (docs/architecture.md §5).

Builds a 1,000-event calendar (500 meetings, 500 deadlines, each with attendees
and reminders) twice per round: with ``connectors.calendar.ics.build_calendar``
and with the same icalendar calls written out by hand. Checks that both give
the same bytes, then prints medians and the ratio (target: at most 1.2).

    python bench/bench_calendar.py [--events 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from icalendar import Alarm, Calendar, Event, vCalAddress

from config.plan import Plan
from config.settings import Settings
from connectors.calendar.zones import vtimezone
from worker.calendar.events import build_calendar

STAMP = datetime(2027, 1, 2, 8, 30, tzinfo=UTC)
SETTINGS = Settings(uid_domain="bench.example", organizer_email="organizer@bench.example")
START = date(2027, 1, 4)


def person(n: int) -> dict[str, Any]:
    side = "partner" if n % 2 else "team"
    return {"id": f"p{n}", "name": f"Person {n}", "side": side, "email": f"p{n}@bench.example"}


def milestone(n: int) -> dict[str, Any]:
    day = START + timedelta(days=14 + n % 340)  # every reminder rings inside the plan
    if n % 2:
        return {
            "id": f"d{n}",
            "title": f"Deadline {n}",
            "due": day.isoformat(),
            "owner": "p0",
            "deliverable": f"Deliverable {n}",
            "acceptance": "Accepted by the partner",
        }
    return {
        "id": f"m{n}",
        "title": f"Meeting {n}",
        "at": f"{day.isoformat()} {9 + n % 8:02d}:30",
        "duration": "90m",
        "attendees": [f"p{k}" for k in range(n % 3, 6, 2)],
        "location": "https://meet.example/room",
        "description": f"Agenda item {n}",
    }


def bench_plan(events: int) -> Plan:
    return Plan.model_validate(
        {
            "version": 1,
            "id": "bench-plan",
            "title": "Benchmark plan",
            "language": "en",
            "timezone": "Europe/Amsterdam",
            "start": START.isoformat(),
            "end": "2027-12-31",
            "partner": {"name": "Partner", "contact": "p1"},
            "team": {"name": "Team", "lead": "p0"},
            "people": [person(n) for n in range(6)],
            "challenge": {"need": "A need"},
            "goal": {"end_result": "A result", "success_criteria": ["It works"]},
            "milestones": [milestone(n) for n in range(events)],
            "communication": {"remind_before": ["7d", "1d", "2h"], "channels": {"email": {}}},
        }
    )


# -- the same events with icalendar directly ---------------------------------------


def direct_calendar(plan: Plan) -> bytes:
    """What build_calendar writes, as straight-line icalendar calls (the baseline)."""
    calendar = Calendar()
    calendar.add("prodid", "-//pactkeeper//pactkeeper calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", plan.title)
    calendar.add_component(vtimezone(plan.timezone, plan.start.year - 1, plan.end.year))
    organizer = vCalAddress.new(SETTINGS.organizer_email, cn=plan.team.name)
    for item in plan.milestones:
        event = Event()
        uid = f"{uuid5(NAMESPACE_URL, f'{plan.id}/milestone/{item.id}')}@{SETTINGS.uid_domain}"
        event.add("uid", uid)
        event.add("dtstamp", STAMP)
        event.add("sequence", 0)
        owner = f"Owner: {plan.person(item.owner).name}" if item.owner else None
        if item.at is not None:
            event.add("summary", item.title)
            event.add("status", "CONFIRMED")
            start = item.at.replace(tzinfo=plan.zone)
            event.add("dtstart", start)
            event.add("dtend", start + timedelta(minutes=90))
            lines = [item.description, owner]
            triggers = [timedelta(days=-7), timedelta(days=-1), timedelta(hours=-2)]
        else:
            assert item.due is not None
            event.add("summary", f"Deadline: {item.title}")
            event.add("status", "CONFIRMED")
            event.add("dtstart", item.due)
            event.add("dtend", item.due + timedelta(days=1))
            event.add("transp", "TRANSPARENT")
            lines = [
                f"Deliverable: {item.deliverable}",
                f"Accepted when: {item.acceptance}",
                owner,
            ]
            # Absolute alarms at the engine's reminder instants (09:00 in the plan's zone):
            # calendar days keep the wall-clock time, hours are exact.
            nine = datetime(item.due.year, item.due.month, item.due.day, 9, tzinfo=plan.zone)
            triggers = [
                (nine - timedelta(days=7)).astimezone(UTC),
                (nine - timedelta(days=1)).astimezone(UTC),
                nine.astimezone(UTC) - timedelta(hours=2),
            ]
        if item.location:
            event.add("location", item.location)
        event.add("description", "\n".join(line for line in lines if line))
        event.add("organizer", organizer)  # a published calendar names no attendees
        for trigger in triggers:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"Reminder: {item.title}")
            if isinstance(trigger, datetime):  # RFC 5545: a DATE-TIME trigger says so
                alarm.add("trigger", trigger, parameters={"VALUE": "DATE-TIME"})
            else:
                alarm.add("trigger", trigger)
            event.add_component(alarm)
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def ours(plan: Plan) -> bytes:
    return build_calendar(plan, settings=SETTINGS, stamp=STAMP)


def timed(build: Callable[[Plan], bytes], plan: Plan) -> float:
    began = time.perf_counter()
    build(plan)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    plan = bench_plan(args.events)
    same = ours(plan) == direct_calendar(plan)  # also warms caches for both
    runs: dict[str, list[float]] = {"builder": [], "icalendar": []}
    for _ in range(args.rounds):
        runs["builder"].append(timed(ours, plan))
        runs["icalendar"].append(timed(direct_calendar, plan))
    medians = {name: statistics.median(times) for name, times in runs.items()}
    print(f"{args.events} events, {args.rounds} rounds, same bytes: {same}")
    for name, times in runs.items():
        spread = f"min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
        print(f"  {name:<10} median {medians[name] * 1000:8.1f} ms  ({spread})")
    print(f"  ratio builder / icalendar: {medians['builder'] / medians['icalendar']:.3f}")


if __name__ == "__main__":
    main()
