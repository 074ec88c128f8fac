"""The store behind the engine: Redis when ``PACTKEEPER_REDIS_URL`` is set, else SQLite.

Backends are listed explicitly and imported lazily (STYLE.md rule 3).
"""

from __future__ import annotations

from config.settings import Settings
from worker.store.base import Claim, Item, PlanRecord, ReapResult, Store, SyncResult

__all__ = ["Claim", "Item", "PlanRecord", "ReapResult", "Store", "SyncResult", "open_store"]


def open_store(settings: Settings) -> Store:
    if settings.redis_url is not None:
        from worker.store.redis import RedisStore

        return RedisStore(settings.redis_url.get_secret_value(), prefix=settings.redis_prefix)
    from worker.store.sqlite import SqliteStore

    return SqliteStore(settings.data_dir / "pactkeeper.sqlite3")
