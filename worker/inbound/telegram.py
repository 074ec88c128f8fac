"""Telegram inbound: the check-in buttons, reading an update, the webhook and long polling.

Bot API: https://core.telegram.org/bots/api (``Update``, ``CallbackQuery``,
``answerCallbackQuery``, ``InlineKeyboardMarkup``, ``setWebhook``, ``getUpdates``).

- **Buttons.** A check-in request on Telegram carries four inline buttons, one per
  status. Each button's ``callback_data`` (at most 64 bytes) is
  ``c<ledger key><n><mac>``: the request's ledger key, the status's number 1-4 and 16
  characters of an HMAC over both with the signing key, so a pressed button names its
  request and its status, and nobody can make one for another request.
- **Updates.** A pressed button is a ``Reply`` with ``about`` (the request) and
  ``status``; it is answered with ``answerCallbackQuery`` (the client shows a spinner
  until then) carrying the one-line confirmation. A text message that replies to one of
  our requests names that request through the replied-to message's own keyboard; any
  other text names nothing (``take_reply`` refuses it: a chat message that names no
  request names no person). The update's id makes the duplicate check's
  ``<bot>:<update_id>``, so an update Telegram sends twice answers once.
- **Webhook.** ``register_webhook`` points the plan's bot at
  ``{base_url}/inbound/telegram/{bot id}`` with a ``secret_token`` that is an HMAC of the
  bot id with the signing key (the bot id is the number before ``:`` in the token, never
  the token itself); Telegram sends it back in ``X-Telegram-Bot-Api-Secret-Token`` and
  ``web/inbound.py`` compares it in constant time.
- **Long polling** (the embedded default: a laptop has no public URL). ``poll_updates``
  asks every bot of the registered plans for its updates with ``getUpdates``, from the
  offset kept in the store after each update taken, so none is handled twice. A bot
  with a webhook answers 409: that is logged, and the webhook is never deleted behind
  the operator's back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config.plan import Plan
from config.settings import Settings
from connectors import http
from connectors.base import ConnectorError, read_secret
from connectors.telegram import classify
from worker.inbound.replies import Outcome, Reply, take_reply
from worker.messages import NP_, pgettext_in
from worker.store import records

if TYPE_CHECKING:
    from worker.engine import Engine

log = logging.getLogger("pactkeeper.inbound")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
STATUSES = ("on_track", "need_help", "blocked", "stopping")  # the buttons' numbers 1-4
ANSWER = "check-in answer"  # the catalog context of the labels (as the check-in form's)
LABELS = {
    "on_track": NP_("check-in answer", "On track"),
    "need_help": NP_("check-in answer", "I need help"),
    "blocked": NP_("check-in answer", "I am blocked"),
    "stopping": NP_("check-in answer", "I have to stop"),
}
BUTTON = "c"
MAC_LENGTH = 16
CALLBACK_LIMIT = 64  # bytes of callback_data Telegram keeps
UPDATES = ["message", "callback_query"]
POLL_WAIT = 2  # seconds getUpdates holds the request open; the beat asks every few seconds
POLL_LIMIT = 100
CONFIRMATION_LIMIT = 200  # characters answerCallbackQuery shows


class WebhookError(ValueError):
    """The webhook cannot be registered; the message says why in one line."""


# -- the buttons ------------------------------------------------------------------------


def _mac(key: bytes, purpose: str, text: str, length: int) -> str:
    digest = hmac.new(key, f"{purpose}\n{text}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:length]


def callback_data(settings: Settings, key: str, status: str) -> str:
    """The signed ``callback_data`` of the button that answers request ``key`` with ``status``."""
    body = f"{key}{STATUSES.index(status) + 1}"
    data = f"{BUTTON}{body}{_mac(settings.signing_key, 'telegram-button', body, MAC_LENGTH)}"
    if len(data.encode()) > CALLBACK_LIMIT:
        raise ValueError(f"the ledger key '{key}' is too long for a Telegram button")
    return data


def buttons(settings: Settings, key: str, lang: str) -> list[tuple[str, str]]:
    """(label, callback_data) of the four check-in buttons, labels in ``lang``.

    What ``worker/delivery/compose.py`` puts in ``Message.extra["buttons"]`` for a check-in
    request on Telegram; ``connectors/telegram.py`` shows them as an inline keyboard.
    """
    return [
        (f"{n}. {pgettext_in(lang, ANSWER, LABELS[status])}", callback_data(settings, key, status))
        for n, status in enumerate(STATUSES, start=1)
    ]


def read_button(settings: Settings, data: str) -> tuple[str, str] | None:
    """(ledger key, status) a button names; None for data we did not sign."""
    if not data.startswith(BUTTON) or len(data) < len(BUTTON) + 2 + MAC_LENGTH:
        return None
    body, mac = data[len(BUTTON) : -MAC_LENGTH], data[-MAC_LENGTH:]
    expected = _mac(settings.signing_key, "telegram-button", body, MAC_LENGTH)
    if not hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace")):
        return None
    number = body[-1]
    if number not in "1234":
        return None
    return body[:-1], STATUSES[int(number) - 1]


# -- reading an update ------------------------------------------------------------------


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _id(value: object) -> str:
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""


def _requested(settings: Settings, message: Mapping[str, Any]) -> str | None:
    """The request a message of ours was, read from its own keyboard."""
    keyboard = _object(message.get("reply_markup")).get("inline_keyboard")
    for row in keyboard if isinstance(keyboard, list) else []:
        for button in row if isinstance(row, list) else []:
            pressed = read_button(settings, str(_object(button).get("callback_data") or ""))
            if pressed is not None:
                return pressed[0]
    return None


def reply_of(settings: Settings, bot: str, update: object, at: float) -> Reply | None:
    """The update as a ``Reply``; None for an update that carries no answer (an edit, a
    photo without text, a channel post, anything that is not an update at all)."""
    update = _object(update)
    number = update.get("update_id")
    if not isinstance(number, int) or isinstance(number, bool):
        return None
    external = f"{bot}:{number}"
    query = _object(update.get("callback_query"))
    if query:
        pressed = read_button(settings, str(query.get("data") or ""))
        chat = _id(_object(_object(query.get("message")).get("chat")).get("id"))
        return Reply(
            via="telegram",
            sender=chat,
            external_id=external,
            text="",
            at=at,
            about=pressed[0] if pressed else None,
            status=pressed[1] if pressed else None,
            user=_id(_object(query.get("from")).get("id")),
        )
    message = _object(update.get("message"))
    text = message.get("text")
    if not isinstance(text, str):
        return None
    return Reply(
        via="telegram",
        sender=_id(_object(message.get("chat")).get("id")),
        external_id=external,
        text=text,
        at=at,
        about=_requested(settings, _object(message.get("reply_to_message"))),
        user=_id(_object(message.get("from")).get("id")),
    )


def answer_of(update: object, outcome: Outcome | None) -> dict[str, Any] | None:
    """The Bot API call that answers the update: ``answerCallbackQuery`` for a pressed
    button (always, so the spinner stops), ``sendMessage`` with the confirmation for a
    text reply that was taken; None when nothing is said (a refused sender gets nothing)."""
    update = _object(update)
    line = outcome.confirmation() if outcome is not None else None
    query = _object(update.get("callback_query"))
    if query and _id(query.get("id")):
        call: dict[str, Any] = {"method": "answerCallbackQuery", "callback_query_id": query["id"]}
        if line and outcome is not None and outcome.result != "refused":
            call["text"] = line[:CONFIRMATION_LIMIT]
        return call
    message = _object(update.get("message"))
    chat = _object(message.get("chat")).get("id")
    if line and _id(chat):
        return {
            "method": "sendMessage",
            "chat_id": chat,
            "text": line,
            "reply_parameters": {"message_id": message.get("message_id")},
        }
    return None


def take_update(engine: Engine, bot: str, update: object, now: float) -> Outcome | None:
    """One update through ``take_reply``; None for an update that carries no answer."""
    reply = reply_of(engine.settings, bot, update, now)
    return take_reply(engine, reply, now) if reply is not None else None


# -- the bots, the webhook and polling --------------------------------------------------


def bot_id(token: str) -> str:
    """The bot's public id: the number before ``:`` in its token (never the token)."""
    head = token.partition(":")[0].strip()
    return head if head.isdigit() else ""


