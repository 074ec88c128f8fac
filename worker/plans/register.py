"""Registering a plan: the store schedules exactly what the plan schedules, atomically.

``register`` turns the plan's timeline into ledger items (``items_for``), applies them
with ``Store.sync`` and then queues the calendar changes the plan makes
(``worker.calendar.revisions.queue_changes``). A plan closed early keeps nothing after
its close; a plan registered after its start still gets its kickoff, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config.load import PlanError, Problem, load_plan, read_yaml
from config.plan import Plan
from worker import timeline
from worker.calendar.revisions import CalendarChanges, queue_changes
from worker.delivery.draft import StepResult
from worker.engine import SYNC_GRACE, Engine, IdTaken, digest_of
from worker.plans import horizon
from worker.privacy.holdings import without_erased
from worker.privacy.keeping import refusal
from worker.store import Item, PlanRecord, SyncResult, records


class PlanPurged(PlanError):
    """The plan's id belongs to a partnership whose personal data was erased: a plan file
    with that id is refused, so the erased people do not come back."""

    def __init__(self, plan: Plan, reason: str) -> None:
        super().__init__(str(plan.path or plan.id), [Problem(1, 1, "id", reason)])
        self.reason = reason
        # Said once per version of the refused file, whichever process reads it.
        self.once_key = f"purged:{plan.id}:{plan.path}:{digest_of(plan.text)}"


def items_for(plan: Plan, until: float | None = None) -> list[Item]:
    """The ledger items of a plan: the occurrences the engine acts on, and a check of each
    deadline when its due date is over (an overdue deadline is reminded to owner and lead);
    with ``until``, those due at or before it (the rolling horizon)."""
    limit = datetime.fromtimestamp(until, UTC) if until is not None else None
    occurrences = timeline.compile(plan, limit)
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
        if limit is not None and over > limit:
            continue
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
    under their pseudonym, without their data (``worker.privacy.holdings``). A plan whose
    id was purged is refused (``PlanPurged``): its people do not come back."""
    purged_why = refusal(engine, plan.id)
    if purged_why is not None:
        raise PlanPurged(plan, purged_why)
    plan, erased = without_erased(engine, plan)
    source = str(plan.path.resolve()) if plan.path else ""
    other = _registered_elsewhere(engine, plan.id, source)
    if other is not None:
        raise IdTaken(plan, other)
    previous = engine.store.plan(plan.id)
    days = engine.settings.horizon_days
    end = horizon.horizon_end(days, now, previous)
    record = PlanRecord(plan.id, plan.text, digest_of(plan.text), now, source, end)
    items = items_for(plan, end)
    closed = engine.store.get_record(records.CLOSED, plan.id)
    if closed is not None:
        # A plan closed early (pactkeeper close) keeps nothing after its close.
        items = [item for item in items if item.due <= float(closed["at"])]
    grace = horizon.sync_grace(SYNC_GRACE, now, previous)
    result = engine.store.sync(record, items, now, grace)
    top_up = horizon.top_up(plan, end, days) if end is not None and closed is None else None
    if top_up is not None:
        engine.store.schedule([top_up])
    _late_kickoffs(engine, plan, result, now)
    return Registration(plan, result, queue_changes(engine, plan, now), erased)


def extend(engine: Engine, item: Item, now: float) -> StepResult:
    """The ``horizon`` step: register the stored plan again, the horizon moved on."""
    registration = register(engine, engine.plan(item.plan_id), now)
    stored = engine.store.plan(item.plan_id)
    until = stored.horizon if stored is not None else None
    ends = datetime.fromtimestamp(until, UTC).date().isoformat() if until else "the end"
    return StepResult(f"scheduled up to {ends}: {len(registration.result.added)} added")


def later(engine: Engine, plan: Plan) -> list[Item]:
    """What the plan schedules beyond its horizon, not in the due index yet (what ``status``
    counts as due with the rest): the items a top-up will add, as registering would."""
    stored = engine.store.plan(plan.id)
    if stored is None or stored.horizon is None:
        return []
    closed = engine.store.get_record(records.CLOSED, plan.id)
    if closed is not None:
        return []
    plan, _ = without_erased(engine, plan)
    found = [item for item in items_for(plan) if item.due > stored.horizon]
    return sorted(found, key=lambda item: item.due)


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
