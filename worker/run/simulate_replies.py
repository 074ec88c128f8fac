"""``simulate --replies CSV``: replies built as each channel delivers them, through the real
inbound code (docs/architecture.md §16).

The CSV has the header ``person,at,via,text`` (``via``: email, sms, whatsapp, telegram;
``at`` local to the plan's zone). At its moment each row becomes what its channel would
hand pactkeeper:

- ``email``: an RFC 5322 message from the person, replying to the last e-mail pactkeeper
  sent them (To its reply address, In-Reply-To its Message-ID, the original quoted below
  the text, as a mail client writes it), read by ``worker.inbound.mailin.take_mail``;
- ``sms`` and ``whatsapp``: Twilio's form post, signed with the auth token as Twilio signs
  it, taken by ``worker.inbound.twilio.take_form``, the code behind ``/inbound/twilio``;
- ``telegram``: a Bot API update, a message in the plan's chat that replies to the
  person's last check-in request (with its buttons), taken by
  ``worker.inbound.telegram.take_update``, the code behind ``/inbound/telegram``.

Each row adds a ``reply`` line to ``log.jsonl`` (``person``, ``at``, ``via``, ``status``,
``answered``), and an ``optout`` line when it switched a channel off or on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import IO, Any

from config.notation import parse_datetime
from config.plan import Person, Plan
from connectors.email import message_id
from worker import links
from worker.engine import Engine
from worker.inbound import telegram, twilio
from worker.inbound.mailin import take_mail
from worker.inbound.replies import VIAS, Outcome, latest_request
from worker.run.csvfile import read_rows, reader
from worker.store import Item

HEADER = ("person", "at", "via", "text")
SIMULATED_TOKEN = "simulation-twilio-auth-token"  # noqa: S105 - signs simulated posts only
SIMULATED_ADDRESS = "reply@pactkeeper.invalid"


class RepliesError(ValueError):
    """A replies CSV that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class ReplyRow:
    line: int
    person: str
    at: datetime  # UTC
    via: str
    text: str


def read_replies(path: Path, plan: Plan) -> list[ReplyRow]:
    """Parse the replies CSV; every row is checked before anything runs."""
    return read_rows(path, lambda handle: _rows(handle, path, plan), RepliesError)


def _rows(handle: IO[str], path: Path, plan: Plan) -> list[ReplyRow]:
    rows = [
        _row(raw, line, path, plan)
        for line, raw in enumerate(reader(handle, path, HEADER, RepliesError), start=2)
    ]
    return sorted(rows, key=lambda row: (row.at, row.line))


def _row(raw: dict[str, Any], line: int, path: Path, plan: Plan) -> ReplyRow:
    where = f"{path}:{line}"
    person_id = (raw.get("person") or "").strip()
    try:
        person = plan.person(person_id)
    except KeyError:
        raise RepliesError(f"{where}: no person '{person_id}' in the plan") from None
    via = (raw.get("via") or "").strip().lower()
    if via not in VIAS:
        raise RepliesError(f"{where}: via '{via}' is not one of {', '.join(VIAS)}")
    needs = {"email": person.email, "sms": person.phone, "whatsapp": person.phone}
    if via in needs and not needs[via]:
        what = "e-mail address" if via == "email" else "phone number"
        raise RepliesError(f"{where}: {person.name} has no {what} in the plan to reply from")
    if via == "telegram" and plan.communication.channels.telegram is None:
        raise RepliesError(f"{where}: the plan has no Telegram chat to reply in")
    try:
        local = parse_datetime((raw.get("at") or "").strip())
    except ValueError as error:
        raise RepliesError(f"{where}: {error}") from None
    at = local.replace(tzinfo=plan.zone).astimezone(UTC)
    return ReplyRow(line, person.id, at, via, raw.get("text") or "")


def deliver(engine: Engine, plan: Plan, row: ReplyRow, now: float) -> Outcome | None:
    """The row as its channel delivers it, through the real inbound code."""
    person = plan.person(row.person)
    if row.via == "email":
        return take_mail(engine, _email(engine, plan, person, row, now), now)
    if row.via in ("sms", "whatsapp"):
        url, params = _twilio_post(engine, person, row)
        token = _twilio_token(engine)
        return twilio.take_form(engine, url, params, twilio.signature(url, params, token), now)
    return telegram.take_update(engine, _bot(plan), _update(engine, plan, person, row), now)


