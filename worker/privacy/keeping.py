"""How long a plan's personal data is kept, and whether it is gone: read by ``status``,
``sync``, the bundle link and the purge itself (docs/architecture.md §17).

A plan's people, notes, replies and deliveries are kept ``keep_days`` (the plan's
``privacy.keep_days``, else ``PACTKEEPER_RETENTION_DAYS``) after its close; a plan that
has not closed yet is reckoned from the close its timeline schedules.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from worker import timeline
from worker.kickoff.privacy import keep_days
from worker.plans.closed import closed_at
from worker.store import records

if TYPE_CHECKING:
    from config.plan import Plan
    from worker.engine import Engine

DAY = 24 * 3600.0


def purge_date(engine: Engine, plan: Plan) -> float | None:
    """The moment the plan's personal data goes: its close (or the close its timeline
    schedules) plus ``keep_days``; None once it has gone."""
    if purged(engine, plan.id) is not None:
        return None
    closed = closed_at(engine, plan.id)
    close = closed if closed is not None else timeline.Compiler(plan).close.timestamp()
    return close + keep_days(engine.settings, plan) * DAY


def kept_until(plan: Plan, moment: float | None) -> date | None:
    """The last day, in the plan's zone, that its personal data is kept: the day before the
    purge date's (the privacy notice names the purge date's own day as the day it goes)."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment - 1, ZoneInfo(plan.timezone)).date()


def purged(engine: Engine, plan_id: str) -> dict[str, Any] | None:
    """The plan's ``PURGED`` record ({"at", "closed", "report"}) once its data was erased."""
    return engine.store.get_record(records.PURGED, plan_id)


def day(moment: float) -> str:
    """``2027-03-01``: the (UTC) day of a moment, as status and refusals name it."""
    return datetime.fromtimestamp(moment, UTC).date().isoformat()


def refusal(engine: Engine, plan_id: str) -> str | None:
    """Why a plan file with this id is not registered: its data was erased (else None)."""
    found = purged(engine, plan_id)
    if found is None:
        return None
    return (
        f"plan {plan_id} closed on {day(float(found['closed']))} and its personal data was "
        f"erased on {day(float(found['at']))}; a new partnership needs a new id"
    )
