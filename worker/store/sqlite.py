"""The embedded store: one SQLite file, WAL, one writer at a time.

Every state change is a conditional UPDATE inside ``BEGIN IMMEDIATE``, so the
Celery worker processes, the beat and the command line can share the file. The
due index is a partial index on ``due`` over the items in state ``due``: a sweep
reads only what is due, however many items are scheduled.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from worker.store.base import (
    ITEM_FIELDS,
    OPEN_STATES,
    Claim,
    Item,
    Pace,
    PaceState,
    PlanRecord,
    ReapResult,
    Store,
    SyncResult,
    book_slot,
    claims_of,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
    plan_id TEXT PRIMARY KEY, text TEXT NOT NULL, digest TEXT NOT NULL,
    updated REAL NOT NULL, source TEXT NOT NULL DEFAULT '', horizon REAL
);
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY, plan_id TEXT NOT NULL, kind TEXT NOT NULL, due REAL NOT NULL,
    ref TEXT NOT NULL DEFAULT '', recipient TEXT, channel TEXT, origin TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}', state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    token TEXT, lease REAL, detail TEXT NOT NULL DEFAULT '', sent_at REAL,
    subject TEXT NOT NULL DEFAULT '', channel_used TEXT
);
CREATE INDEX IF NOT EXISTS items_due ON items (due) WHERE state = 'due';
CREATE INDEX IF NOT EXISTS items_lease ON items (lease) WHERE state IN ('claimed', 'sending');
CREATE INDEX IF NOT EXISTS items_plan ON items (plan_id, state);
CREATE TABLE IF NOT EXISTS revisions (
    uid TEXT PRIMARY KEY, sequence INTEGER NOT NULL, digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    collection TEXT NOT NULL, record_id TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (collection, record_id)
);
CREATE TABLE IF NOT EXISTS once_flags (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS follow_ups (key TEXT PRIMARY KEY, mark TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pace (
    bucket TEXT PRIMARY KEY, tat REAL NOT NULL, factor REAL NOT NULL, held REAL NOT NULL,
    went REAL NOT NULL, expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pace_expires ON pace (expires);
CREATE TABLE IF NOT EXISTS pace_booked (
    bucket TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (bucket, key)
);
"""

_COLUMNS = ", ".join(ITEM_FIELDS)


