"""One inbound e-mail read into what the reply path needs: ``read_mail(raw, settings)``.

Pure apart from the settings (the reply address's key and the Message-ID domain). Whatever
the bytes, it returns a ``Mail`` or raises ``MailRefused`` with a short ``reason`` and a
plain message, never anything else (docs/replies.md):

- ``too_large``: over ``MAX_BYTES``, refused before it is parsed;
- ``unreadable``: no message could be read from the bytes;
- ``no_sender``: no From address.

What the reply is about, first found wins: a ``reply+<key>.<tag>@`` address in To, Cc,
Delivered-To or X-Original-To that ``worker.links.reply_key`` verifies; then the
In-Reply-To id, then the last References id of the form ``<KEY@uid_domain>`` (KEY: a ledger
key, 24 lower-case hex), which is how every message pactkeeper sends is named
(``connectors/email.py``). The text is ``worker.inbound.quotes.new_text`` of the best text
part (plain, else HTML), each part decoded by its own charset. A message without a
Message-ID is named by the digest of its bytes, so the same message twice is still one.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import hashlib
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr

from config.settings import Settings
from worker import links
from worker.inbound.quotes import new_text

MAX_BYTES = 1024 * 1024
KEY_PATTERN = r"[0-9a-f]{24}"
REPLY_HEADERS = ("to", "cc", "delivered-to", "x-original-to")
AUTO_PRECEDENCE = frozenset(("auto_reply", "bulk", "junk"))
AUTO_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder")
# Out-of-office subjects of the common clients, nl and en (docs/replies.md).
AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|automatisch antwoord|automatische reactie|auto[- ]?reply"
    r"|autoreply|out of (?:the )?office|afwezig|niet aanwezig|afwezigheidsbericht"
    r"|on vacation|on holiday|met vakantie|vakantiemelding|away from (?:the )?office"
    r"|undeliverable|onbestelbaar|delivery status notification|mail delivery failed)\b",
    re.IGNORECASE,
)
HEADER_LIMIT = 4096  # of a header read as text (the subject, Auto-Submitted, Precedence)
ADDRESS_LIMIT = 254  # RFC 5321: no address is longer
_BETWEEN_ADDRESSES = re.compile(r"[\s<>,;\"()\[\]]+")
# Decoders that read more than the label says: what mail clients mean by latin-1 is 1252.
CHARSET_READ_AS = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252"}


Headers = dict[str, list[str]]  # lower-case name -> its values, in order


class MailRefused(ValueError):
    """A message that cannot be read as a reply; ``reason`` is a short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Mail:
    sender: str  # the From addr-spec, lower-cased
    message_id: str
    about: str | None  # the ledger key the reply names, verified
    subject: str
    text: str  # the new text only
    auto: bool  # an auto-reply or a delivery report: never an answer
    calendar: bytes | None = None  # a text/calendar part or .ics attachment
    calendar_method: str | None = None  # its METHOD: REPLY, COUNTER, ...


def read_mail(raw: bytes, settings: Settings) -> Mail:
    """The reply in ``raw`` (one RFC 5322 message); ``MailRefused`` when there is none."""
    if len(raw) > MAX_BYTES:
        raise MailRefused("too_large", f"the message is over {MAX_BYTES // 1024} KiB")
    try:
        return _read(raw, settings)
    except MailRefused:
        raise
    except Exception as error:  # the stdlib parser's edge cases, as a refusal
        raise MailRefused("unreadable", "the message could not be read") from error


def _read(raw: bytes, settings: Settings) -> Mail:
    if not raw.strip():
        raise MailRefused("unreadable", "the message is empty")
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if not message.keys():
        raise MailRefused("unreadable", "the message has no headers")
    heads: Headers = {}
    for name, value in message.items():
        heads.setdefault(name.lower(), []).append(_plain(str(value)))
    sender = _sender(heads)
    plain, html = _text_parts(message)
    calendar, method = _calendar(message)
    return Mail(
        sender=sender,
        message_id=_raw(heads, "message-id") or _digest(raw),
        about=_about(heads, settings),
        subject=" ".join(_header(heads, "subject").split()),
        text=new_text(plain, html),
        auto=_is_auto(message, heads),
        calendar=calendar,
        calendar_method=method,
    )


def _raw(heads: Headers, name: str) -> str:
    """The first ``name`` header (lower-case) as it stands; "" if there is none."""
    values = heads.get(name)
    return values[0].strip() if values else ""


