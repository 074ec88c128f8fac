"""When a failed attempt is tried again: exponential backoff that honours Retry-After.

Shared by the dispatcher (messages) and the CalDAV step, so both wait the same way.
"""

from __future__ import annotations

MAX_ATTEMPTS = 8
BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0


def backoff(attempts: int, retry_after: float | None) -> float:
    """Seconds before the next try after ``attempts`` failures; never less than Retry-After."""
    delay: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(attempts, 20))
    return max(delay, retry_after or 0.0)
