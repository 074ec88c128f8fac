"""THE table of the ledger's item kinds (docs/architecture.md §13).

For every kind an item of the ledger can have: which module creates it, what runs when
it is due (a step, and whether the sweep may run many at once), how it is drafted when
it is a message, and whether the handover report lists it among the deliveries. The
handlers are imported directly, so grep and mypy follow every one of them; this is the
only module that imports every feature, and no feature imports it.

The kind names are persisted (the ledger of every existing store holds them): they never
change. ``tests/unit/test_kinds.py`` checks that every kind has what it needs and that
every kind the code creates is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.calendar import messages as calendar_messages
from worker.calendar import push
from worker.checkins import detection
from worker.checkins import messages as checkin_messages
from worker.delivery import messages as delivery_messages
from worker.delivery.draft import BatchStep, Drafter, Step
from worker.handover import close as handover
from worker.handover import messages as handover_messages
from worker.inbound import messages as inbound_messages
from worker.kickoff import messages as kickoff_messages
from worker.milestones import messages as milestone_messages
from worker.milestones import overdue
from worker.plans import register


@dataclass(frozen=True)
class Kind:
    """One kind of ledger item: a step (``step``) or a message (``draft``), never both."""

    name: str
    created_by: str  # the module that schedules it (checked by tests/unit/test_kinds.py)
    step: Step | None = None
    batch: BatchStep | None = None  # the same step for many items, run inside the sweep
    draft: Drafter | None = None
    # A message to a person, listed among the deliveries of the handover report (which
    # tells them by ``handover_report.is_delivery``: a channel, and not the bundle itself).
    delivery: bool = False


TABLE: tuple[Kind, ...] = (
    # From the plan's timeline (worker.timeline.ACTIONS), scheduled by plans.register.
    Kind("kickoff", "worker.timeline", draft=kickoff_messages.kickoff, delivery=True),
    Kind("reminder", "worker.timeline", draft=milestone_messages.reminder, delivery=True),
    Kind("checkin_open", "worker.timeline", draft=checkin_messages.checkin_request, delivery=True),
    Kind(
        "checkin_close",
        "worker.timeline",
        step=detection.window_closed,
        batch=detection.close_windows,
    ),
    Kind("close", "worker.timeline", step=handover.plan_closed),
    # Scheduled by the engine's other modules.
    Kind("deadline_check", "worker.plans.register", step=overdue.deadline_passed),
    Kind("horizon", "worker.plans.horizon", step=register.extend),
    Kind("notice", "worker.delivery.dispatch", draft=delivery_messages.notice, delivery=True),
    Kind("warning", "worker.checkins.ladder", draft=checkin_messages.warning_draft, delivery=True),
    Kind(
        "overdue", "worker.milestones.overdue", draft=checkin_messages.overdue_draft, delivery=True
    ),
    # The bundle's own delivery is not in the report it carries.
    Kind("handover", "worker.handover.close", draft=handover_messages.handover_draft),
    Kind(
        "invite",
        "worker.calendar.revisions",
        draft=calendar_messages.invite_draft,
        delivery=True,
    ),
    Kind(
        "cancel",
        "worker.calendar.revisions",
        draft=calendar_messages.cancel_draft,
        delivery=True,
    ),
    Kind("caldav", "worker.calendar.revisions", step=push.push_step),
    # What came back: a reply or a meeting answer the lead should see.
    Kind(
        "inbound_notice",
        "worker.inbound.notices",
        draft=inbound_messages.inbound_notice,
        delivery=True,
    ),
)

KINDS: dict[str, Kind] = {kind.name: kind for kind in TABLE}
STEPS: frozenset[str] = frozenset(kind.name for kind in TABLE if kind.step is not None)
BATCH_STEPS: frozenset[str] = frozenset(kind.name for kind in TABLE if kind.batch is not None)
DELIVERIES: frozenset[str] = frozenset(kind.name for kind in TABLE if kind.delivery)


def step_for(kind: str) -> Step | None:
    """The step an item of ``kind`` runs when due; None for a message (or an unknown kind)."""
    found = KINDS.get(kind)
    return found.step if found is not None else None


def batch_for(kind: str) -> BatchStep:
    found = KINDS[kind].batch
    if found is None:
        raise LookupError(f"items of kind '{kind}' are not run in batches")
    return found


def drafter_for(kind: str) -> Drafter:
    found = KINDS.get(kind)
    if found is None or found.draft is None:
        raise LookupError(f"no message for items of kind '{kind}'")
    return found.draft