def _header(heads: Headers, name: str) -> str:
    """The first ``name`` header as text, encoded words decoded, the first ``HEADER_LIMIT``
    characters only (decoding is slow on thousands of encoded words)."""
    parts = email.header.decode_header(_raw(heads, name)[:HEADER_LIMIT])
    text = "".join(
        _text_of(chunk, charset) if isinstance(chunk, bytes) else chunk for chunk, charset in parts
    )
    return _plain(text).strip()


def _plain(text: str) -> str:
    """Raw 8-bit header bytes (kept by the parser as surrogates) read as UTF-8."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _sender(heads: Headers) -> str:
    """The From address, parsed before encoded words are decoded: a decoded display name
    may hold a comma or an angle bracket of its own."""
    _name, address = parseaddr((heads.get("from") or [""])[0])
    address = address.strip().lower()
    if "@" not in address:
        raise MailRefused("no_sender", "the message has no From address")
    return address


def _digest(raw: bytes) -> str:
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@no-message-id>"


def _about(heads: Headers, settings: Settings) -> str | None:
    for name in REPLY_HEADERS:
        for value in heads.get(name, []):
            for address in _tagged(value):
                key = links.reply_key(settings, address)
                if key:
                    return key
    ours = re.compile(rf"<({KEY_PATTERN})@(?i:{re.escape(settings.uid_domain)})>")
    for name, pick in (("in-reply-to", 0), ("references", -1)):
        keys = ours.findall(_raw(heads, name))
        if keys:
            return str(keys[pick])
    return None


def _tagged(value: str) -> list[str]:
    """The words of a header value that could be a tagged address (``base+key.tag@domain``);
    ``reply_key`` verifies each one."""
    return [
        word
        for word in _BETWEEN_ADDRESSES.split(value)
        if "+" in word and "@" in word and len(word) <= ADDRESS_LIMIT
    ]


def _is_auto(message: Message, heads: Headers) -> bool:
    """An auto-reply, out-of-office or delivery report (docs/replies.md "Auto-replies")."""
    submitted = _header(heads, "auto-submitted").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return True
    if any(name in heads for name in AUTO_HEADERS):
        return True
    if _header(heads, "precedence").lower() in AUTO_PRECEDENCE:
        return True
    if message.get_content_type() == "multipart/report":
        return True
    return bool(AUTO_SUBJECT.match(_header(heads, "subject")))


def _parts(message: Message) -> list[Message]:
    """The leaves of the message, not those of a message attached to it (a forward)."""
    if message.is_multipart():
        payload = message.get_payload()
        if not isinstance(payload, list):
            return []
        return [leaf for part in payload if isinstance(part, Message) for leaf in _parts(part)]
    if message.get_content_maintype() == "message":
        return []
    return [message]


def _is_attachment(part: Message) -> bool:
    return (part.get_content_disposition() or "") == "attachment"


def _text_parts(message: Message) -> tuple[str | None, str | None]:
    plain: str | None = None
    html: str | None = None
    for part in _parts(message):
        if _is_attachment(part):
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _decoded(part)
        elif kind == "text/html" and html is None:
            html = _decoded(part)
    if plain is None and html is None and not message.is_multipart():
        plain = _decoded(message) if message.get_content_maintype() == "text" else None
    return plain, html


def _text_of(data: bytes, label: str | None) -> str:
    """``data`` decoded by the charset ``label`` names; UTF-8 when it names no text codec."""
    name = (label or "utf-8").strip().strip('"').lower()
    try:
        return data.decode(CHARSET_READ_AS.get(name, name), "replace")
    except LookupError:  # unknown, or a bytes codec such as zlib or base64
        return data.decode("utf-8", "replace")


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return _text_of(payload, part.get_content_charset())


def _calendar(message: Message) -> tuple[bytes | None, str | None]:
    for part in _parts(message):
        name = (part.get_filename() or "").lower()
        kind = part.get_content_type()
        if kind in ("text/calendar", "application/ics") or name.endswith(".ics"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload.strip():
                return payload, _method(part, payload)
    return None, None


def _method(part: Message, payload: bytes) -> str | None:
    named = part.get_param("method")
    if isinstance(named, str) and named.strip():
        return named.strip().upper()
    found = re.search(rb"^METHOD:([A-Za-z-]+)\s*$", payload, re.MULTILINE)
    return found.group(1).decode("ascii").upper() if found else None
