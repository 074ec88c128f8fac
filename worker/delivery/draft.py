"""What a feature hands the dispatcher: a Draft of a message, or the StepResult of a step.

The leaf every feature imports (docs/architecture.md §11): it imports nothing of worker/ but
type names, so a feature's drafts and steps need neither the dispatcher nor the composer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from config.plan import Person, Plan
from connectors.base import Attachment, CalendarPart

if TYPE_CHECKING:
    from worker.engine import Engine
    from worker.store import Item


@dataclass
class Draft:
    """The facts of one message: a template name and its context, plus what goes beside it."""

    template: str
    context: dict[str, Any]
    link: str | None = None
    link_label: str | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    calendar: CalendarPart | None = None


@dataclass
class StepResult:
    """What an engine step did, in one line for the log and the ledger."""

    detail: str


# The three shapes of a kind's handler (docs/architecture.md §13, the table is worker.kinds).
Drafter = Callable[["Engine", Plan, "Item", Person, float], Draft]
Step = Callable[["Engine", "Item", float], StepResult]
BatchStep = Callable[["Engine", Sequence["Item"], float], list[StepResult]]
