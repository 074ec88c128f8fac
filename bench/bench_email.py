"""E-mail throughput to a local aiosmtpd, and template rendering speed.

1. Our SMTP connector through the engine (sweep, claim, compose, send, ledger;
   SQLite store, one process) beside a plain smtplib loop that builds the same
   messages with the same builder and sends them over one connection, in the same
   run. Target (issue 5): a ratio of at least 0.5.
2. Rendering: Dutch reminder messages composed per second (templates, Babel
   dates, Markdown to HTML), beside rendering the bare Jinja template alone.

Prints figures; asserts nothing. ``python bench/bench_email.py [--count 1000]``
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.plan import Plan
from config.settings import Settings
from connectors.email import build_email
from tests.smtp_sink import start_smtp
from tests.support import minimal_data, plan_from
from worker.delivery import compose as composing
from worker.delivery import dispatch
from worker.engine import Engine
from worker.plans.register import register
from worker.store.base import Item
from worker.store.sqlite import SqliteStore

NOW = 1_807_000_000.0


def plan(language: str) -> Plan:
    data = minimal_data()
    data["language"] = language
    data["milestones"] = [
        {
            "id": "m",
            "title": "Evaluatie met het bestuur",
            "at": "2027-06-10 19:30",
            "duration": "1h",
            "attendees": ["tim"],
            "location": "Voedselbank, Vaartsche Rijn 1, Utrecht",
            "remind": ["1d"],
        }
    ]
    return plan_from(data)


def reminders(plan_id: str, count: int) -> list[Item]:
    return [
        Item(
            key=f"mail{n:06d}",
            plan_id=plan_id,
            kind="reminder",
            ref="m",
            due=NOW,
            recipient="tim",
            channel="email",
            origin="engine",
            data={"zone": "Europe/Amsterdam"},
        )
        for n in range(count)
    ]


def engine_for(folder: Path, port: int, the_plan: Plan, name: str) -> Engine:
    settings = Settings(
        data_dir=folder / name,
        redis_url=None,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        secret_key="bench-signing-key-0123456789",
        plans_dir=None,
    )
    engine = Engine(settings, SqliteStore(folder / name / "store.sqlite3"))
    register(engine, the_plan, NOW - 1)
    return engine


def through_engine(engine: Engine, the_plan: Plan, count: int) -> float:
    engine.store.schedule(reminders(the_plan.id, count))
    start = time.perf_counter()
    while claims := dispatch.sweep(engine, NOW):
        for claim in claims:
            dispatch.deliver(engine, claim, NOW)
    return time.perf_counter() - start


def plain_loop(engine: Engine, the_plan: Plan, port: int, count: int) -> float:
    person = the_plan.person("tim")
    start = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port)
    for item in reminders(the_plan.id, count):
        message = composing.compose(engine, the_plan, item, person, "email", NOW)
        smtp.send_message(build_email(message, engine.settings), to_addrs=[person.email or ""])
    smtp.quit()
    return time.perf_counter() - start


def rendering(engine: Engine, the_plan: Plan, count: int) -> tuple[float, float]:
    person = the_plan.person("tim")
    item = reminders(the_plan.id, 1)[0]
    start = time.perf_counter()
    for _ in range(count):
        composing.compose(engine, the_plan, item, person, "email", NOW)
    full = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(count):
        composing.render_parts(
            "reminder",
            "nl",
            person=person,
            plan=the_plan,
            plan_title=the_plan.title,
            meeting=True,
            title="x",
            when="maandag",
            duration="1 uur",
            location="",
            attendees="",
            contact="Bram",
            response_time=None,
        )
    bare = time.perf_counter() - start
    return count / full, count / bare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        sink = start_smtp(folder / "smtp")
        try:
            the_plan = plan("nl")
            ours, plain = [], []
            for round_number in range(args.repeat):
                engine = engine_for(folder, sink.port, the_plan, f"e{round_number}")
                plain.append(plain_loop(engine, the_plan, sink.port, args.count))
                ours.append(through_engine(engine, the_plan, args.count))
                engine.close()
            ours_time, plain_time = statistics.median(ours), statistics.median(plain)
            print(
                f"e-mail: plain smtplib loop {args.count / plain_time:6.0f}/s, through the "
                f"engine {args.count / ours_time:6.0f}/s, ratio {plain_time / ours_time:4.2f} "
                f"(medians of {args.repeat}, {args.count} messages each)"
            )
            engine = engine_for(folder, sink.port, the_plan, "render")
            full, bare = rendering(engine, the_plan, args.count)
            print(
                f"rendering: Dutch reminder composed (text + HTML) {full:6.0f}/s; "
                f"the bare Jinja template {bare:6.0f}/s"
            )
        finally:
            sink.stop()


if __name__ == "__main__":
    main()
