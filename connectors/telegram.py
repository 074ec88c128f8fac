"""Telegram: the Bot API's ``sendMessage`` with HTML formatting.

- sendMessage: https://core.telegram.org/bots/api#sendmessage
- HTML style and escaping: https://core.telegram.org/bots/api#html-style
- Errors and ``ResponseParameters.retry_after``:
  https://core.telegram.org/bots/api#making-requests and
  https://core.telegram.org/bots/api#responseparameters
- Flood limits: https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this

The bot token is the secret and it stands in the URL path
(``/bot<token>/sendMessage``): it goes to ``connectors.http`` only, which keeps
URLs out of errors and hides paths in urllib3's log lines. Telegram explains
errors in a JSON body, ``{"ok": false, "error_code": 403, "description":
"Forbidden: bot was blocked by the user"}``: 400 (chat not found), 401 (bad
token), 403 (blocked, kicked) and 404 are permanent; 429 is transient and gives
its wait in ``parameters.retry_after``, usually without a Retry-After header.
No idempotency key: the channel does not de-duplicate.

A check-in request carries its four answer buttons as an inline keyboard
(https://core.telegram.org/bots/api#inlinekeyboardmarkup); the composer hands them over
ready in ``Message.extra["buttons"]``, so the connector signs nothing itself.

The body is written in Telegram's HTML by ``connectors.markup`` (``<b>``, ``<i>``,
``<a href>`` only where the template has them; every text node html-escaped and an
``@name`` from plan text stopped).
"""

from __future__ import annotations

import html
from typing import Any, ClassVar

from config.plan import TelegramChannel
from connectors import http, markup
from connectors.base import (
    Connector,
    ConnectorError,
    Destination,
    Message,
    action_label,
    destination,
    missing_secret,
    read_secret,
)

MAX_TEXT = 3500  # of the 4096 characters a message may hold, the rest for title and link


def _answer(response: http.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def classify(response: http.Response, service: str) -> None:
    """Read Telegram's error body: the flood-control wait and the description."""
    answer = _answer(response)
    parameters = answer.get("parameters") or {}
    wait = parameters.get("retry_after")
    if response.status_code == 429 and not response.headers.get("Retry-After"):
        seconds = float(wait) if isinstance(wait, int | float) else None
        raise ConnectorError(
            "transient", f"{service}: HTTP 429 (flood control)", seconds, throttled=True
        )
    description = str(answer.get("description") or "")
    if "migrate_to_chat_id" in parameters:
        # A group became a supergroup: the plan's chat_id must change.
        description += f"; the chat is now {parameters['migrate_to_chat_id']}"
    http.classify(response, service, hint=description or None)


def _text(value: str) -> str:
    return markup.text(value, "telegram")


class TelegramConnector(Connector):
    channel: ClassVar[str] = "telegram"
    config: TelegramChannel

    def unready(self) -> str | None:
        return missing_secret(self.config.token)

    def render(self, message: Message) -> tuple[str, bytes]:
        return "json", http.encode_json(self.payload(message))

    def destinations(self, message: Message) -> list[Destination]:
        """The chat and the bot: Telegram limits both (1/s in a chat, 20/min in a group,
        30/s for a bot). A group's or channel's chat id is negative."""
        bot = read_secret(self.config.token).partition(":")[0]
        chat = self.config.chat_id
        where = "telegram_group" if chat.startswith("-") else "telegram_chat"
        return [destination(where, f"{bot}|{chat}"), destination("telegram_bot", bot)]

    def send(self, message: Message) -> None:
        api = self.settings.telegram_api_url.rstrip("/")
        http.post(
            f"{api}/bot{read_secret(self.config.token)}/sendMessage",
            service="Telegram",
            data=self.rendered(message)[1],
            headers=http.JSON_HEADERS,
            timeout=http.timeouts(self.settings),
            classify_with=classify,
        )

    def payload(self, message: Message) -> dict[str, Any]:
        text = message.text if len(message.text) <= MAX_TEXT else message.text[:MAX_TEXT] + "…"
        body = markup.render(text, "telegram", [message.link])
        parts = [f"<b>{_text(message.subject[:200])}</b>", body]
        if message.facts:
            parts.append("\n".join(f"<b>{_text(k)}:</b> {_text(v)}" for k, v in message.facts))
        if message.link:
            label = _text(action_label(message))
            parts.append(f'<a href="{html.escape(message.link)}">{label}</a>')
        payload: dict[str, Any] = {
            "chat_id": self.config.chat_id,
            "text": "\n\n".join(parts),
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        }
        keyboard = inline_keyboard(message)
        if keyboard:
            payload["reply_markup"] = {"inline_keyboard": keyboard}
        return payload


def inline_keyboard(message: Message) -> list[list[dict[str, str]]]:
    """The message's answer buttons, one per row: ``Message.extra["buttons"]`` holds
    (label, callback_data) pairs, made and signed by ``worker.inbound.telegram.buttons``."""
    pairs = message.extra.get("buttons") or ()
    return [[{"text": str(label), "callback_data": str(data)}] for label, data in pairs]