def log_line(handle: IO[str], row: ReplyRow, outcome: Outcome | None) -> None:
    at = row.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = outcome.result if outcome is not None else "ignored"
    line = {
        "kind": "reply",
        "person": row.person,
        "at": at,
        "via": row.via,
        "status": outcome.status if outcome is not None else None,
        "answered": result in ("answered", "unclear"),
        "result": result,
    }
    handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    if result in ("optout", "optin"):
        off = {"kind": "optout", "person": row.person, "at": at, "via": row.via}
        handle.write(json.dumps({**off, "off": result == "optout"}, ensure_ascii=False) + "\n")
    handle.flush()


# -- as each channel delivers it ----------------------------------------------------------


def _last_email(engine: Engine, plan: Plan, person: Person) -> Item | None:
    sent = [
        item
        for item in engine.store.items(plan.id, ("sent",))
        if item.recipient == person.id and (item.channel_used or item.channel) == "email"
    ]
    return max(sent, key=lambda item: item.sent_at or 0.0, default=None)


def _email(engine: Engine, plan: Plan, person: Person, row: ReplyRow, now: float) -> bytes:
    """What the person's mail client sends: a reply to the last e-mail, quoting it below."""
    settings = engine.settings
    last = _last_email(engine, plan, person)
    mail = EmailMessage(policy=SMTP)
    mail["From"] = Address(person.name, addr_spec=str(person.email))
    to = links.reply_address(settings, last.key) if last is not None else None
    mail["To"] = to or settings.reply_address or SIMULATED_ADDRESS
    mail["Subject"] = f"Re: {last.subject}" if last is not None and last.subject else plan.title
    mail["Date"] = format_datetime(row.at)
    digest = hashlib.sha256(f"{plan.id}|{row.line}|{row.text}".encode()).hexdigest()[:20]
    mail["Message-ID"] = f"<{digest}@replies.simulation.invalid>"
    text = row.text
    if last is not None:
        original = message_id(last.key, settings)
        mail["In-Reply-To"] = original
        mail["References"] = original
        sent = datetime.fromtimestamp(last.sent_at or now, UTC)
        text += f"\n\nOn {format_datetime(sent)}, pactkeeper wrote:\n> {last.subject}\n"
    mail.set_content(text, charset="utf-8")
    return mail.as_bytes()


def _twilio_token(engine: Engine) -> str:
    token = engine.settings.twilio_auth_token
    return token.get_secret_value() if token is not None else SIMULATED_TOKEN


def _twilio_post(engine: Engine, person: Person, row: ReplyRow) -> tuple[str, dict[str, str]]:
    settings = engine.settings
    prefix = "whatsapp:" if row.via == "whatsapp" else ""
    number = settings.twilio_whatsapp_from if row.via == "whatsapp" else settings.twilio_from
    sid = hashlib.sha256(f"{person.id}|{row.line}|{row.text}".encode()).hexdigest()[:32]
    params = {
        "MessageSid": f"SM{sid}",
        "AccountSid": settings.twilio_account_sid or "AC" + "0" * 32,
        "From": f"{prefix}{person.phone}",
        "To": f"{prefix}{(number or '+10000000000').removeprefix('whatsapp:')}",
        "Body": row.text,
        "NumMedia": "0",
    }
    return f"{settings.base_url.rstrip('/')}/inbound/twilio", params


def _bot(plan: Plan) -> str:
    """The bot the update comes from: only a name for the update's id here (a simulation
    has no bot token to read the real id from)."""
    return "simulation"


def _telegram_account(person: Person) -> int:
    """The person's own Telegram account in the simulation: the same one every time."""
    return int(hashlib.sha256(person.id.encode()).hexdigest()[:8], 16)


def _update(engine: Engine, plan: Plan, person: Person, row: ReplyRow) -> dict[str, Any]:
    """A message in the plan's chat replying to the person's last check-in request."""
    chat = plan.communication.channels.telegram
    assert chat is not None
    number = int(hashlib.sha256(f"{plan.id}|{row.line}".encode()).hexdigest()[:8], 16)
    stamp = int(row.at.timestamp())
    message: dict[str, Any] = {
        "message_id": number % 100000,
        "date": stamp,
        "chat": {"id": int(chat.chat_id) if chat.chat_id.lstrip("-").isdigit() else chat.chat_id},
        "from": {"id": _telegram_account(person), "is_bot": False, "first_name": person.called},
        "text": row.text,
    }
    request = latest_request(engine, plan, person, row.at.timestamp())
    if request is not None:
        lang = plan.language_of(person)
        keyboard = [
            [{"text": label, "callback_data": data}]
            for label, data in telegram.buttons(engine.settings, request.key, lang)
        ]
        message["reply_to_message"] = {
            "message_id": (number + 1) % 100000,
            "date": int(request.sent_at or stamp),
            "chat": message["chat"],
            "text": request.subject,
            "reply_markup": {"inline_keyboard": keyboard},
        }
    return {"update_id": number, "message": message}
