"""A check-in window as people see it: a plain value, shared by detection, risk and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STATES = ("pending", "answered", "late", "missed", "excused", "untracked")
# The status of a reply that named none: contact all the same (it ends a silence, and the
# lead is shown it as "answered, status unclear"), never a change of the status before it.
UNCLEAR = "unclear"


@dataclass(frozen=True)
class Window:
    person: str
    day: str
    opens: float
    closes: float
    state: str
    status: str | None = None
    note: str = ""
    answered_at: float | None = None
    source: str | None = None
    excuse: str | None = None
    answers: tuple[tuple[str, str], ...] = ()

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "window": self.day,
            "opens": iso(self.opens),
            "closes": iso(self.closes),
            "state": self.state,
        }
        if self.status:
            found.update(status=self.status, note=self.note, answered_at=iso(self.answered_at))
        if self.excuse:
            found["excuse"] = self.excuse
        return found


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
