"""The calendar feeds (METHOD:PUBLISH): their secret links and their contents.

A feed is the plan's calendar, or one person's part of it, with the SEQUENCEs the
revision store gave (``worker.calendar.revisions``); its DTSTAMP is when an event of
the plan last changed, so its bytes and ETag stay the same until something changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from config.plan import Plan
from worker.calendar.events import build_calendar
from worker.store import records as names

if TYPE_CHECKING:
    from worker.engine import Engine


def feed_stamp(engine: Engine, plan: Plan) -> float:
    """When an event of the plan last changed: the feed's DTSTAMP, so its bytes (and
    ETag) stay the same until something in it changes."""
    stamps = engine.store.get_record(names.CALENDAR_STAMPS, plan.id)
    if stamps is not None:
        return float(stamps["changed"])
    record = engine.store.plan(plan.id)
    return record.updated if record is not None else 0.0


def feed_calendar(engine: Engine, plan: Plan, person_id: str | None, stamp: float) -> bytes:
    """The feed (METHOD:PUBLISH) of the plan or one person, with the SEQUENCEs sent."""
    known = engine.store.records(names.calendar_events(plan.id))
    sequences = {uid: int(record["sequence"]) for uid, record in known.items()}
    moment = datetime.fromtimestamp(stamp, UTC)
    return build_calendar(plan, person_id, engine.settings, moment, sequences, "PUBLISH")
