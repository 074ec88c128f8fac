"""Signed links: an HMAC-SHA256 token bound to what it is for, with an expiry.

A token is ``<payload>.<signature>``, both base64url. The payload names its
purpose (``checkin``, ``feed``, ``bundle``, ``status``) and the plan, person and
window it is bound to, so a token never works for another person, plan or use.
Verification is constant-time and answers with a reason, never an exception.
A key shorter than ``MIN_KEY_BYTES`` verifies nothing: with an empty key, HMAC
is public and anyone could make any link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from config.settings import MIN_KEY_BYTES


class TokenError(ValueError):
    """The token is not valid. ``reason`` is the code pages and APIs act on (``incomplete``,
    ``invalid``, ``wrong_page``, ``expired``); the message is for a log or a command line
    and may be reworded freely."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Grant:
    purpose: str
    fields: dict[str, Any]
    expires: float | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def sign(key: bytes, purpose: str, fields: dict[str, Any], expires: float | None = None) -> str:
    body = {"u": purpose, "f": fields, "x": expires}
    payload = _b64(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    return f"{payload}.{_signature(key, payload)}"


def verify(key: bytes, token: str, purpose: str, now: float) -> Grant:
    """The grant in a token, or ``TokenError`` saying why it is refused."""
    payload, _, signature = token.partition(".")
    if not payload or not signature:
        raise TokenError("incomplete", "this link is incomplete")
    if len(key) < MIN_KEY_BYTES:
        raise TokenError("invalid", "this link is not valid")  # Settings refuses such keys at start
    if not hmac.compare_digest(_signature(key, payload), signature):
        raise TokenError("invalid", "this link is not valid")
    try:
        body = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError):
        raise TokenError("invalid", "this link is not valid") from None
    if body.get("u") != purpose or not isinstance(body.get("f"), dict):
        raise TokenError("wrong_page", "this link is not meant for this page")
    expires = body.get("x")
    if expires is not None and now > float(expires):
        raise TokenError("expired", "this link has expired")
    return Grant(purpose, body["f"], expires)


def tag(key: bytes, purpose: str, text: str, size: int = 16) -> str:
    """A short signature of ``text`` for ``purpose``: ``size`` lower-case hex digits.

    For the places a whole token does not fit (an e-mail address's local part holds 64
    characters, a Telegram button's data 64 bytes, and some mail systems lower-case
    addresses). 16 digits are 64 bits. Nothing under a short key matches anything.
    """
    mac = hmac.new(key, f"{purpose}|{text}".encode(), hashlib.sha256).hexdigest()
    return mac[:size] if len(key) >= MIN_KEY_BYTES else ""


def tag_matches(key: bytes, purpose: str, text: str, given: str) -> bool:
    expected = tag(key, purpose, text, len(given))
    return bool(expected) and len(given) >= 16 and hmac.compare_digest(expected, given.lower())