def webhook_secret(settings: Settings, bot: str) -> str:
    """The ``secret_token`` of the bot's webhook: 43 characters of ``A-Za-z0-9_-``."""
    return _mac(settings.signing_key, "telegram-webhook", bot, 43)


def webhook_valid(settings: Settings, bot: str, header: str | None) -> bool:
    if not header or not bot.isdigit():
        return False
    expected = webhook_secret(settings, bot).encode()
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


def webhook_url(settings: Settings, bot: str) -> str:
    return f"{settings.base_url.rstrip('/')}/inbound/telegram/{bot}"


@dataclass(frozen=True)
class Bot:
    id: str
    token: str  # the secret: only in the API's URL path, never in a log line
    plans: tuple[str, ...]


def _token_of(plan: Plan) -> str:
    channel = plan.communication.channels.telegram
    if channel is None:
        raise WebhookError(f"the plan '{plan.id}' has no telegram channel")
    try:
        token = read_secret(channel.token)
    except ConnectorError as error:
        raise WebhookError(error.detail) from None
    if not bot_id(token):
        raise WebhookError(f"the plan '{plan.id}': the telegram token is not a bot token")
    return token


def bots(engine: Engine) -> list[Bot]:
    """Every bot of the registered plans, once each, with the plans that use it."""
    plans, _ = engine.plans(sorted(engine.store.plan_ids()))
    found: dict[str, tuple[str, list[str]]] = {}
    for plan_id, plan in sorted(plans.items()):
        if plan.communication.channels.telegram is None:
            continue
        try:
            token = _token_of(plan)
        except WebhookError as error:
            log.warning("telegram: plan %s is not polled: %s", plan_id, error)
            continue
        found.setdefault(bot_id(token), (token, []))[1].append(plan_id)
    return [Bot(bot, token, tuple(ids)) for bot, (token, ids) in found.items()]


