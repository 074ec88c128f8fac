"""``purge``: a closed plan's personal data erased ``keep_days`` after its close
(docs/architecture.md §17, Retention).

What goes: the plan text and every item of the ledger (people, addresses, subjects,
details), every record of the plan (check-ins with their notes, replies, opt-outs,
calendar answers...), its rows of the inbound log, its outbox files and the copy of the
handover bundle. What stays: the ``PURGED`` record with the status report stripped of
every personal field (counts, dates, milestone ids and titles, states), the ``CLOSED``
record, the calendar revisions and one ``ERASURES`` audit row without personal data.

The order makes a purge that dies half-way finish at the next run: the stripped report
is written first (once), then the data is deleted, the store compacted, the audit row
written and the ``PURGED`` record marked finished. Until it is, the plan is due again.

The same beat step deletes, for every plan, the inbound rate counters of hours before
the previous one and the WhatsApp sessions older than 24 hours: they are keyed by
address or phone number and have no use after that.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from config.load import PlanError
from connectors.outbox import files_of
from worker.datafolder import clock_of
from worker.delivery.channels import SESSION
from worker.engine import PlanGone
from worker.handover.close import bundle_path
from worker.inbound.replies import RATE_WINDOW
from worker.kickoff.privacy import keep_days
from worker.privacy.keeping import DAY, day, purge_date, purged
from worker.status import plan_status
from worker.store import records

if TYPE_CHECKING:
    from pathlib import Path

    from worker.engine import Engine

__all__ = [
    "Purge",
    "RetentionError",
    "due_for_purge",
    "purge",
    "purge_date",
    "purge_due",
    "purge_plans",
]

log = logging.getLogger("pactkeeper.retention")

FINISHED = "finished"  # set in the PURGED record once every step is done


class RetentionError(Exception):
    """A purge that may not run (a plan not closed, a rehearsal's data folder)."""


@dataclass
class Purge:
    """What a purge of one plan deleted (or, in a dry run, would delete)."""

    plan_id: str
    closed: float
    when: float  # the purge date: close + keep_days
    items: int = 0
    records: int = 0
    outbox_files: int = 0
    bundle: int = 0  # 1 when the copy of the bundle under DATA_DIR/handover/ goes
    inbound: int = 0  # rows of the inbound log that came to the plan
    dry_run: bool = False
    collections: dict[str, int] = field(default_factory=dict)
    # The outbox files found when counting, deleted by the purge: listing the outbox is
    # the costly part of it with many plans, so it is done once.
    files: list[Path] = field(default_factory=list, repr=False)

    def counts(self) -> dict[str, int]:
        return {
            "items": self.items,
            "records": self.records,
            "outbox_files": self.outbox_files,
            "bundle": self.bundle,
            "inbound": self.inbound,
        }

    def summary(self) -> str:
        verb = "would erase" if self.dry_run else "erased"
        return (
            f"{self.plan_id}: closed {day(self.closed)}, purge date {day(self.when)}; {verb} "
            f"{self.items} deliveries, {self.records} records, {self.outbox_files} outbox "
            f"files, {self.bundle} bundle copy, {self.inbound} inbound rows"
        )


def real_time_only(engine: Engine) -> None:
    """A purge deletes for good: never in a rehearsal's or a simulation's folder."""
    if engine.settings.clock_offset or clock_of(engine.settings.data_dir) == "virtual":
        raise RetentionError(
            f"{engine.settings.data_dir} belongs to a rehearsal or a simulation (a virtual "
            "clock); purge works on the real-time data folder only"
        )


def due_for_purge(engine: Engine, now: float) -> list[tuple[str, float]]:
    """(plan id, purge date) of the closed plans whose close + keep_days has passed and
    whose data is not erased yet (or whose purge did not finish), by date."""
    store = engine.store
    done = store.records(records.PURGED)
    due = []
    for plan_id, closed in store.records(records.CLOSED).items():
        found = done.get(plan_id)
        if found is not None:
            if not found.get(FINISHED):
                due.append((plan_id, float(found["at"])))
            continue
        when = _when(engine, plan_id, float(closed["at"]))
        if when <= now:
            due.append((plan_id, when))
    return sorted(due, key=lambda pair: (pair[1], pair[0]))


def _when(engine: Engine, plan_id: str, closed: float) -> float:
    try:
        days = keep_days(engine.settings, engine.plan(plan_id))
    except (PlanGone, PlanError):
        days = engine.settings.retention_days  # nothing of the plan left to read: the default
    return closed + days * DAY


def purge(engine: Engine, plan_id: str, now: float, dry_run: bool = False) -> Purge:
    """Erase the plan's personal data (see the module's docstring for the order)."""
    return purge_plans(engine, [plan_id], now, dry_run)[0]


def purge_plans(
    engine: Engine, plan_ids: list[str], now: float, dry_run: bool = False
) -> list[Purge]:
    """Erase several plans' personal data with one compaction (a VACUUM rewrites the whole
    SQLite file: once per plan would make purging many plans quadratic). A plan is marked
    finished only after the compaction, so a crash before it leaves the plan due."""
    found = [_holdings(engine, plan_id) for plan_id in plan_ids]
    if not found:
        return []
    if dry_run:
        for one in found:
            one.dry_run = True
        return found
    begun = [_erase(engine, one, now) for one in found]
    engine.store.compact()
    for one, at in zip(found, begun, strict=True):
        _finish(engine, one, at, now)
    return found


def _erase(engine: Engine, found: Purge, now: float) -> float:
    """Steps (a) and (b): the stripped report first (once), then the data; the moment the
    purge began (that of an earlier, unfinished run when there was one)."""
    store, plan_id = engine.store, found.plan_id
    begun = purged(engine, plan_id)
    if begun is None:
        # As of the close: what a closed plan stands at (deadlines stop counting).
        as_of = min(now, found.closed)
        report = {**stripped(plan_status(engine, plan_id, as_of)), **_titled(engine, plan_id)}
        row: dict[str, Any] = {"at": now, "closed": found.closed, "report": report}
        begun = store.put_record_once(records.PURGED, plan_id, row) or row
    for path in found.files:
        path.unlink(missing_ok=True)
    bundle_path(engine.settings, plan_id).unlink(missing_ok=True)
    for collection in records.plan_collections(plan_id):
        store.delete_records(collection)
    inbound = _inbound_rows(engine, plan_id)
    if inbound:
        store.delete_records(records.INBOUND_SEEN, inbound)
    store.delete_plan(plan_id)
    return float(begun["at"])


def _finish(engine: Engine, found: Purge, at: float, now: float) -> None:
    """Step (d): one audit row (counts only; its id made from the purge's start, so a rerun
    does not write a second), then the PURGED record marked finished."""
    audit = {"what": "purge", "plan": found.plan_id, "at": at, **found.counts()}
    engine.store.put_record_once(records.ERASURES, f"{_iso(at)} {found.plan_id}", audit)
    engine.store.update_record(records.PURGED, found.plan_id, {}, {FINISHED: now})
    log.info("plan %s: personal data erased (%s)", found.plan_id, found.summary())


def _titled(engine: Engine, plan_id: str) -> dict[str, str]:
    """The plan's title and language (no person in them), for the page that stays."""
    try:
        plan = engine.plan(plan_id)
    except (PlanGone, PlanError):
        return {}
    return {"title": plan.title, "language": plan.language}


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _holdings(engine: Engine, plan_id: str) -> Purge:
    """What the plan still holds, counted (what a purge deletes)."""
    store = engine.store
    closed = store.get_record(records.CLOSED, plan_id)
    if closed is None:
        raise RetentionError(f"the plan '{plan_id}' is not closed; its data is still in use")
    begun = purged(engine, plan_id)
    at = float(closed["at"])
    found = Purge(plan_id, at, float(begun["at"]) if begun else _when(engine, plan_id, at))
    found.items = sum(store.counts(plan_id).values())
    held = store.records_of(records.plan_collections(plan_id))
    found.collections = {name: len(rows) for name, rows in held.items() if rows}
    found.records = sum(found.collections.values())
    found.files = files_of(engine.settings.outbox_dir, plan_id)
    found.outbox_files = len(found.files)
    found.bundle = int(bundle_path(engine.settings, plan_id).exists())
    found.inbound = len(_inbound_rows(engine, plan_id))
    return found


def _inbound_rows(engine: Engine, plan_id: str) -> list[str]:
    rows = engine.store.records(records.INBOUND_SEEN)
    return sorted(key for key, row in rows.items() if row.get("plan_id") == plan_id)


# -- the beat step ------------------------------------------------------------------------


def housekeeping(engine: Engine, now: float) -> int:
    """Delete the inbound rate counters of hours before the previous one and the WhatsApp
    sessions older than 24 hours (keyed by address or phone); how many rows went."""
    store = engine.store
    hour = int(now // RATE_WINDOW)
    old_rates = [key for key in store.records(records.INBOUND_RATES) if _hour(key) < hour - 1]
    sessions = store.records(records.WHATSAPP_SESSIONS)
    old_sessions = [key for key, row in sessions.items() if now - float(row["at"]) >= SESSION]
    gone = 0
    if old_rates:
        gone += store.delete_records(records.INBOUND_RATES, old_rates)
    if old_sessions:
        gone += store.delete_records(records.WHATSAPP_SESSIONS, old_sessions)
    return gone


def _hour(key: str) -> int:
    try:
        return int(key.rpartition(":")[2])
    except ValueError:
        return -1  # not a counter this code wrote: old enough to go


def purge_due(engine: Engine, now: float) -> list[Purge]:
    """The beat step: housekeeping, then every plan whose purge date has passed."""
    real_time_only(engine)
    housekeeping(engine, now)
    return purge_plans(engine, [plan_id for plan_id, _ in due_for_purge(engine, now)], now)


# -- the report that stays ----------------------------------------------------------------


def stripped(report: dict[str, Any]) -> dict[str, Any]:
    """The status report without a single personal field: counts, dates, milestone ids,
    titles and states. Whatever else a report may carry is left out (kept by name)."""
    windows = Counter(w["state"] for rows in (report.get("checkins") or {}).values() for w in rows)
    risk = report.get("risk") or {}
    return {
        "plan": report["plan"],
        "counts": dict(report.get("counts") or {}),
        "closed": bool(report.get("closed")),
        "failed": len(report.get("failed") or []),
        "unknown": len(report.get("unknown") or []),
        "disabled_channels": len(report.get("disabled_channels") or []),
        "opted_out": len(report.get("opted_out") or []),
        "risk": {"level": risk.get("level"), "people": len(risk.get("people") or {})},
        "checkins": {
            "people": len(report.get("checkins") or {}),
            "windows": dict(sorted(windows.items())),
        },
        "milestones": [
            {k: m.get(k) for k in ("id", "title", "kind", "when", "done", "overdue_days")}
            for m in report.get("milestones") or []
        ],
        "meetings": [
            {
                **{k: m.get(k) for k in ("uid", "milestone", "title", "start")},
                "answers": dict(sorted(Counter(a["answer"] for a in m["attendees"]).items())),
            }
            for m in report.get("meetings") or []
        ],
        "warnings": dict(
            sorted(
                Counter(
                    f"{w['template']} {w['state']}" for w in report.get("warnings") or []
                ).items()
            )
        ),
    }
