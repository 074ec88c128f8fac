"""Which of a person's channels a message takes: the first that may carry it.

A channel is passed over when

- it failed for good: a permanent failure disables that person's channel until the plan
  changes (the record holds the digest of the plan text it failed under);
- the person switched it off by replying STOP (``opt``), until they send START;
- it is WhatsApp, the person's 24-hour session is closed (their last own message is older,
  or there is none) and no approved template is configured for the message's kind: Meta
  delivers free-form business messages only inside the session (docs/architecture.md §16).

The next channel in the person's list takes over, and the one after it, round to the start.
"""

from __future__ import annotations

from config.plan import Person, Plan
from worker.engine import Engine, digest_of
from worker.store import records

SESSION = 24 * 3600  # WhatsApp's customer service window
# The ledger kinds whose message kind (what templates are configured by) differs.
MESSAGE_KINDS = {"checkin_open": "checkin_request"}


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


def opted_out(engine: Engine, plan: Plan, person: Person, channel: str) -> bool:
    found = engine.store.get_record(
        records.optouts(plan.id), records.channel_target_id(person.id, channel)
    )
    return bool(found and found.get("off"))


def opt(
    engine: Engine, plan: Plan, person: Person, channel: str, off: bool, now: float, source: str
) -> bool:
    """Switch the person's channel off (STOP) or on (START); False when it already was."""
    where, row = records.optouts(plan.id), records.channel_target_id(person.id, channel)
    old = engine.store.get_record(where, row)
    if bool(old and old.get("off")) == off:
        return False
    engine.store.put_record(
        where,
        row,
        {"person": person.id, "channel": channel, "off": off, "at": now, "source": source},
    )
    return True


def session_open(engine: Engine, person: Person, now: float) -> bool:
    """True inside the person's WhatsApp session: their own last message is under 24 h old."""
    if not person.phone:
        return False
    found = engine.store.get_record(records.WHATSAPP_SESSIONS, person.phone)
    return bool(found) and now - float(found.get("at") or 0) < SESSION  # type: ignore[union-attr]


def passed_over(
    engine: Engine, plan: Plan, person: Person, channel: str, kind: str | None, now: float | None
) -> str | None:
    """Why ``channel`` cannot carry the message now, or None when it can."""
    if disabled(engine, plan, person, channel):
        return "failed"
    if opted_out(engine, plan, person, channel):
        return "opted out"
    if channel == "whatsapp" and kind is not None and now is not None:
        templates = engine.settings.twilio_content_sids
        if not session_open(engine, person, now) and MESSAGE_KINDS.get(kind, kind) not in templates:
            return "outside the WhatsApp 24-hour session, and no template for this message"
    return None


def choose_channel(
    engine: Engine,
    plan: Plan,
    person: Person,
    preferred: str | None,
    kind: str | None = None,
    now: float | None = None,
) -> str | None:
    """The first channel from ``preferred`` on in the person's list that may carry a
    message of ``kind`` at ``now`` (without them, only failures and opt-outs count)."""
    channels = list(person.channels)
    start = channels.index(preferred) if preferred in channels else 0
    for channel in channels[start:] + channels[:start]:
        if passed_over(engine, plan, person, channel, kind, now) is None:
            return channel
    return None