class SqliteStore(Store):
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._db().executescript(SCHEMA)  # executescript manages its own transaction
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added since a store file was made (``CREATE TABLE IF NOT EXISTS``
        leaves an existing table as it was)."""
        db = self._db()
        columns = {row["name"] for row in db.execute("PRAGMA table_info(plans)")}
        if "horizon" not in columns:
            with self._write() as writing:
                writing.execute("ALTER TABLE plans ADD COLUMN horizon REAL")

    # -- connections -------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            # Deleted and overwritten rows are zeroed, not left in free pages: erased
            # personal data must not stay in the file (docs/architecture.md §17).
            db.execute("PRAGMA secure_delete=ON")
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- plans ---------------------------------------------------------------------------

    def plan(self, plan_id: str) -> PlanRecord | None:
        row = self._db().execute("SELECT * FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
        return PlanRecord(**dict(row)) if row else None

    def plan_digest(self, plan_id: str) -> str | None:
        row = (
            self._db().execute("SELECT digest FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
        )
        return str(row[0]) if row else None

    def plan_digests(self, plan_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(plan_ids), 500):  # under SQLite's limit of parameters
            chunk = plan_ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._db().execute(
                f"SELECT plan_id, digest FROM plans WHERE plan_id IN ({marks})",  # noqa: S608
                chunk,
            )
            found.update((plan_id, digest) for plan_id, digest in rows)
        return found

    def plan_ids(self) -> list[str]:
        rows = self._db().execute("SELECT plan_id FROM plans ORDER BY plan_id").fetchall()
        return [row[0] for row in rows]

    def sync(self, record: PlanRecord, items: list[Item], now: float, grace: float) -> SyncResult:
        result = SyncResult()
        wanted = {item.key: item for item in items}
        with self._write() as db:
            db.execute(
                "INSERT INTO plans (plan_id, text, digest, updated, source, horizon) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (plan_id) DO UPDATE SET text = excluded.text, "
                "digest = excluded.digest, updated = excluded.updated, source = excluded.source, "
                "horizon = excluded.horizon",
                (
                    record.plan_id,
                    record.text,
                    record.digest,
                    record.updated,
                    record.source,
                    record.horizon,
                ),
            )
            known = {
                row["key"]: row["state"]
                for row in db.execute(
                    "SELECT key, state FROM items WHERE plan_id = ? AND origin = 'plan'",
                    (record.plan_id,),
                )
            }
            for key, item in wanted.items():
                state = known.get(key)
                if state is not None and state != "cancelled":
                    result.kept += 1
                    continue
                fresh = "expired" if item.due < now - grace else "due"
                self._upsert(db, item, fresh)
                (result.expired if fresh == "expired" else result.added).append(key)
            for key, state in known.items():
                if key not in wanted and state in ("due", "claimed"):
                    db.execute(
                        "UPDATE items SET state = 'cancelled', token = NULL, lease = NULL "
                        "WHERE key = ? AND state IN ('due', 'claimed')",
                        (key,),
                    )
                    result.removed.append(key)
        return result

    def _upsert(self, db: sqlite3.Connection, item: Item, state: str) -> None:
        row = item.to_row()
        row.update(state=state, token=None, lease=None)
        db.execute(
            f"INSERT OR REPLACE INTO items ({_COLUMNS}) VALUES "  # noqa: S608 - fixed names
            f"({', '.join('?' for _ in ITEM_FIELDS)})",
            [row[name] for name in ITEM_FIELDS],
        )

    # -- due index and ledger -------------------------------------------------------------

    def schedule(self, items: list[Item]) -> list[str]:
        added = []
        with self._write() as db:
            for item in items:
                row = item.to_row()
                cursor = db.execute(
                    f"INSERT OR IGNORE INTO items ({_COLUMNS}) VALUES "  # noqa: S608
                    f"({', '.join('?' for _ in ITEM_FIELDS)})",
                    [row[name] for name in ITEM_FIELDS],
                )
                if cursor.rowcount:
                    added.append(item.key)
        return added

    def claim(self, now: float, limit: int, lease: float) -> list[Claim]:
        token = uuid.uuid4().hex
        with self._write() as db:
            rows = db.execute(
                "SELECT key, kind FROM items WHERE state = 'due' AND due <= ? ORDER BY due LIMIT ?",
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE items SET state = 'claimed', token = ?, lease = ? "
                "WHERE key = ? AND state = 'due'",
                [(token, now + lease, key) for key, _ in rows],
            )
        return claims_of([key for key, _ in rows], token, [kind for _, kind in rows])

    def settle(self, claims: list[Claim], now: float, details: dict[str, str]) -> list[str]:
        settled = []
        with self._write() as db:
            for claim in claims:
                cursor = db.execute(
                    "UPDATE items SET state = 'sent', detail = ?, sent_at = ?, lease = NULL "
                    "WHERE key = ? AND state = 'claimed' AND token = ?",
                    (details.get(claim.key, ""), now, claim.key, claim.token),
                )
                if cursor.rowcount:
                    settled.append(claim.key)
        return settled

    def get_many(self, keys: list[str]) -> list[Item]:
        found: dict[str, Item] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            query = f"SELECT {_COLUMNS} FROM items WHERE key IN ({marks})"  # noqa: S608
            for row in self._db().execute(query, chunk):
                item = Item.from_row(dict(row))
                found[item.key] = item
        return [found[key] for key in keys if key in found]

    def begin(self, claim: Claim, now: float, lease: float) -> Item | None:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE items SET state = 'sending', lease = ? "
                "WHERE key = ? AND state = 'claimed' AND token = ?",
                (now + lease, claim.key, claim.token),
            )
            if not cursor.rowcount:
                return None
            row = db.execute(
                f"SELECT {_COLUMNS} FROM items WHERE key = ?",  # noqa: S608
                (claim.key,),
            ).fetchone()
        return Item.from_row(dict(row))

    def finish(
        self,
        claim: Claim,
        state: str,
        now: float,
        detail: str = "",
        subject: str = "",
        channel: str | None = None,
        follow_up: str = "",
    ) -> bool:
        assert state in ("sent", "failed", "unknown")
        with self._write() as db:
            cursor = db.execute(
                "UPDATE items SET state = ?, detail = ?, subject = ?, sent_at = ?, "
                "channel_used = COALESCE(?, channel_used), lease = NULL "
                "WHERE key = ? AND state = 'sending' AND token = ?",
                (state, detail, subject, now, channel, claim.key, claim.token),
            )
            if cursor.rowcount and follow_up:
                _mark(db, claim.key, follow_up)
        return bool(cursor.rowcount)

    def retry(
        self,
        claim: Claim,
        due: float,
        detail: str,
        channel: str | None = None,
        *,
        counted: bool = True,
    ) -> bool:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE items SET state = 'due', due = ?, detail = ?, attempts = attempts + ?, "
                "channel = COALESCE(?, channel), token = NULL, lease = NULL "
                "WHERE key = ? AND state = 'sending' AND token = ?",
                (due, detail, int(counted), channel, claim.key, claim.token),
            )
        return bool(cursor.rowcount)

    def release(self, claim: Claim) -> bool:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE items SET state = 'due', token = NULL, lease = NULL "
                "WHERE key = ? AND state = 'claimed' AND token = ?",
                (claim.key, claim.token),
            )
        return bool(cursor.rowcount)

    def reap(self, now: float, limit: int = 1000) -> ReapResult:
        result = ReapResult()
        with self._write() as db:
            rows = db.execute(
                "SELECT key, state FROM items WHERE state IN ('claimed', 'sending') "
                "AND lease <= ? ORDER BY lease LIMIT ?",
                (now, limit),
            ).fetchall()
            for key, state in rows:
                if state == "claimed":
                    db.execute(
                        "UPDATE items SET state = 'due', token = NULL, lease = NULL "
                        "WHERE key = ? AND state = 'claimed'",
                        (key,),
                    )
                    result.returned.append(key)
                else:
                    db.execute(
                        "UPDATE items SET state = 'unknown', lease = NULL, "
                        "detail = 'the worker stopped while sending' "
                        "WHERE key = ? AND state = 'sending'",
                        (key,),
                    )
                    _mark(db, key, "unknown")
                    result.unknown.append(key)
        return result

    def follow_ups(self, limit: int = 1000) -> list[tuple[str, str]]:
        rows = (
            self._db()
            .execute("SELECT key, mark FROM follow_ups ORDER BY key LIMIT ?", (limit,))
            .fetchall()
        )
        return [(key, mark) for key, mark in rows]

    def followed_up(self, key: str, mark: str) -> bool:
        with self._write() as db:
            cursor = db.execute("DELETE FROM follow_ups WHERE key = ? AND mark = ?", (key, mark))
        return bool(cursor.rowcount)

    def requeue(self, key: str, expect: str, due: float, detail: str) -> bool:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE items SET state = 'due', due = ?, detail = ?, attempts = attempts + 1, "
                "token = NULL, lease = NULL WHERE key = ? AND state = ?",
                (due, detail, key, expect),
            )
        return bool(cursor.rowcount)

    def get(self, key: str) -> Item | None:
        row = (
            self._db()
            .execute(
                f"SELECT {_COLUMNS} FROM items WHERE key = ?",  # noqa: S608
                (key,),
            )
            .fetchone()
        )
        return Item.from_row(dict(row)) if row else None

    def items(self, plan_id: str, states: tuple[str, ...] | None = None) -> list[Item]:
        query = f"SELECT {_COLUMNS} FROM items WHERE plan_id = ?"  # noqa: S608
        args: list[Any] = [plan_id]
        if states:
            query += f" AND state IN ({', '.join('?' for _ in states)})"
            args.extend(states)
        rows = self._db().execute(query + " ORDER BY due, key", args).fetchall()
        return [Item.from_row(dict(row)) for row in rows]

    def counts(self, plan_id: str | None = None) -> dict[str, int]:
        if plan_id is None:
            rows = self._db().execute("SELECT state, COUNT(*) FROM items GROUP BY state")
        else:
            rows = self._db().execute(
                "SELECT state, COUNT(*) FROM items WHERE plan_id = ? GROUP BY state", (plan_id,)
            )
        return {state: count for state, count in rows}

    def next_due(self, limit: int, plan_id: str | None = None) -> list[Item]:
        query = f"SELECT {_COLUMNS} FROM items WHERE state = 'due'"  # noqa: S608
        args: list[Any] = []
        if plan_id is not None:
            query += " AND plan_id = ?"
            args.append(plan_id)
        rows = self._db().execute(query + " ORDER BY due LIMIT ?", [*args, limit]).fetchall()
        return [Item.from_row(dict(row)) for row in rows]

    def next_due_time(self) -> float | None:
        row = self._db().execute("SELECT MIN(due) FROM items WHERE state = 'due'").fetchone()
        return float(row[0]) if row and row[0] is not None else None

    # -- pacing -----------------------------------------------------------------------------

    def take_slot(self, paces: list[Pace], now: float, key: str) -> float:
        buckets = [pace.bucket for pace in paces]
        with self._write() as db:
            states = _pace_states(db, buckets, now, key)
            at = book_slot(states, paces, now)
            _save_paces(db, buckets, states, key)
        return at

    def narrow_slot(self, paces: list[Pace], now: float, hold_until: float, factor: float) -> None:
        buckets = [pace.bucket for pace in paces]
        with self._write() as db:
            states = _pace_states(db, buckets, now, None)
            for state, pace in zip(states, paces, strict=True):
                state.narrow(pace, now, hold_until, factor)
            _save_paces(db, buckets, states, None)
            db.executemany("DELETE FROM pace_booked WHERE bucket = ?", [(b,) for b in buckets])

    # -- calendar revisions ---------------------------------------------------------------

    def revise(self, uid: str, digest: str) -> tuple[int, bool]:
        with self._write() as db:
            return _revise(db, uid, digest)

    def revise_all(self, pairs: list[tuple[str, str]]) -> list[tuple[int, bool]]:
        if not pairs:
            return []
        with self._write() as db:
            return [_revise(db, uid, digest) for uid, digest in pairs]

    def revision(self, uid: str) -> tuple[int, str] | None:
        row = (
            self._db()
            .execute("SELECT sequence, digest FROM revisions WHERE uid = ?", (uid,))
            .fetchone()
        )
        return (int(row[0]), str(row[1])) if row else None

    # -- records and once-flags ------------------------------------------------------------

    def put_record(
        self, collection: str, record_id: str, data: dict[str, Any], only_if_absent: bool = False
    ) -> bool:
        verb = "INSERT OR IGNORE" if only_if_absent else "INSERT OR REPLACE"
        with self._write() as db:
            cursor = db.execute(
                f"{verb} INTO records VALUES (?, ?, ?)", (collection, record_id, _dumps(data))
            )
        return bool(cursor.rowcount)

    def put_records(
        self, records: dict[str, dict[str, dict[str, Any]]], only_if_absent: bool = False
    ) -> dict[str, list[str]]:
        verb = "INSERT OR IGNORE" if only_if_absent else "INSERT OR REPLACE"
        written: dict[str, list[str]] = {}
        with self._write() as db:
            for collection, entries in records.items():
                for record_id, data in entries.items():
                    cursor = db.execute(
                        f"{verb} INTO records VALUES (?, ?, ?)",
                        (collection, record_id, _dumps(data)),
                    )
                    if cursor.rowcount:
                        written.setdefault(collection, []).append(record_id)
        return written

    def records_of(self, collections: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
        return {collection: self.records(collection) for collection in collections}

    def get_record(self, collection: str, record_id: str) -> dict[str, Any] | None:
        row = (
            self._db()
            .execute(
                "SELECT data FROM records WHERE collection = ? AND record_id = ?",
                (collection, record_id),
            )
            .fetchone()
        )
        return _loads(row[0]) if row else None

    def put_record_once(
        self, collection: str, record_id: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        with self._write() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO records VALUES (?, ?, ?)",
                (collection, record_id, _dumps(data)),
            )
            if cursor.rowcount:
                return None
            row = db.execute(
                "SELECT data FROM records WHERE collection = ? AND record_id = ?",
                (collection, record_id),
            ).fetchone()
        return _loads(row[0])

    def update_record(
        self,
        collection: str,
        record_id: str,
        expect: dict[str, Any],
        changes: dict[str, Any],
        seen: dict[str, Any] | None = None,  # a hint; the transaction reads anyway
    ) -> bool:
        with self._write() as db:
            row = db.execute(
                "SELECT data FROM records WHERE collection = ? AND record_id = ?",
                (collection, record_id),
            ).fetchone()
            if row is None:
                return False
            data = _loads(row[0])
            if any(data.get(name) != value for name, value in expect.items()):
                return False
            data.update(changes)
            db.execute(
                "UPDATE records SET data = ? WHERE collection = ? AND record_id = ?",
                (_dumps(data), collection, record_id),
            )
        return True

    def records(self, collection: str) -> dict[str, dict[str, Any]]:
        rows = self._db().execute(
            "SELECT record_id, data FROM records WHERE collection = ? ORDER BY record_id",
            (collection,),
        )
        return {record_id: _loads(data) for record_id, data in rows}

    def once(self, name: str) -> bool:
        with self._write() as db:
            cursor = db.execute("INSERT OR IGNORE INTO once_flags VALUES (?)", (name,))
        return bool(cursor.rowcount)

    # -- erasure ------------------------------------------------------------------------

    def cancel(self, keys: list[str]) -> list[str]:
        cancelled = []
        with self._write() as db:
            for key in keys:
                cursor = db.execute(
                    "UPDATE items SET state = 'cancelled', token = NULL, lease = NULL "
                    "WHERE key = ? AND state IN ('due', 'claimed')",
                    (key,),
                )
                if cursor.rowcount:
                    cancelled.append(key)
        return cancelled

    def rewrite(self, items: list[Item]) -> list[str]:
        rewritten = []
        names = [name for name in ITEM_FIELDS if name not in ("key", "plan_id", "state")]
        assignments = ", ".join(f"{name} = ?" for name in names)
        with self._write() as db:
            for item in items:
                if item.state in OPEN_STATES:
                    continue
                row = item.to_row()
                cursor = db.execute(
                    f"UPDATE items SET {assignments} "  # noqa: S608 - fixed names
                    "WHERE key = ? AND plan_id = ? AND state = ?",
                    [row[name] for name in names] + [item.key, item.plan_id, item.state],
                )
                if cursor.rowcount:
                    rewritten.append(item.key)
        return rewritten

    def delete_plan(self, plan_id: str) -> int:
        with self._write() as db:
            db.execute(
                "DELETE FROM follow_ups WHERE key IN (SELECT key FROM items WHERE plan_id = ?)",
                (plan_id,),
            )
            removed = db.execute("DELETE FROM items WHERE plan_id = ?", (plan_id,)).rowcount
            db.execute("DELETE FROM plans WHERE plan_id = ?", (plan_id,))
        return int(removed)

    def delete_records(self, collection: str, record_ids: list[str] | None = None) -> int:
        with self._write() as db:
            if record_ids is None:
                cursor = db.execute("DELETE FROM records WHERE collection = ?", (collection,))
                return int(cursor.rowcount)
            removed = 0
            for record_id in record_ids:
                removed += db.execute(
                    "DELETE FROM records WHERE collection = ? AND record_id = ?",
                    (collection, record_id),
                ).rowcount
        return removed

    def compact(self) -> None:
        """Copy the live pages into the main file and empty the write-ahead log, which
        still holds old page images; then VACUUM, which rebuilds the file without free
        pages. A reader in another process may keep the log from being emptied; the next
        compaction finishes it."""
        db = self._db()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _mark(db: sqlite3.Connection, key: str, problem: str) -> None:
    """Record what must still happen about an item's outcome, in the caller's transaction."""
    db.execute(
        "INSERT OR REPLACE INTO follow_ups (key, mark) "
        "SELECT key, ? || ':' || attempts FROM items WHERE key = ?",
        (problem, key),
    )


def _pace_states(
    db: sqlite3.Connection, buckets: list[str], now: float, key: str | None
) -> list[PaceState]:
    """The buckets as they stand at ``now``, with what each booked for ``key``. A bucket
    whose state ran out is new again: its row and bookings go, as Redis expires its key."""
    gone = [row[0] for row in db.execute("SELECT bucket FROM pace WHERE expires < ?", (now,))]
    db.executemany("DELETE FROM pace_booked WHERE bucket = ?", [(b,) for b in gone])
    db.execute("DELETE FROM pace WHERE expires < ?", (now,))
    marks = ", ".join("?" for _ in buckets)
    rows = db.execute(
        f"SELECT bucket, tat, factor, held, went FROM pace WHERE bucket IN ({marks})",  # noqa: S608
        buckets,
    )
    found = {row[0]: PaceState(row[1], row[2], row[3], went=row[4]) for row in rows}
    booked = dict(
        db.execute(
            f"SELECT bucket, at FROM pace_booked WHERE key = ? AND bucket IN ({marks})",  # noqa: S608
            [key, *buckets],
        ).fetchall()
    )
    states = [found.get(bucket) or PaceState(now) for bucket in buckets]
    for bucket, state in zip(buckets, states, strict=True):
        state.mine = booked.get(bucket)
    return states


def _save_paces(
    db: sqlite3.Connection, buckets: list[str], states: list[PaceState], key: str | None
) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO pace (bucket, tat, factor, held, went, expires) "
        "VALUES (?,?,?,?,?,?)",
        [
            (bucket, state.tat, state.factor, state.held, state.went, state.expires)
            for bucket, state in zip(buckets, states, strict=True)
        ],
    )
    if key is None:
        return
    for bucket, state in zip(buckets, states, strict=True):
        if state.mine is None:
            db.execute("DELETE FROM pace_booked WHERE bucket = ? AND key = ?", (bucket, key))
        else:
            db.execute(
                "INSERT OR REPLACE INTO pace_booked (bucket, key, at) VALUES (?,?,?)",
                (bucket, key, state.mine),
            )


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _loads(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def _revise(db: sqlite3.Connection, uid: str, digest: str) -> tuple[int, bool]:
    """One revision inside a write transaction: see ``Store.revise``."""
    row = db.execute("SELECT sequence, digest FROM revisions WHERE uid = ?", (uid,)).fetchone()
    if row is None:
        db.execute("INSERT INTO revisions VALUES (?, 0, ?)", (uid, digest))
        return 0, True
    if row["digest"] == digest:
        return int(row["sequence"]), False
    sequence = int(row["sequence"]) + 1
    db.execute(
        "UPDATE revisions SET sequence = ?, digest = ? WHERE uid = ?", (sequence, digest, uid)
    )
    return sequence, True
