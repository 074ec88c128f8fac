"""The inbound webhooks: Twilio's SMS and WhatsApp, and Telegram's updates.

Both hand what they read to ``worker.inbound.replies.take_reply`` (docs/architecture.md
§16), which decides what a message is; here only what a webhook promises is checked:

- ``POST /inbound/twilio`` takes ``application/x-www-form-urlencoded`` only (415
  otherwise) and checks ``X-Twilio-Signature`` over the URL Twilio called: the public
  ``PACTKEEPER_BASE_URL`` with this path and query, signed with
  ``PACTKEEPER_TWILIO_AUTH_TOKEN`` (``worker.inbound.twilio``). A missing or wrong
  signature is 403 and nothing is read further. The answer is TwiML: ``<Response/>``,
  or one ``<Message>`` with the confirmation in the person's language.
- ``POST /inbound/telegram/{bot}`` checks ``X-Telegram-Bot-Api-Secret-Token`` against the
  bot's secret (``worker.inbound.telegram.webhook_secret``) in constant time, 403
  otherwise, and takes JSON only. Every update it can read is answered 200, taken or
  ignored, so Telegram does not send it again and again; a pressed button is answered
  in the same response with ``answerCallbackQuery`` (Telegram runs a method named in a
  webhook's answer), a text reply with its confirmation.

A body over ``INBOUND_LIMIT`` is refused with 413 before it is parsed, one that is not
UTF-8 with 400; none of these refusals changes anything, and none is a 5xx. Refusals
are one plain line: the callers are services, not people. No body, token or signature
reaches a log line.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from web.access import engine_of, run_on_store_thread
from web.pages import SECURITY_HEADERS
from worker import clock
from worker.inbound import telegram, twilio
from worker.inbound.replies import Outcome

router = APIRouter()

INBOUND_LIMIT = 1024 * 1024  # bytes: an SMS is 1600 characters, a Telegram update a few kB
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
TWIML = "text/xml; charset=utf-8"

REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not UTF-8, or not a form or JSON at all"},
    403: {"description": "The signature or the secret token is missing or wrong"},
    413: {"description": "The body is larger than INBOUND_LIMIT"},
    415: {"description": "The body is not of the one content type the webhook takes"},
}


class Refusal(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def _refused(error: Refusal) -> Response:
    return Response(
        f"{error.text}\n", error.status, media_type="text/plain", headers=SECURITY_HEADERS
    )


def _require_type(request: Request, wanted: str) -> None:
    given = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if given != wanted:
        raise Refusal(415, f"this webhook takes {wanted} only")


async def _body(request: Request) -> bytes:
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > INBOUND_LIMIT:
        raise Refusal(413, "the body is too large")
    body = await request.body()
    if len(body) > INBOUND_LIMIT:
        raise Refusal(413, "the body is too large")
    return body


def _form(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise Refusal(400, "the form is not UTF-8") from None


def called_url(request: Request) -> str:
    """The URL Twilio called, as it signed it: the public base URL, the path, the query."""
    base = engine_of(request).settings.base_url.rstrip("/")
    query = request.url.query
    return f"{base}{request.url.path}{'?' + query if query else ''}"


def twiml(outcome: Outcome) -> str:
    line = outcome.confirmation()
    body = f"<Response><Message>{escape(line)}</Message></Response>" if line else "<Response/>"
    return f'<?xml version="1.0" encoding="UTF-8"?>{body}'


@router.post("/inbound/twilio", responses=REFUSALS, summary="Twilio's inbound SMS and WhatsApp")
async def twilio_inbound(request: Request) -> Response:
    engine = engine_of(request)
    try:
        _require_type(request, FORM)
        pairs = _form(await _body(request))
        token = engine.settings.twilio_auth_token
        secret = token.get_secret_value() if token is not None else ""
        header, url = request.headers.get(twilio.HEADER), called_url(request)
        # Checked here first, so a forged post never waits for the store's thread.
        if not twilio.valid(url, pairs, header, secret):
            raise Refusal(403, "the X-Twilio-Signature is missing or wrong")
    except Refusal as error:
        return _refused(error)
    now = clock.now()
    outcome = await run_on_store_thread(
        request, lambda: twilio.take_form(engine, url, pairs, header, now)
    )
    return Response(twiml(outcome), media_type=TWIML, headers=SECURITY_HEADERS)


@router.post(
    "/inbound/telegram/{bot}", responses=REFUSALS, summary="Telegram's updates for one bot"
)
async def telegram_inbound(bot: str, request: Request) -> Response:
    engine = engine_of(request)
    try:
        header = request.headers.get(telegram.SECRET_HEADER)
        if not telegram.webhook_valid(engine.settings, bot, header):
            raise Refusal(403, "the secret token is missing or wrong")
        _require_type(request, JSON)
        update = _json(await _body(request))
    except Refusal as error:
        return _refused(error)
    now = clock.now()
    outcome = await run_on_store_thread(
        request, lambda: telegram.take_update(engine, bot, update, now)
    )
    answer = telegram.answer_of(update, outcome)
    if answer is None:
        return Response(status_code=200, headers=SECURITY_HEADERS)
    return JSONResponse(answer, headers=SECURITY_HEADERS)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refusal(400, "the body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise Refusal(400, "the body is not JSON") from None
