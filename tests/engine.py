"""Driving the engine's plain functions in tests: register, then sweep and deliver at ``now``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config.pacing import UNPACED
from config.plan import Plan
from config.settings import Settings
from worker.delivery import dispatch
from worker.engine import Delivery, Engine
from worker.plans.register import register
from worker.store.base import Store
from worker.store.sqlite import SqliteStore

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def moment(text: str, zone: ZoneInfo = AMSTERDAM) -> float:
    """'2027-03-10 12:00' in a zone as POSIX seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def make_engine(tmp: Path, store: Store | None = None, **settings: Any) -> Engine:
    options: dict[str, Any] = {
        "data_dir": tmp / "data",
        "redis_url": None,
        "plans_dir": None,
        "smtp_host": None,
        "secret_key": "test-signing-key",
        # Every send at once, as before pacing; tests of pacing pass pacing="" (the defaults).
        "pacing": UNPACED,
    }
    options.update(settings)
    chosen = store or SqliteStore(tmp / "data" / "store.sqlite3")
    return Engine(Settings(**options), chosen)


def run_due(engine: Engine, now: float) -> list[Delivery]:
    """Sweep and deliver everything due at ``now``, as the beat and workers would."""
    done: list[Delivery] = []
    while claims := dispatch.sweep(engine, now):
        for claim in claims:
            delivery = dispatch.deliver(engine, claim, now)
            if delivery is not None:
                done.append(delivery)
    return done


def run_until(engine: Engine, end: float) -> list[Delivery]:
    """Jump from due time to due time up to ``end`` (what simulate does, without Celery)."""
    done: list[Delivery] = []
    while (due := engine.store.next_due_time()) is not None and due <= end:
        done.extend(run_due(engine, due))
    return done


def registered(engine: Engine, plan: Plan, now: float) -> Engine:
    register(engine, plan, now)
    return engine
