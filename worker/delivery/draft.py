"""What a feature hands the dispatcher: a Draft of a message, or the StepResult of a step.

The leaf every feature imports (docs/architecture.md §2): it imports nothing of worker/, so a
feature's drafts and steps need neither the dispatcher nor the composer that call them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.base import Attachment, CalendarPart


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
