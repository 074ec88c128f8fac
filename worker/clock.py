"""The engine's clock: the system clock in ``run``, a virtual one that jumps in ``simulate``.

Tasks read ``now()`` here and pass it on; the plain functions below them take
``now`` as an argument (docs/architecture.md §1), so tests freeze time at the edges.
"""

from __future__ import annotations

import time


class Clock:
    def now(self) -> float:
        return time.time()


class OffsetClock(Clock):
    """Real time, shifted: ``run --as-of`` rehearses a plan at normal speed."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset


class VirtualClock(Clock):
    """A clock that stands still until it is moved (never backwards)."""

    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def set(self, moment: float) -> None:
        self._now = max(self._now, moment)


_current: Clock = Clock()


def now() -> float:
    return _current.now()


def from_settings(offset: float) -> None:
    """Use the offset clock when ``PACTKEEPER_CLOCK_OFFSET`` is set (by ``run --as-of``)."""
    if offset:
        use(OffsetClock(offset))


def use(clock: Clock) -> None:
    global _current  # noqa: PLW0603 - one clock per process, swapped only by simulate
    _current = clock
