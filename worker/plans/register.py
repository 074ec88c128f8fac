"""Registering a plan: the store schedules exactly what the plan schedules, atomically.

``register`` turns the plan's timeline into ledger items (``items_for``), applies them
with ``Store.sync`` and then queues the calendar changes the plan makes
(``worker.calendar.revisions.queue_changes``). A plan closed early keeps nothing after
its close; a plan registered after its start still gets its kickoff, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from config.load import PlanError, load_plan, read_yaml
from config.plan import Plan
from worker import timeline
from worker.calendar.revisions import CalendarChanges, queue_changes
from worker.engine import SYNC_GRACE, Engine, IdTaken, digest_of
from worker.privacy.holdings import without_erased
from worker.store import Item, PlanRecord, SyncResult, records


def items_for(plan: Plan) -> list[Item]:
    """The ledger items of a plan: the occurrences the engine acts on, and a check of each
    deadline when its due date is over (an overdue deadline is reminded to owner and lead)."""
    occurrences = timeline.compile(plan)
    items = [
        Item(
            key=o.key,
            plan_id=plan.id,
            kind=o.kind,
            due=o.at.timestamp(),
            ref=o.ref,
            recipient=o.recipient,
            channel=o.channel,
            data=_data(o),
        )
        for o in occurrences
        if o.kind in timeline.ACTIONS
    ]
    for milestone in plan.deadlines():
        assert milestone.due is not None
        # The morning after the due date, at the plan's deadline time.
        clock = plan.communication.deadline_time
        over = timeline.local_moment(milestone.due + timedelta(days=1), clock, plan.zone)
        key = timeline.occurrence_key(plan.id, "deadline_check", milestone.id, None, None, over)
        items.append(
            Item(
                key=key,
                plan_id=plan.id,
                kind="deadline_check",
                due=over.timestamp(),
                ref=milestone.id,
            )
        )
    return items


def _data(occurrence: timeline.Occurrence) -> dict[str, Any]:
    data: dict[str, Any] = {"zone": occurrence.zone}
    if occurrence.offset is not None:
        data["offset"] = occurrence.offset.text()
    return data


@dataclass
class Registration:
    plan: Plan
    result: SyncResult
    calendar: CalendarChanges | None = None
    erased: list[str] = field(default_factory=list)  # erased people the file still names


def register(engine: Engine, plan: Plan, now: float) -> Registration:
    """Make the store schedule exactly what ``plan`` schedules, atomically; then queue
    the calendar changes (invites, cancellations, the CalDAV push) it makes.

    A person erased with ``pactkeeper forget`` whom the file still names is registered
    under their pseudonym, without their data (``worker.privacy.holdings``)."""
    plan, erased = without_erased(engine, plan)
    source = str(plan.path.resolve()) if plan.path else ""
    other = _registered_elsewhere(engine, plan.id, source)
    if other is not None:
        raise IdTaken(plan, other)
    record = PlanRecord(plan.id, plan.text, digest_of(plan.text), now, source)
    items = items_for(plan)
    closed = engine.store.get_record(records.CLOSED, plan.id)
    if closed is not None:
        # A plan closed early (pactkeeper close) keeps nothing after its close.
        items = [item for item in items if item.due <= float(closed["at"])]
    grace = SYNC_GRACE
    result = engine.store.sync(record, items, now, grace)
    _late_kickoffs(engine, plan, result, now)
    return Registration(plan, result, queue_changes(engine, plan, now), erased)


def _registered_elsewhere(engine: Engine, plan_id: str, source: str) -> str | None:
    """The other plan file this id is registered from, when that file still holds it.

    A copied plan whose id was not changed must not replace the live partnership. A
    plan file that was moved or renamed, or whose id changed, gives the id up."""
    stored = engine.store.plan(plan_id)
    if stored is None or not stored.source or not source or stored.source == source:
        return None
    return stored.source if _file_id(Path(stored.source)) == plan_id else None


def _file_id(path: Path) -> str | None:
    """The top-level ``id`` written in a plan file, valid plan or not; None if unreadable."""
    try:
        data = read_yaml(path.read_text(encoding="utf-8-sig"), str(path)).data
    except (OSError, UnicodeDecodeError, PlanError):
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return found.strip() if isinstance(found, str) else None


def _late_kickoffs(engine: Engine, plan: Plan, result: SyncResult, now: float) -> None:
    """A plan registered after its start still gets its kickoff (the runbook), once."""
    closes = timeline.Compiler(plan).close.timestamp()
    if now >= closes:
        return
    for key in result.expired:
        item = engine.store.get(key)
        if item is not None and item.kind == "kickoff":
            engine.store.requeue(key, "expired", now, "registered after the start")


def register_file(engine: Engine, path: Path, now: float) -> Registration:
    """Load (and so validate) a plan file, then register it."""
    return register(engine, load_plan(path), now)
