"""Which of a person's channels a message takes: the first that has not failed for good.

A permanent failure disables that person's channel until the plan changes (the record
holds the digest of the plan text it failed under); the next channel in the person's
list takes over, and the one after it, round to the start.
"""

from __future__ import annotations

from config.plan import Person, Plan
from worker.engine import Engine, digest_of
from worker.store import records


def disabled(engine: Engine, plan: Plan, person: Person, channel: str) -> bool:
    found = engine.store.get_record(
        records.channel_targets(plan.id), records.channel_target_id(person.id, channel)
    )
    return bool(found and found.get("digest") == digest_of(plan.text))


def disable(
    engine: Engine, plan: Plan, person: Person, channel: str, reason: str, now: float
) -> None:
    """A permanent failure disables the target until the plan changes."""
    engine.store.put_record(
        records.channel_targets(plan.id),
        records.channel_target_id(person.id, channel),
        {
            "person": person.id,
            "channel": channel,
            "reason": reason,
            "at": now,
            "digest": digest_of(plan.text),
        },
    )


def choose_channel(engine: Engine, plan: Plan, person: Person, preferred: str | None) -> str | None:
    """The first working channel from ``preferred`` on in the person's list."""
    channels = list(person.channels)
    start = channels.index(preferred) if preferred in channels else 0
    for channel in channels[start:] + channels[:start]:
        if not disabled(engine, plan, person, channel):
            return channel
    return None
