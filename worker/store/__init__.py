"""The store behind the engine: Redis when ``PACTKEEPER_REDIS_URL`` is set, else SQLite.

Backends are listed explicitly and imported lazily. Opening a store claims the
data folder for the process's clock (``worker.datafolder``): a real-time process
refuses a rehearsal's folder and the other way round. A rehearsal always keeps
its ledger in SQLite in its own folder, whatever Redis is configured.
"""

from __future__ import annotations

import hmac

from config.errors import SettingsError
from config.settings import Settings
from worker import datafolder
from worker.store.base import Claim, Item, Pace, PlanRecord, ReapResult, Store, SyncResult

__all__ = [
    "Claim",
    "Item",
    "Pace",
    "PlanRecord",
    "ReapResult",
    "Store",
    "SyncResult",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    datafolder.claim(settings.data_dir, virtual=settings.clock_offset != 0)
    if settings.redis_url is not None and not datafolder.rehearsing():
        from worker.store.redis import store_for

        store = store_for(settings)  # URL, TLS files, Sentinels (docs/redis-ha.md)
        same_key_as_the_store(store, settings)
        return store
    from worker.store.sqlite import SqliteStore

    return SqliteStore(settings.data_dir / "pactkeeper.sqlite3")


KEY_RECORD = ("deployment", "signing-key")


def same_key_as_the_store(store: Store, settings: Settings) -> None:
    """Refuse a signing key other than the one that signed the store's links.

    On Redis the ledger and ``DATA_DIR/secret_key`` live apart: a lost data volume, or a
    container with a folder of its own, would make a new key next to an existing store
    and silently break every link already sent. The store keeps a fingerprint of the
    first key (an HMAC, never the key) and every process compares its own with it.
    """
    fingerprint = hmac.new(settings.signing_key, b"pactkeeper key id", "sha256").hexdigest()
    there = store.put_record_once(*KEY_RECORD, {"fingerprint": fingerprint[:32]})
    if there is None or there.get("fingerprint") == fingerprint[:32]:
        return
    record = f"{settings.redis_prefix}rec:{KEY_RECORD[0]} {KEY_RECORD[1]}"
    raise SettingsError(
        "the signing key is not the one that signed the links of the partnerships in this "
        "Redis store (was DATA_DIR/secret_key lost, or PACTKEEPER_SECRET_KEY changed?): "
        "restore the old key; to start over with this key on purpose (every link sent so far "
        f"stops working), remove the fingerprint: redis-cli -u URL HDEL {record}"
    )
