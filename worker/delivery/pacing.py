"""Pacing per destination: a message waits for its Slack webhook's, chat's or number's slot.

The store keeps one GCRA slot per destination bucket, shared by every worker
(``Store.take_slot``); the rules are ``config.pacing`` with ``PACTKEEPER_PACING`` applied.
A message whose slot is later goes back to the due index at that moment, booked for it
(by its key), not counted as an attempt: nothing sleeps in a worker, and a burst of N into
one webhook is N slots, each message tried once more. A 429 holds the buckets until
Retry-After and doubles their interval; each send they let go takes a tenth of that back;
the throttled message itself is retried at its next slot, not after the backoff
(docs/channels.md, "Pacing").
"""

from __future__ import annotations

import logging

from config.settings import Settings
from connectors.base import ConnectorError, Destination
from worker.engine import Engine
from worker.store import Item, Pace

log = logging.getLogger("pactkeeper.pacing")

PACED = "paced: "  # the detail of an item waiting for its slot starts so
NARROW_FACTOR = 2.0


def paces_for(settings: Settings, destinations: list[Destination]) -> list[Pace]:
    """The paced buckets among a message's destinations (an unpaced rule has none)."""
    rules = settings.pace_rules
    return [
        Pace(found.bucket, rule.interval, rule.burst)
        for found in destinations
        if (rule := rules.get(found.rule)) is not None
    ]


def slot(engine: Engine, item: Item, paces: list[Pace], now: float) -> float:
    """0.0 when the message may go now, else the moment booked for it."""
    return engine.store.take_slot(paces, now, item.key)


def slow_down(
    engine: Engine, item: Item, paces: list[Pace], error: ConnectorError, now: float
) -> float | None:
    """After "too fast" from the service: hold the buckets until Retry-After, narrow them,
    and book the message's next slot (its retry), so it neither waits out a backoff
    while the destination is free nor jumps the queue. None when not throttled."""
    if not (error.throttled and paces):
        return None
    hold_until = now + (error.retry_after or 0.0)
    engine.store.narrow_slot(paces, now, hold_until, NARROW_FACTOR)
    # Bucket names are hashes: no webhook URL, token or number reaches the log.
    log.warning(
        "too fast for %s: held %.0f s, interval x%g",
        ", ".join(pace.bucket for pace in paces),
        hold_until - now,
        NARROW_FACTOR,
    )
    return engine.store.take_slot(paces, now, item.key) or None
