"""The engine's context: settings, store, the plan cache and the connector cache.

Most engine functions take an ``Engine`` first. Registering a plan (the timeline
into the ledger) is ``worker.plans.register``; this module keeps the context and the
few values every layer above shares (``Delivery``, ``PlanGone``, ``IdTaken``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.load import PlanError, Problem, load_text, read_yaml
from config.plan import Person, Plan
from config.settings import Settings
from connectors.base import Connector
from connectors.registry import connector_for
from worker.store import Item, PlanRecord, Store, open_store

log = logging.getLogger("pactkeeper")

# An item already due this long when its plan is registered is recorded as expired,
# not sent: registering a plan mid-way must not blast out weeks of old reminders.
SYNC_GRACE = 15 * 60.0


class PlanGone(LookupError):
    """An item refers to a plan the store no longer has."""


class IdTaken(PlanError):
    """The plan's id is registered from another file that still holds that id."""

    def __init__(self, plan: Plan, other: str) -> None:
        line, column = _id_mark(plan.text)
        message = (
            f"the id '{plan.id}' is already registered from {other}; "
            "give this plan its own id (this file was not registered)"
        )
        super().__init__(str(plan.path), [Problem(line, column, "id", message)])
        self.other = other
        # Said once per version of the refused file, whichever process reads it.
        self.once_key = f"id-taken:{plan.id}:{plan.path}:{digest_of(plan.text)}"


@dataclass
class Delivery:
    """What one delivery did, for log lines, ``simulate``'s log.jsonl and listeners."""

    item: Item
    at: float
    state: str  # sent, failed, unknown, retry, done
    channel: str | None = None
    subject: str = ""
    detail: str = ""
    outbox: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Engine:
    """Everything a sweep or a delivery needs, created once per process."""

    def __init__(
        self, settings: Settings, store: Store | None = None, outbox_only: bool = False
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self.outbox_only = outbox_only
        self.listeners: list[Callable[[Delivery], None]] = []
        self._plans: dict[str, tuple[str, Plan]] = {}
        self._broken: dict[str, tuple[str, PlanError]] = {}
        self._connectors: dict[tuple[str, str, str], tuple[Connector, str | None]] = {}

    def plan(self, plan_id: str) -> Plan:
        """The registered plan, parsed once per revision.

        A stored plan was validated when it was registered; what it names outside
        its own text (handover documents) is not checked again: a document that went
        missing since is a gap in the bundle, not a plan nobody can deliver. A stored
        text that no longer reads (``PlanError``) is remembered per revision, so
        every item of a broken plan does not parse it again.
        """
        cached = self._plans.get(plan_id)
        broken = self._broken.get(plan_id)
        digest = self.store.plan_digest(plan_id) if cached or broken else None
        if cached is not None and cached[0] == digest:
            return cached[1]
        if broken is not None and broken[0] == digest:
            raise broken[1].with_traceback(None)  # not the frames of every earlier raise
        record = self.store.plan(plan_id)
        if record is None:
            raise PlanGone(f"the plan '{plan_id}' is not registered")
        return self._parse(record)

    def _parse(self, record: PlanRecord) -> Plan:
        source = Path(record.source) if record.source else None
        try:
            plan = load_text(record.text, record.source or record.plan_id, path=source)
        except PlanError as error:
            # Once per revision: the operator's alert. Its items wait; see dispatch.
            log.error(
                "the stored plan %s cannot be read; its deliveries wait until the plan "
                "file is fixed and synced again: %s",
                record.plan_id,
                str(error).splitlines()[0],
            )
            self._broken[record.plan_id] = (record.digest, error)
            raise
        self._broken.pop(record.plan_id, None)
        self._plans[record.plan_id] = (record.digest, plan)
        return plan

    def plans(self, plan_ids: list[str]) -> tuple[dict[str, Plan], dict[str, str]]:
        """Many registered plans: (plan id -> plan, plan id -> why it cannot be used).
        One round trip when they are cached and unchanged, whatever their number."""
        digests = self.store.plan_digests(plan_ids)
        found: dict[str, Plan] = {}
        problems: dict[str, str] = {}
        for plan_id in plan_ids:
            cached = self._plans.get(plan_id)
            if cached is not None and cached[0] == digests.get(plan_id):
                found[plan_id] = cached[1]
                continue
            try:
                found[plan_id] = self.plan(plan_id)
            except (PlanGone, PlanError) as error:
                problems[plan_id] = str(error).splitlines()[0]
        return found, problems

    def connector(self, plan: Plan, channel: str) -> tuple[Connector, str | None]:
        """The connector for one of a plan's channels, and why it is the outbox (or None)."""
        digest = self._plans[plan.id][0] if plan.id in self._plans else ""
        cache_key = (plan.id, digest, channel)
        if cache_key not in self._connectors:
            config = getattr(plan.communication.channels, channel, None)
            found = connector_for(channel, config, self.settings, outbox=self.outbox_only)
            if found[1] and not self.outbox_only:
                log.warning(
                    "plan %s: %s messages go to the outbox (%s)", plan.id, channel, found[1]
                )
            self._connectors[cache_key] = found
        return self._connectors[cache_key]

    def emit(self, delivery: Delivery) -> None:
        for listener in self.listeners:
            listener(delivery)

    def close(self) -> None:
        for connector, _ in self._connectors.values():
            connector.close()
        self.store.close()


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _id_mark(text: str) -> tuple[int, int]:
    """Line and column of the plan's ``id`` key (1, 1 when it cannot be found)."""
    try:
        marks = read_yaml(text, "<plan>").key_marks
    except PlanError:
        return 1, 1
    return marks.get(("id",), (1, 1))


def person_of(plan: Plan, person_id: str | None) -> Person:
    if person_id is None:
        raise LookupError("this item has no recipient")
    return plan.person(person_id)


def utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)
