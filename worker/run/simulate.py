"""``pactkeeper simulate``: the real engine on a virtual clock.

It is not a second implementation: it registers the plan in a fresh SQLite
store, then moves a virtual clock from due time to due time and runs the same
Celery tasks (``sweep`` -> ``deliver``, eagerly, in this process) that ``run``
runs on real time. Every connector is the outbox. Check-ins from a CSV are
recorded at their times through the same function as ``pactkeeper checkin``; replies
from a CSV are built as their channel delivers them and go through the inbound code
(``worker.run.simulate_replies``).

Writes ``DIR/outbox/`` (one file per message), ``DIR/log.jsonl`` (one line per
delivery) and, once the plan has closed, ``DIR/handover.zip``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

from config.load import load_plan
from config.notation import parse_datetime
from config.plan import Plan
from config.settings import Settings
from worker import clock, datafolder
from worker.engine import Delivery, Engine
from worker.handover.close import bundle_path
from worker.plans.register import register
from worker.run.csvfile import read_rows, reader
from worker.store import records
from worker.store.sqlite import SqliteStore

STATUSES = ("on_track", "need_help", "blocked", "stopping")


class SimulationError(ValueError):
    """Bad input to a simulation (a broken check-ins CSV); nothing was run."""


@dataclass(frozen=True)
class CheckinRow:
    line: int
    person: str
    at: datetime  # UTC
    status: str
    note: str
    done: tuple[str, ...]


@dataclass
class Simulation:
    deliveries: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    closed: bool = False
    bundle: Path | None = None
    # Check-ins of the CSV that could not be recorded (after the close, before any
    # window...), each "line N: why"; the simulation goes on without them.
    skipped: list[str] = field(default_factory=list)


def read_checkins(path: Path, plan: Plan) -> list[CheckinRow]:
    """Parse the check-ins CSV: ``person,at,status,note[,done]``, ``at`` in the plan's zone."""
    return read_rows(path, lambda handle: _rows(handle, path, plan), SimulationError)


def _rows(handle: IO[str], path: Path, plan: Plan) -> list[CheckinRow]:
    rows = reader(handle, path, ("person", "at", "status", "note"), SimulationError)
    people = {p.id for p in plan.people}
    milestones = {m.id for m in plan.milestones}
    found = [
        _row(raw, line, path, plan, people, milestones) for line, raw in enumerate(rows, start=2)
    ]
    return sorted(found, key=lambda row: (row.at, row.line))


def _row(
    raw: dict[str, Any], line: int, path: Path, plan: Plan, people: set[str], milestones: set[str]
) -> CheckinRow:
    where = f"{path}:{line}"
    person = (raw.get("person") or "").strip()
    if person not in people:
        raise SimulationError(f"{where}: no person '{person}' in the plan")
    status = (raw.get("status") or "").strip()
    if status not in STATUSES:
        raise SimulationError(f"{where}: status '{status}' is not one of {', '.join(STATUSES)}")
    try:
        local = parse_datetime((raw.get("at") or "").strip())
    except ValueError as error:
        raise SimulationError(f"{where}: {error}") from None
    done = tuple((raw.get("done") or "").split())
    unknown = [m for m in done if m not in milestones]
    if unknown:
        raise SimulationError(f"{where}: no milestone '{unknown[0]}' in the plan")
    at = local.replace(tzinfo=plan.zone).astimezone(UTC)
    return CheckinRow(line, person, at, status, (raw.get("note") or "").strip(), done)


def prepare(out: Path) -> None:
    """Start from a clean folder: remove what an earlier simulation wrote there. The folder
    is marked as a virtual clock's: never a real-time data folder, which it would wipe."""
    try:
        datafolder.claim_to_reset(out)
    except datafolder.WrongClock as error:
        raise SimulationError(f"--out: {error}") from None
    for name in ("outbox", "broker", "handover"):
        shutil.rmtree(out / name, ignore_errors=True)
    for name in (
        "log.jsonl",
        "handover.zip",
        "simulation.sqlite3",
        "simulation.sqlite3-wal",
        "simulation.sqlite3-shm",
    ):
        (out / name).unlink(missing_ok=True)


@contextmanager
def eager(engine: Engine, virtual: clock.VirtualClock) -> Iterator[None]:
    """Run the Celery tasks in this process on ``engine`` and the virtual clock."""
    from worker.run import tasks
    from worker.run.app import app

    before_engine, before_eager = tasks._engine, app.conf.task_always_eager
    before_propagates, before_clock = app.conf.task_eager_propagates, clock._current
    tasks.use_engine(engine)
    clock.use(virtual)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_eager_propagates = before_propagates
        app.conf.task_always_eager = before_eager
        clock.use(before_clock)
        tasks._engine = before_engine


