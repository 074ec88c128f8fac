"""Mattermost: an incoming webhook with a Markdown message.

- Incoming webhooks: https://developers.mattermost.com/integrate/webhooks/incoming/
- Message formatting: https://docs.mattermost.com/collaborate/format-messages.html

The webhook URL is the secret. ``channel`` and ``username`` override the
webhook's defaults only where the System Console allows overrides; otherwise
Mattermost answers 403 (permanent). Posts are limited to 16383 characters
(the server's default ``MaxPostSize``). Errors are classified by
``connectors.http.classify``. No idempotency key: the channel does not
de-duplicate.

The body is CommonMark, written again by ``connectors.markup`` from the message's
Markdown, so an ``@name``, ``@channel`` or ``:emoji:`` in plan text is stopped and
shows as words (Mattermost would otherwise notify or draw it).
"""

from __future__ import annotations

from typing import Any, ClassVar

from config.plan import MattermostChannel
from connectors import http, markup
from connectors.base import Message, action_label

MAX_TEXT = 16000  # below MaxPostSize, leaving room for the title and the link


def _text(value: str) -> str:
    return markup.text(value, "mattermost")


class MattermostConnector(http.IncomingWebhook):
    channel: ClassVar[str] = "mattermost"
    service: ClassVar[str] = "Mattermost"
    config: MattermostChannel

    def payload(self, message: Message) -> dict[str, Any]:
        body = markup.render(message.text, "mattermost", [message.link])
        text = body if len(body) <= MAX_TEXT else body[:MAX_TEXT] + "…"
        # The subject and the facts are plan text, not Markdown: escaped, so a title cannot
        # become a link or an image (the body was escaped when its template was rendered).
        lines = [f"#### {_text(message.subject)}", "", text]
        if message.facts:
            lines += [
                "",
                *(f"- **{_text(label)}:** {_text(value)}" for label, value in message.facts),
            ]
        if message.link:
            lines += ["", f"[{action_label(message)}]({message.link})"]
        payload: dict[str, Any] = {"text": "\n".join(lines)}
        if self.config.channel:
            payload["channel"] = self.config.channel
        if self.config.username:
            payload["username"] = self.config.username
        return payload
