"""Log lines name people by plan and person id, never by e-mail address or phone number.

The code says who by id (``voedselbank-aanmelden/ana``). This module is the backstop for
text the code does not write itself: an SMTP server's 550 that quotes the address, a
service's 400 body that quotes the number, an exception's message, a careless line
added later. ``install()`` masks every log record the process makes from then on: an
e-mail address becomes ``<address>`` and an E.164 phone number ``<phone>``, in the
record's final message and in its traceback (docs/main-job.md, "The log").

It works through the log record factory rather than a ``logging.Filter`` on a handler.
Handlers are made by pactkeeper's own setup, by Celery (its own ones with ``-v``), by
uvicorn and by logging's last resort, each at its own moment; a filter on one of them
would miss the others. A record is masked once, where it is made, whichever handler
then writes it.

``sender_tag`` names an inbound sender nobody could match to a person: the same sender
gets the same tag, so its lines can be found together, and only the holder of the
signing key can tell whose it is (a plain hash of a phone number is undone by trying
every number).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from typing import Any

ADDRESS_MASK = "<address>"
PHONE_MASK = "<phone>"
# What a log line must not hold: a user@domain.tld address (a dot in the domain, so a
# Celery node name such as pactkeeper@laptop stays; a UUID before the @ is a calendar
# UID, no person), and a number in E.164 form: '+' or its URL encoding, then 7 to 15
# digits, perhaps grouped by spaces or dashes.
_LOCAL = r"[\w.!#$%&'*+=?^`{|}~-]"  # RFC 5322's, but '/': a path's folders stay
_UUID = r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}@"
ADDRESS = re.compile(rf"(?<!{_LOCAL})(?!{_UUID}){_LOCAL}+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<!\d)(?:\+|%2[Bb])[1-9](?:[ -]?\d){6,14}(?!\d)")
_TRACEBACKS = logging.Formatter()


def mask(text: str) -> str:
    """``text`` without e-mail addresses and phone numbers."""
    return PHONE.sub(PHONE_MASK, ADDRESS.sub(ADDRESS_MASK, text))


def mask_record(record: logging.LogRecord) -> None:
    """Mask the record's final message, traceback and stack in place."""
    message = _message_of(record)
    if message is None:  # arguments that do not fit the format: shown, masked, not raised
        message = f"{record.msg} {record.args!r}"
    masked = mask(message)
    if masked != message:
        _mask_parts(record)
        if _message_of(record) != masked:  # an argument that is no text said it
            record.msg, record.args = masked, ()
    if record.exc_info and not record.exc_text:
        # Formatters only format the exception when exc_text is empty: this text is used.
        record.exc_text = mask(_TRACEBACKS.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = mask(record.stack_info)


def _mask_parts(record: logging.LogRecord) -> None:
    """Mask the format and its text arguments, keeping their shape: a formatter may read
    the arguments themselves (uvicorn's access lines unpack them)."""
    if isinstance(record.msg, str):
        record.msg = mask(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(mask(a) if isinstance(a, str) else a for a in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {k: mask(v) if isinstance(v, str) else v for k, v in record.args.items()}


def _message_of(record: logging.LogRecord) -> str | None:
    try:
        return record.getMessage()
    except Exception:
        return None


class _MaskingFactory:
    """The record factory ``install`` puts in place: the one before it, then masking."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.inner(*args, **kwargs)
        mask_record(record)
        return record


def install() -> None:
    """Mask every log record this process makes from now on; a second call does nothing."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _MaskingFactory):
        logging.setLogRecordFactory(_MaskingFactory(current))


def sender_tag(key: bytes, sender: str) -> str:
    """A stranger's address or number as a log line may name it: ``sender-`` and ten hex
    digits of a keyed hash, the same for the same sender."""
    normal = sender.strip().lower().encode()
    return "sender-" + hmac.new(key, b"log-sender|" + normal, hashlib.sha256).hexdigest()[:10]
