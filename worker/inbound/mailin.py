"""One inbound e-mail, whichever way it came: ``pactkeeper mail-in`` or the IMAP poller.

``take_mail(engine, raw, now)`` reads the message (``worker.inbound.mail``: the sender,
what it is about, the new text, whether it is an auto-reply) and hands it on:

- a calendar answer (an iTIP REPLY or COUNTER, in a ``text/calendar`` part or an ``.ics``
  attachment) to ``worker.inbound.itip``, which records who accepted which meeting (a
  calendar that is no answer, such as a forwarded invitation, leaves the text a reply);
- everything else to ``worker.inbound.replies.take_reply``, the way in of every reply.

A message that cannot be read (over 1 MB, no sender, not a message at all) is refused with
its reason; nothing is recorded, nothing raises (docs/architecture.md §16).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from worker.inbound.itip import take_calendar_reply
from worker.inbound.mail import Mail, MailRefused, read_mail
from worker.inbound.reading import optout_word
from worker.inbound.replies import Outcome, Reply, take_reply, within_rate
from worker.store import records

if TYPE_CHECKING:
    from worker.engine import Engine

log = logging.getLogger("pactkeeper.inbound")

CALENDAR_METHODS = ("REPLY", "COUNTER")


def take_mail(engine: Engine, raw: bytes, now: float) -> Outcome:
    """What became of one RFC 5322 message (``Outcome.result``, ``Outcome.reason``)."""
    try:
        mail = read_mail(raw, engine.settings)
    except MailRefused as error:
        log.info("refused an inbound e-mail: %s", error.reason)
        return Outcome("refused", error.reason)
    method = (mail.calendar_method or "").upper()
    if mail.calendar is not None and (method in CALENDAR_METHODS or not method):
        answered = _calendar(engine, mail, now)
        if answered is not None:
            return answered
    text = mail.text
    if not text.strip() and optout_word(mail.subject) is not None:
        text = mail.subject  # List-Unsubscribe's mailto: the word is the subject
    reply = Reply(
        via="email",
        sender=mail.sender,
        external_id=mail.message_id,
        text=text,
        at=now,
        about=mail.about,
        auto=mail.auto,
        subject=mail.subject,
    )
    return take_reply(engine, reply, now)


def _calendar(engine: Engine, mail: Mail, now: float) -> Outcome | None:
    """The calendar answer in ``mail``; None when its calendar is no answer at all (a
    forwarded invitation), so the text is read as a reply instead."""
    seen_id = f"email:{mail.message_id}"
    seen = engine.store.get_record(records.INBOUND_SEEN, seen_id)
    if seen is not None:
        return Outcome("duplicate", plan_id=seen.get("plan_id"), person=seen.get("person"))
    if not within_rate(engine, "email", mail.sender, now):
        log.warning("refused a calendar answer: its sender sent too many this hour")
        return Outcome("refused", "rate_limited")
    assert mail.calendar is not None
    outcome = take_calendar_reply(engine, mail.sender, mail.calendar, now, mail.calendar_method)
    if outcome.result == "refused" and outcome.reason == "not_a_reply":
        return None
    if outcome.result != "refused":
        engine.store.put_record(
            records.INBOUND_SEEN,
            seen_id,
            {"result": outcome.result, "plan_id": outcome.plan_id, "person": outcome.person},
        )
    return outcome
