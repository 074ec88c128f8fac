"""Twilio's inbound SMS and WhatsApp webhook: the signature, and the form as a ``Reply``.

``take_form`` is what ``POST /inbound/twilio`` and ``simulate --replies`` run: the
signature checked, then the form through ``take_reply``. The rest is pure. Twilio signs
every webhook request (https://www.twilio.com/docs/usage/webhooks/webhooks-security):
the full URL it called (scheme, host, path and query string), then every POST parameter's name
and value, sorted by name, appended without separators; HMAC-SHA1 of that with
the account's auth token, base64, in the header ``X-Twilio-Signature``.
``valid`` compares in constant time, so the answer's timing tells a forger nothing.

The form (https://www.twilio.com/docs/messaging/guides/webhook-request): ``From`` is
``+31612345678`` for an SMS and ``whatsapp:+31612345678`` for a WhatsApp message,
``Body`` the text, ``MessageSid`` the message's id: Twilio retries a webhook with the
same ``MessageSid``, so it names the message for the duplicate check
(``worker.inbound.replies.take_reply``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from worker.inbound.replies import Outcome, Reply, take_reply

if TYPE_CHECKING:
    from worker.engine import Engine

HEADER = "X-Twilio-Signature"
WHATSAPP = "whatsapp:"

Params = Mapping[str, str] | Iterable[tuple[str, str]]


def _pairs(params: Params) -> list[tuple[str, str]]:
    return list(params.items()) if isinstance(params, Mapping) else list(params)


def signature(url: str, params: Params, auth_token: str) -> str:
    """The ``X-Twilio-Signature`` Twilio sends with a POST of ``params`` to ``url``.

    A name given twice (a form may repeat one) is appended once per value, its values
    sorted too, as Twilio's own helper libraries do.
    """
    signed = url + "".join(name + value for name, value in sorted(_pairs(params)))
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def valid(url: str, params: Params, header: str | None, auth_token: str) -> bool:
    """True when ``header`` is Twilio's signature of this request; False for a missing
    header or an empty token (nothing can be checked against nothing)."""
    if not header or not auth_token:
        return False
    expected = signature(url, params, auth_token)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8"))


def reply_of(form: Mapping[str, str], at: float) -> Reply:
    """The inbound message as a ``Reply``: WhatsApp when ``From`` says so, SMS otherwise."""
    sender = form.get("From", "").strip()
    via = "sms"
    if sender.lower().startswith(WHATSAPP):
        via, sender = "whatsapp", sender[len(WHATSAPP) :].strip()
    return Reply(
        via=via,
        sender=sender,
        external_id=form.get("MessageSid", "").strip(),
        text=form.get("Body", ""),
        at=at,
    )


def take_form(engine: Engine, url: str, params: Params, header: str | None, now: float) -> Outcome:
    """One signed post: refused (``bad_signature``) and nothing read when the signature is
    not Twilio's over ``url`` with ``PACTKEEPER_TWILIO_AUTH_TOKEN``; else taken."""
    token = engine.settings.twilio_auth_token
    pairs = _pairs(params)
    if not valid(url, pairs, header, token.get_secret_value() if token is not None else ""):
        return Outcome("refused", "bad_signature")
    form = dict(reversed(pairs))  # a name given twice: its first value
    return take_reply(engine, reply_of(form, now), now)
