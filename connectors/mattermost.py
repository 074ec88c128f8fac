"""Mattermost: an incoming webhook with a Markdown message.

- Incoming webhooks: https://developers.mattermost.com/integrate/webhooks/incoming/
- Message formatting: https://docs.mattermost.com/collaborate/format-messages.html

The webhook URL is the secret. ``channel`` and ``username`` override the
webhook's defaults only where the System Console allows overrides; otherwise
Mattermost answers 403 (permanent). Posts are limited to 16383 characters
(the server's default ``MaxPostSize``). Errors are classified by
``connectors.http.classify``. No idempotency key: the channel does not
de-duplicate.
"""

from __future__ import annotations

from typing import Any, ClassVar

from config.plan import MattermostChannel
from connectors import http
from connectors.base import Message, action_label
from worker.messages import markdown_text

MAX_TEXT = 16000  # below MaxPostSize, leaving room for the title and the link


class MattermostConnector(http.IncomingWebhook):
    channel: ClassVar[str] = "mattermost"
    service: ClassVar[str] = "Mattermost"
    config: MattermostChannel

    def payload(self, message: Message) -> dict[str, Any]:
        text = message.text if len(message.text) <= MAX_TEXT else message.text[:MAX_TEXT] + "…"
        # The subject and the facts are plan text, not Markdown: escaped, so a title cannot
        # become a link or an image (the body was escaped when its template was rendered).
        lines = [f"#### {markdown_text(message.subject)}", "", text]
        if message.facts:
            lines += [
                "",
                *(
                    f"- **{markdown_text(label)}:** {markdown_text(value)}"
                    for label, value in message.facts
                ),
            ]
        if message.link:
            lines += ["", f"[{action_label(message)}]({message.link})"]
        payload: dict[str, Any] = {"text": "\n".join(lines)}
        if self.config.channel:
            payload["channel"] = self.config.channel
        if self.config.username:
            payload["username"] = self.config.username
        return payload
