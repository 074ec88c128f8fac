"""The store behind the engine: Redis when ``PACTKEEPER_REDIS_URL`` is set, else SQLite.

Backends are listed explicitly and imported lazily. Opening a store claims the
data folder for the process's clock (``worker.datafolder``): a real-time process
refuses a rehearsal's folder and the other way round. A rehearsal always keeps
its ledger in SQLite in its own folder, whatever Redis is configured.
"""

from __future__ import annotations

from config.settings import Settings
from worker.store.base import Claim, Item, PlanRecord, ReapResult, Store, SyncResult

__all__ = ["Claim", "Item", "PlanRecord", "ReapResult", "Store", "SyncResult", "open_store"]


def open_store(settings: Settings) -> Store:
    from worker import datafolder

    datafolder.claim(settings.data_dir, virtual=settings.clock_offset != 0)
    if settings.redis_url is not None and not datafolder.rehearsing():
        from worker.store.redis import RedisStore

        return RedisStore(settings.redis_url.get_secret_value(), prefix=settings.redis_prefix)
    from worker.store.sqlite import SqliteStore

    return SqliteStore(settings.data_dir / "pactkeeper.sqlite3")
