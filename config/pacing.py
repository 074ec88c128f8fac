"""How fast pactkeeper may send to one destination: the defaults and ``PACTKEEPER_PACING``.

A destination is what a service limits: one Slack or Teams webhook, one Telegram chat,
one Telegram bot, one Twilio sending number. Each has a rule: at most one send per
``interval`` seconds, with ``burst`` sends at once after a quiet spell. The defaults are
the services' documented limits (docs/channels.md, "Pacing"):

- Slack incoming webhook: 1 a second, "short bursts allowed"
  (https://api.slack.com/apis/rate-limits#incoming-webhooks);
- Teams: 4 a second per webhook (the connectors' documented throttle,
  https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#rate-limiting-for-connectors);
- Telegram: 1 a second in one chat, 20 a minute in a group, 30 a second for one bot
  (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this);
- Twilio: 1 a second per sending number; above it Twilio queues, and a long queue makes
  every message late (https://help.twilio.com/articles/115002943027);
- e-mail, Mattermost and the signed webhook: unpaced (no documented limit; a
  self-hosted server's limit is the operator's to set).

``PACTKEEPER_PACING=slack=2/s,telegram_chat=0.5/s,email=10/s:5`` overrides some: a rate
per ``s``, ``min`` or ``h``, an optional ``:BURST``, or ``off``. The whole value ``off``
switches pacing off everywhere (what the tests' engine uses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """At most one send per ``interval`` seconds; ``burst`` may go at once after a pause."""

    interval: float
    burst: int = 1


DEFAULTS: dict[str, Rule | None] = {
    "slack": Rule(1.0),
    "teams": Rule(0.25),
    "telegram_chat": Rule(1.0),
    "telegram_group": Rule(3.0),  # 20 a minute
    "telegram_bot": Rule(1 / 30),
    "sms": Rule(1.0),
    "whatsapp": Rule(1.0),
    "email": None,
    "mattermost": None,
    "webhook": None,
}
UNPACED = "off"
UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}
_RATE = re.compile(r"(?P<count>\d+(?:\.\d+)?)/(?P<unit>s|min|h)(?::(?P<burst>\d+))?")


class PacingError(ValueError):
    """A ``PACTKEEPER_PACING`` value that cannot be read; the text says what is wrong."""


def rules(text: str) -> dict[str, Rule | None]:
    """The rule for every destination: the defaults with ``text`` (the setting) applied."""
    text = text.strip()
    if text == UNPACED:
        return dict.fromkeys(DEFAULTS)
    chosen = dict(DEFAULTS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals:
            raise PacingError(f"'{part}' is not NAME=RATE (e.g. slack=1/s)")
        if name not in DEFAULTS:
            raise PacingError(f"'{name}' is not a destination; known: {', '.join(DEFAULTS)}")
        chosen[name] = rule(value.strip())
    return chosen


def rule(value: str) -> Rule | None:
    """``2/s``, ``20/min``, ``100/h``, with ``:BURST`` (``1/s:3``), or ``off``."""
    if value == UNPACED:
        return None
    match = _RATE.fullmatch(value)
    if match is None:
        raise PacingError(f"'{value}' is not a rate like 1/s, 20/min, 100/h, 1/s:3 or off")
    count = float(match["count"])
    burst = int(match["burst"] or 1)
    if count <= 0 or burst < 1:
        raise PacingError(f"'{value}': the rate and the burst must be above 0")
    return Rule(UNITS[match["unit"]] / count, burst)
