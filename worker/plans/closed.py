"""Whether, and since when, a plan was closed: the read of its ``closed`` record.

Read by check-ins (no answer is recorded after the close), the web form and the handover,
which writes the record (``worker.handover.close.close_plan``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from worker.store.records import CLOSED

if TYPE_CHECKING:
    from worker.engine import Engine


def closed_at(engine: Engine, plan_id: str) -> float | None:
    record = engine.store.get_record(CLOSED, plan_id)
    return float(record["at"]) if record else None
