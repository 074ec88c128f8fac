"""Slack: an incoming webhook with a Block Kit message.

- Incoming webhooks: https://api.slack.com/messaging/webhooks
- Blocks and their limits: https://api.slack.com/reference/block-kit/blocks
- Escaping ``&``, ``<``, ``>`` in mrkdwn: https://api.slack.com/reference/surfaces/formatting#escaping
- Errors: https://api.slack.com/messaging/webhooks#handling_errors

The message body is written in mrkdwn by ``connectors.markup`` (``*bold*``, lists as
``• ``, plan text literal: ``&<>`` escaped, mentions, emoji shortcodes and formatting
characters stopped); plain-text blocks are sent with ``emoji: false`` so a ``:tada:``
in a title stays words.

The webhook URL is the secret (``env:NAME`` in the plan). Slack answers 200
``ok``; 400 ``invalid_payload``, 403 ``action_prohibited``, 404 ``no_service``
or ``channel_not_found`` and 410 ``channel_is_archived`` are permanent, 429
(with Retry-After) and 5xx transient: ``connectors.http.classify`` says exactly
that and quotes Slack's one-word reason. Slack has no idempotency key, so the
channel does not de-duplicate. ``channel`` overrides the webhook's channel only
for legacy webhooks; app webhooks post where they were installed.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from config.plan import SlackChannel
from connectors import http, markup
from connectors.base import Message, action_label

MAX_FIELDS = 10  # a section holds at most 10 fields


# What a cut can leave half: an &amp; or &lt;, or a formatting mark without the break
# that follows it (connectors.markup), which would start bold or italic.
_HALF_AT_END = re.compile(r"&[a-z]*$|[*_~`]$")


def _cut(mrkdwn: str, limit: int = 3000) -> str:
    """Slack's limit for a text object, never cutting an entity or a stopped mark in two."""
    if len(mrkdwn) <= limit:
        return mrkdwn
    return _HALF_AT_END.sub("", mrkdwn[: limit - 1]) + "…"


def _text(value: str) -> str:
    return markup.text(value, "slack")


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": False}


class SlackConnector(http.IncomingWebhook):
    channel: ClassVar[str] = "slack"
    service: ClassVar[str] = "Slack"
    config: SlackChannel

    def payload(self, message: Message) -> dict[str, Any]:
        body = markup.render(message.text, "slack", [message.link])
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": _plain(message.subject, 150)},
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(body)}},
        ]
        if message.facts:
            fields = [
                {"type": "mrkdwn", "text": _cut(f"*{_text(label)}*\n{_text(value)}", 2000)}
                for label, value in message.facts[:MAX_FIELDS]
            ]
            blocks.append({"type": "section", "fields": fields})
        if message.link:
            button = {
                "type": "button",
                "text": _plain(action_label(message), 75),
                "url": message.link,
            }
            blocks.append({"type": "actions", "elements": [button]})
        # The top-level text is what notifications and screen readers show.
        payload: dict[str, Any] = {"text": _cut(_text(message.subject)), "blocks": blocks}
        if self.config.channel:
            payload["channel"] = self.config.channel
        return payload