def simulate(
    plan_path: Path,
    until: date,
    out: Path,
    checkins: Path | None = None,
    replies: Path | None = None,
) -> Simulation:
    plan = load_plan(plan_path)
    rows = read_checkins(checkins, plan) if checkins else []
    answers = _read_replies(replies, plan)
    prepare(out)
    options: dict[str, Any] = {}
    if replies is not None:
        # Replies need an address to come back to and a token to sign Twilio's posts with;
        # a deployment's own are used when it has them.
        from worker.run import simulate_replies

        base = Settings(data_dir=out, redis_url=None, smtp_host=None, plans_dir=None)
        options["reply_address"] = base.reply_address or simulate_replies.SIMULATED_ADDRESS
        if base.twilio_auth_token is None:
            options["twilio_auth_token"] = simulate_replies.SIMULATED_TOKEN
    settings = Settings(data_dir=out, redis_url=None, smtp_host=None, plans_dir=None, **options)
    engine = Engine(settings, SqliteStore(out / "simulation.sqlite3"), outbox_only=True)
    start = datetime.combine(plan.start, time(0), tzinfo=plan.zone).timestamp()
    end = datetime.combine(until + timedelta(days=1), time(0), tzinfo=plan.zone).timestamp()
    summary = Simulation()
    virtual = clock.VirtualClock(start)
    with (out / "log.jsonl").open("w", encoding="utf-8") as log, eager(engine, virtual):
        engine.listeners.append(lambda d: _log(log, d, summary))
        register(engine, plan, start)
        _run(engine, plan, rows, answers, end, virtual, summary, log)
    summary.closed = engine.store.get_record(records.CLOSED, plan.id) is not None
    kept = bundle_path(settings, plan.id)
    if summary.closed and kept.exists():
        shutil.copyfile(kept, out / "handover.zip")
        summary.bundle = out / "handover.zip"
    engine.close()
    return summary


def _read_replies(path: Path | None, plan: Plan) -> list[Any]:
    if path is None:
        return []
    from worker.run.simulate_replies import RepliesError, read_replies

    try:
        return read_replies(path, plan)
    except RepliesError as error:
        raise SimulationError(str(error)) from None


def _run(
    engine: Engine,
    plan: Plan,
    rows: list[CheckinRow],
    replies: list[Any],
    end: float,
    virtual: clock.VirtualClock,
    summary: Simulation,
    log: IO[str],
) -> None:
    """From moment to moment: what is due, a check-in of the CSV, a reply of the CSV."""
    from worker.run import tasks

    pending, inbound = list(rows), list(replies)
    while True:
        due = engine.store.next_due_time()
        answer = pending[0].at.timestamp() if pending else None
        reply = inbound[0].at.timestamp() if inbound else None
        moments = [m for m in (due, answer, reply) if m is not None and m <= end]
        if not moments:
            return
        moment = min(moments)
        virtual.set(moment)
        if answer is not None and answer == moment:
            _answer(engine, plan, pending.pop(0), moment, summary)
        elif reply is not None and reply == moment:
            _reply(engine, plan, inbound.pop(0), moment, log)
        else:
            tasks.sweep.delay()


def _reply(engine: Engine, plan: Plan, row: Any, now: float, log: IO[str]) -> None:
    from worker.run import simulate_replies

    outcome = simulate_replies.deliver(engine, plan, row, now)
    simulate_replies.log_line(log, row, outcome)


def _answer(engine: Engine, plan: Plan, row: CheckinRow, now: float, summary: Simulation) -> None:
    from worker.checkins.answers import CheckinError, record_checkin

    try:
        record_checkin(engine, plan, row.person, now, row.status, row.note, row.done, source="csv")
    except CheckinError as error:  # as the web form or the CLI would refuse it: said, not fatal
        summary.skipped.append(f"line {row.line}: {error}")


def _log(handle: IO[str], delivery: Delivery, summary: Simulation) -> None:
    if delivery.state != "sent":
        return
    item = delivery.item
    kind = str(item.data.get("log_kind") or item.kind)
    line: dict[str, Any] = {
        "key": item.key,
        "kind": kind,
        "at": datetime.fromtimestamp(delivery.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "recipient": item.recipient,
        "channel": delivery.channel,
        "subject": delivery.subject,
    }
    for name in ("about", "level", "dropout"):
        if name in item.data:
            line[name] = item.data[name]
    handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    handle.flush()
    summary.deliveries += 1
    summary.by_kind[kind] = summary.by_kind.get(kind, 0) + 1
