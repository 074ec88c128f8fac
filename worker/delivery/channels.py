"""Which of a person's channels a message takes: the first that may carry it.

A channel is passed over when

- it failed for good: a permanent failure disables that person's channel until the plan
  changes (the record holds the digest of the plan text it failed under);
- it is SMS or WhatsApp and the plan records no consent for the person (``consent:
  DATE``, AVG/GDPR), or only from a day after the sending day in the person's zone;
- the person switched it off by replying STOP (``opt``), until they send START;
- it is WhatsApp, the person's 24-hour session is closed (their last own message is older,
  or there is none) and no approved template is configured for the message's kind: Meta
  delivers free-form business messages only inside the session (docs/architecture.md §16).

The next channel in the person's list takes over, and the one after it, round to the start.
"""

from __future__ import annotations

from datetime import datetime

from config.plan import Person, Plan
from config.rules import CONSENT_CHANNELS
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


def without_consent(plan: Plan, person: Person, channel: str, now: float | None) -> str | None:
    """Why the person has not agreed to ``channel`` (on the day of ``now``), or None.

    Without ``now`` only a consent that is missing counts.
    """
    if channel not in CONSENT_CHANNELS:
        return None
    if person.consent is None:
        return "no consent"
    if now is not None:
        day = datetime.fromtimestamp(now, plan.zone_of(person)).date()
        if person.consent > day:
            return f"no consent before {person.consent}"
    return None


def consents_missing(plan: Plan, now: float) -> list[dict[str, str]]:
    """Each person's SMS and WhatsApp channel that carries nothing today for want of consent."""
    return [
        {"person": person.id, "channel": channel, "reason": reason}
        for person in plan.people
        for channel in person.channels
        if (reason := without_consent(plan, person, channel, now)) is not None
    ]


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
    unagreed = without_consent(plan, person, channel, now)
    if unagreed is not None:
        return unagreed
    if disabled(engine, plan, person, channel):
        return "failed"
    if opted_out(engine, plan, person, channel):
        return "opted out"
    if channel == "whatsapp" and kind is not None and now is not None:
        templates = engine.settings.twilio_content_sids
        if not session_open(engine, person, now) and MESSAGE_KINDS.get(kind, kind) not in templates:
            return "outside the WhatsApp 24-hour session, and no template for this message"
    return None


def passed_over_before(
    engine: Engine,
    plan: Plan,
    person: Person,
    preferred: str | None,
    chosen: str,
    kind: str | None,
    now: float | None,
) -> str:
    """Why the channels from ``preferred`` up to ``chosen`` were passed over, for the
    delivery's detail (``sms: no consent``); "" when ``chosen`` is the preferred one."""
    channels = list(person.channels)
    if preferred not in channels or chosen not in channels or preferred == chosen:
        return ""
    start, end = channels.index(preferred), channels.index(chosen)
    skipped = channels[start:end] if start < end else channels[start:] + channels[:end]
    reasons = ((c, passed_over(engine, plan, person, c, kind, now)) for c in skipped)
    return "; ".join(f"{channel} passed over: {reason}" for channel, reason in reasons if reason)


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