def _call(settings: Settings, token: str, method: str, payload: dict[str, Any]) -> Any:
    """One Bot API call; its ``result``. ``ConnectorError`` as the connector raises it."""
    api = settings.telegram_api_url.rstrip("/")
    connect, read = http.timeouts(settings)
    wait = float(payload.get("timeout") or 0)
    response = http.post(
        f"{api}/bot{token}/{method}",
        service=f"Telegram {method}",
        data=http.encode_json(payload),
        headers=http.JSON_HEADERS,
        timeout=(connect, read + wait),
        classify_with=classify,
    )
    try:
        return _object(response.json()).get("result")
    except ValueError:
        return None


def register_webhook(engine: Engine, plan: Plan) -> str:
    """Point the plan's bot at this deployment's webhook; the URL. ``WebhookError`` with
    one line (Telegram's own reason when it refuses) otherwise."""
    token = _token_of(plan)
    bot = bot_id(token)
    url = webhook_url(engine.settings, bot)
    if not url.startswith("https://"):
        raise WebhookError(
            "Telegram only calls https:// webhooks, and PACTKEEPER_BASE_URL is "
            f"{engine.settings.base_url}"
        )
    payload = {
        "url": url,
        "secret_token": webhook_secret(engine.settings, bot),
        "allowed_updates": UPDATES,
    }
    try:
        _call(engine.settings, token, "setWebhook", payload)
    except ConnectorError as error:
        raise WebhookError(error.detail) from None
    return url


_said: set[tuple[str, str]] = set()  # (bot, problem) already logged by this process


def poll_updates(engine: Engine, now: float, wait: float = POLL_WAIT) -> int:
    """Take every bot's waiting updates (``getUpdates``); how many were taken."""
    taken = 0
    for bot in bots(engine):
        taken += _poll(engine, bot, now, wait)
    return taken


def _poll(engine: Engine, bot: Bot, now: float, wait: float) -> int:
    stored = engine.store.get_record(records.TELEGRAM_OFFSETS, bot.id) or {}
    offset = int(stored.get("offset") or 0)
    payload = {"timeout": int(wait), "limit": POLL_LIMIT, "allowed_updates": UPDATES}
    if offset:
        payload["offset"] = offset
    try:
        result = _call(engine.settings, bot.token, "getUpdates", payload)
    except ConnectorError as error:
        if (bot.id, error.detail) not in _said:
            _said.add((bot.id, error.detail))
            log.warning("telegram bot %s: no updates polled: %s", bot.id, error.detail)
        return 0
    updates = [u for u in result if isinstance(u, Mapping)] if isinstance(result, list) else []
    taken = 0
    for update in sorted(updates, key=_number):
        number = _number(update)
        if number < offset:
            continue
        outcome = take_update(engine, bot.id, update, now)
        _acknowledge(engine, bot, update, outcome)
        offset = number + 1
        engine.store.put_record(records.TELEGRAM_OFFSETS, bot.id, {"offset": offset, "at": now})
        taken += 1
    return taken


def _number(update: Mapping[str, Any]) -> int:
    number = update.get("update_id")
    return number if isinstance(number, int) and not isinstance(number, bool) else -1


def _acknowledge(engine: Engine, bot: Bot, update: object, outcome: Outcome | None) -> None:
    call = answer_of(update, outcome)
    if call is None:
        return
    method = call.pop("method")
    try:
        _call(engine.settings, bot.token, method, call)
    except ConnectorError as error:
        log.warning("telegram bot %s: %s not answered: %s", bot.id, method, error.detail)
