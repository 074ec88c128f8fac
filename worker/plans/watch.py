"""The plan-folder watcher: a plan file that changed on disk is registered again.

A file is read again only when its size or modification time changed; a plan
that no longer validates is reported once per version and changes nothing, so
the previous version stays in force. A second file with an id that another file
already holds is refused, and so is a file whose id belongs to a purged plan (its
personal data was erased); each is reported once per version whichever worker
process reads it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from config.load import PlanError, load_plan
from worker.engine import Engine, IdTaken, digest_of
from worker.plans.register import PlanPurged, register

log = logging.getLogger("pactkeeper.watch")

_seen: dict[Path, tuple[int, int]] = {}


def plan_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def resync_folder(engine: Engine, folder: Path, now: float) -> list[str]:
    """Register every plan in ``folder`` whose text differs from the stored one."""
    registered = []
    for path in plan_files(folder):
        stat = path.stat()
        signature = (stat.st_size, stat.st_mtime_ns)
        if _seen.get(path) == signature:
            continue
        _seen[path] = signature
        plan_id = _resync(engine, path, now)
        if plan_id:
            registered.append(plan_id)
    return registered


def _resync(engine: Engine, path: Path, now: float) -> str | None:
    try:
        plan = load_plan(path)
    except PlanError as error:
        log.error("%s is not valid; the previous version stays in force:\n%s", path, error.report())
        return None
    stored = engine.store.plan(plan.id)
    if stored is not None and stored.digest == digest_of(plan.text):
        return None
    try:
        registration = register(engine, plan, now)
    except (IdTaken, PlanPurged) as error:  # PlanErrors too: first
        # Every worker process has its own memory of what it read: the store says once.
        if engine.store.once(error.once_key):
            log.error("%s", error.report())
        return None
    except PlanError as error:  # an erased person's entry that cannot be rewritten
        log.error("%s was not registered: %s", path, error.report())
        return None
    result = registration.result
    for person in registration.erased:
        log.warning(
            "plan %s: %s was erased and is registered without their data; take them out of %s",
            plan.id,
            person,
            path.name,
        )
    log.info(
        "plan %s re-synced from %s: %d added, %d removed, %d kept",
        plan.id,
        path.name,
        len(result.added),
        len(result.removed),
        result.kept,
    )
    return plan.id
