"""Every inbound text comes in here: an e-mail reply, an SMS, a WhatsApp, a Telegram message.

``take_reply`` is the one way in (docs/architecture.md §16), for ``pactkeeper mail-in``, the
IMAP poller, ``/inbound/twilio``, ``/inbound/telegram`` and ``simulate --replies``:

1. **Once.** The same inbound message (its Message-ID, MessageSid or update id) is taken
   once; a second delivery of it gets the first one's outcome and changes nothing. What it
   does is idempotent too (the check-in row is compare-and-set, notices have fixed keys),
   so a process that dies between acting and remembering acts again harmlessly.
2. **Who.** The sender must be a person of a plan kept here, by e-mail address or phone
   number, or a plan's Telegram chat; anyone else is refused and logged without the body,
   with no answer (no backscatter). A sender may send ``inbound_rate`` messages an hour.
3. **About what.** The message the reply names (the reply address's token, In-Reply-To, a
   Telegram button), else the person's latest check-in request: with one phone number in
   two plans, the plan whose request is the most recent.
4. **What it says** (``worker.inbound.reading``): only an opt-out word switches that
   channel off for the person (START switches it on again), and the lead is told once; a
   status answers the window of the request; a reply without one still counts as contact
   ("answered, status unclear", shown to the lead); an auto-reply is never an answer; a
   reply to a message that asked nothing reaches the lead as a notice.

Every inbound WhatsApp message opens that person's 24-hour WhatsApp session
(``worker.delivery.channels``).
"""

from __future__ import annotations

import bisect
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from config.load import PlanError
from config.plan import Person, Plan
from worker import timeline
from worker.checkins.answers import CheckinError, record_checkin, record_contact
from worker.checkins.rhythm import rhythm
from worker.delivery.channels import choose_channel, opt
from worker.inbound import notices
from worker.inbound.reading import read_answer
from worker.logfilter import sender_tag
from worker.messages import gettext_in
from worker.store import Item, records

if TYPE_CHECKING:
    from worker.engine import Engine

log = logging.getLogger("pactkeeper.inbound")

VIAS = ("email", "sms", "whatsapp", "telegram")
RESULTS = ("answered", "unclear", "notice", "optout", "optin", "auto", "duplicate", "refused")
# What a reply names when it names a request: the check-in request's kind in the ledger.
REQUEST = "checkin_open"
RATE_WINDOW = 3600
LOOK_BACK = 4  # windows: a reply answers the latest request that reached the person


@dataclass(frozen=True)
class Reply:
    via: str  # email | sms | whatsapp | telegram
    sender: str  # e-mail address, E.164 phone, or the Telegram chat id
    external_id: str  # Message-ID, MessageSid, "<bot>:<update_id>"
    text: str  # what the person wrote (quotes and signature stripped)
    at: float  # when it arrived
    about: str | None = None  # the ledger key it names, verified by the caller
    status: str | None = None  # a button names the status itself
    auto: bool = False  # an auto-reply: shown to the lead, never an answer
    subject: str = ""
    user: str = ""  # Telegram: who pressed or wrote (from.id)


@dataclass(frozen=True)
class Outcome:
    result: str  # one of RESULTS
    reason: str = ""  # why refused, or why an answer became a notice
    plan_id: str | None = None
    person: str | None = None
    status: str | None = None
    window: str | None = None
    language: str = "en"

    def confirmation(self) -> str | None:
        """The one line a chat channel answers with, in the person's language; None for
        none (a refused sender gets nothing back)."""
        lang = self.language
        if self.result == "answered":
            return gettext_in(lang, "Thank you, your check-in is recorded.")
        if self.result == "unclear":
            return gettext_in(lang, "Thank you, your message is passed on to the team lead.")
        if self.result == "notice":
            return gettext_in(lang, "Thank you, your message is passed on to the team lead.")
        if self.result == "optout":
            return gettext_in(
                lang, "You will no longer get messages here. Send START to switch them on."
            )
        if self.result == "optin":
            return gettext_in(lang, "Messages are switched on here again.")
        return None

    def summary(self) -> str:
        """One line for a command line or a log: what became of the message."""
        who = f"{self.plan_id}/{self.person}" if self.person else (self.plan_id or "")
        parts = [self.result, who, self.status or "", self.window or "", self.reason]
        return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class Match:
    plan: Plan
    person: Person
    about: Item | None  # the ledger item the reply is about, if it names or finds one


def take_reply(engine: Engine, reply: Reply, now: float) -> Outcome:
    """What became of one inbound message (see the module docstring); never raises for
    what a sender can send."""
    seen_id = _seen_id(reply)
    seen = engine.store.get_record(records.INBOUND_SEEN, seen_id)
    if seen is not None:
        return Outcome(
            "duplicate",
            plan_id=seen.get("plan_id"),
            person=seen.get("person"),
            status=seen.get("status"),
            window=seen.get("window"),
            language=str(seen.get("language") or "en"),
        )
    match = find_sender(engine, reply)
    if match is None:
        who = sender_tag(engine.settings.signing_key, reply.sender)
        log.info("refused a %s message from an unknown sender (%s)", reply.via, who)
        return Outcome("refused", "unknown_sender")
    # In a Telegram group the chat is shared: each account has its own hour there.
    if not within_rate(engine, reply.via, reply.user or reply.sender, now):
        log.warning(
            "refused a %s message: %s sent more than %d this hour",
            reply.via,
            match.person.id,
            engine.settings.inbound_rate,
        )
        return Outcome("refused", "rate_limited", match.plan.id, match.person.id)
    if reply.via == "whatsapp":
        open_session(engine, reply.sender, reply.at)
    outcome = _act(engine, match, reply, now)
    engine.store.put_record(
        records.INBOUND_SEEN, seen_id, {**asdict(outcome), "at": now, "via": reply.via}
    )
    log.info("%s reply: %s", reply.via, outcome.summary())
    return outcome


def _seen_id(reply: Reply) -> str:
    given = reply.external_id.strip()
    if not given:  # nothing names it: the same sender, time and text is the same message
        given = hashlib.sha256(f"{reply.sender}|{reply.at}|{reply.text}".encode()).hexdigest()
    return f"{reply.via}:{given[:300]}"


# -- who sent it ------------------------------------------------------------------------


def find_sender(engine: Engine, reply: Reply) -> Match | None:
    """The plan and person the message is from, and what it is about; None for a stranger."""
    named = engine.store.get(reply.about) if reply.about else None
    if named is not None:
        match = _named(engine, reply, named)
        if match is not None:
            return match
    if reply.via == "telegram":
        return None  # a chat message that names no request names no person
    people = list(_people_with(engine, reply))
    if not people:
        return None
    # The latest check-in request among everyone with this address, in any plan.
    latest: tuple[float, Match] | None = None
    for plan, person in people:
        request = latest_request(engine, plan, person, reply.at)
        if request is not None and (latest is None or (request.sent_at or 0) > latest[0]):
            latest = (request.sent_at or 0.0, Match(plan, person, request))
    if latest is not None:
        return latest[1]
    plan, person = people[0]
    return Match(plan, person, None)


def _named(engine: Engine, reply: Reply, item: Item) -> Match | None:
    try:
        plan = engine.plan(item.plan_id)
    except (PlanError, LookupError):
        return None
    if reply.via == "telegram":
        chat = plan.communication.channels.telegram
        if chat is None or str(chat.chat_id) != reply.sender.strip():
            return None
        person = _person(plan, item.recipient)
        if person is None or not _same_telegram_user(engine, plan, person, reply.user):
            return None
        return Match(plan, person, item)
    for person in plan.people:
        if _address_of(person, reply.via) == _normal(reply.sender, reply.via):
            # Someone else of the plan answering another's message: not an answer of theirs.
            return Match(plan, person, item if person.id == item.recipient else None)
    return None


def _same_telegram_user(engine: Engine, plan: Plan, person: Person, user: str) -> bool:
    """In a group chat anyone can press anyone's buttons: the first Telegram account that
    answers for a person is theirs from then on, and another one's answer for them is
    refused (trust on first use; a plan holds no Telegram accounts to check against)."""
    if not user:
        return True
    row = records.telegram_user_id(person.id)
    known = engine.store.put_record_once(records.telegram_users(plan.id), row, {"user": user})
    return known is None or str(known.get("user")) == user


def _people_with(engine: Engine, reply: Reply) -> Iterator[tuple[Plan, Person]]:
    address = _normal(reply.sender, reply.via)
    if not address:
        return
    plans, _ = engine.plans(sorted(engine.store.plan_ids()))
    kind = _kind(reply.via)
    for plan_id in sorted(plans):
        plan = plans[plan_id]
        for person in _addresses(plan).get((kind, address), ()):
            yield plan, person


# Per plan (the engine keeps one Plan object per stored revision): its people by address,
# so a reply is matched without going through every person of every plan.
_INDEXES: dict[int, tuple[Plan, dict[tuple[str, str], tuple[Person, ...]]]] = {}
INDEXES_KEPT = 1024


def _addresses(plan: Plan) -> dict[tuple[str, str], tuple[Person, ...]]:
    kept = _INDEXES.get(id(plan))
    if kept is not None and kept[0] is plan:
        return kept[1]
    found: dict[tuple[str, str], list[Person]] = {}
    for person in plan.people:
        for kind, value in (("email", person.email), ("phone", person.phone)):
            if value:
                found.setdefault((kind, _normal(value, kind)), []).append(person)
    index = {key: tuple(people) for key, people in found.items()}
    if len(_INDEXES) >= INDEXES_KEPT:
        _INDEXES.clear()
    _INDEXES[id(plan)] = (plan, index)
    return index


def _kind(via: str) -> str:
    return "email" if via == "email" else "phone"


def _person(plan: Plan, person_id: str | None) -> Person | None:
    try:
        return plan.person(person_id or "")
    except KeyError:
        return None


def _address_of(person: Person, via: str) -> str:
    return _normal((person.email if via == "email" else person.phone) or "", _kind(via))


def _normal(address: str, via: str) -> str:
    """An address as it is compared: e-mail lower-cased, a phone number without spaces or
    WhatsApp's prefix (``via``: a channel, or "phone")."""
    address = address.strip()
    if via == "email":
        return address.lower()
    return address.removeprefix("whatsapp:").replace(" ", "")


def latest_request(engine: Engine, plan: Plan, person: Person, now: float) -> Item | None:
    """The person's most recent check-in request that went out by ``now``.

    Found from the plan's rhythm, not by reading the ledger: a request's key is the
    timeline's key of its window (docs/architecture.md §4), so the last few windows opened
    are one read of the store, however long the ledger is.
    """
    slots = rhythm(plan).slots.get(person.id, ())
    opened = bisect.bisect_right([slot.opens for slot in slots], now)
    recent = slots[max(0, opened - LOOK_BACK) : opened]
    keys = {
        timeline.occurrence_key(
            plan.id,
            REQUEST,
            slot.day,
            person.id,
            person.channels[0],
            datetime.fromtimestamp(slot.opens, UTC),
        ): slot.opens
        for slot in recent
    }
    sent = [item for item in engine.store.get_many(list(keys)) if item.state == "sent"]
    return max(sent, key=lambda item: keys[item.key], default=None)


def within_rate(engine: Engine, via: str, sender: str, now: float) -> bool:
    """Count a message against its sender's hour; False once the hour is full."""
    row = records.inbound_rate_id(via, _normal(sender, via), int(now // RATE_WINDOW))
    for _ in range(20):
        old = engine.store.put_record_once(records.INBOUND_RATES, row, {"count": 1})
        if old is None:
            return True
        count = int(old.get("count") or 0)
        if count >= engine.settings.inbound_rate:
            return False
        changes = {"count": count + 1}
        if engine.store.update_record(records.INBOUND_RATES, row, {"count": count}, changes, old):
            return True
    return False


# -- what it says -----------------------------------------------------------------------


def _act(engine: Engine, match: Match, reply: Reply, now: float) -> Outcome:
    plan, person = match.plan, match.person
    lang = plan.language_of(person)
    base = {"plan_id": plan.id, "person": person.id, "language": lang}
    if reply.auto:
        _tell_lead(engine, match, reply, "auto", now)
        return Outcome("auto", **base)
    reading = read_answer(reply.text)
    if reading.optout is not None and reply.status is None:
        return _opt(engine, match, reply, reading.optout == "stop", now)
    status = reply.status or reading.status
    request = match.about if match.about is not None and match.about.kind == REQUEST else None
    if match.about is not None and request is None:
        _tell_lead(engine, match, reply, "asked_nothing", now)
        return Outcome("notice", "asked_nothing", **base)
    if request is None:
        _tell_lead(engine, match, reply, "no_request", now)
        return Outcome("notice", "no_request", **base)
    window = request.ref
    try:
        if status is None:
            contact = record_contact(
                engine, plan, person.id, now, reading.note, reply.via, window=window
            )
            if contact.outcome == "unchanged":  # the window has its answer: this is more
                _tell_lead(engine, match, reply, "more", now, window=window)
                return Outcome("notice", "answered_before", window=window, **base)
        else:
            record_checkin(
                engine, plan, person.id, now, status, reading.note, source=reply.via, window=window
            )
    except CheckinError as error:
        _tell_lead(engine, match, reply, "not_recorded", now, reason=str(error))
        return Outcome("notice", "not_recorded", window=window, **base)
    if status is None:
        _tell_lead(engine, match, reply, "unclear", now, window=window)
        return Outcome("unclear", window=window, **base)
    return Outcome("answered", status=status, window=window, **base)


def _opt(engine: Engine, match: Match, reply: Reply, off: bool, now: float) -> Outcome:
    """STOP switches the channel off for the person; START switches it on again. On SMS and
    WhatsApp the number stops for every plan that has it, as the carrier stops it."""
    targets = (
        [(p, person) for p, person in _people_with(engine, reply)]
        if reply.via in ("sms", "whatsapp")
        else [(match.plan, match.person)]
    )
    source = f"{reply.via}:{reply.external_id}"
    for plan, person in targets or [(match.plan, match.person)]:
        if reply.via not in person.channels:
            continue
        if opt(engine, plan, person, reply.via, off, now, source):
            _tell_lead(
                engine,
                Match(plan, person, None),
                reply,
                "optout" if off else "optin",
                now,
            )
    plan, person = match.plan, match.person
    return Outcome(
        "optout" if off else "optin",
        plan_id=plan.id,
        person=person.id,
        language=plan.language_of(person),
    )


def _tell_lead(
    engine: Engine,
    match: Match,
    reply: Reply,
    case: str,
    now: float,
    window: str | None = None,
    reason: str = "",
) -> None:
    plan, person = match.plan, match.person
    lead = plan.lead
    if lead.id == person.id:  # the lead's own reply goes to the partner contact
        recipients = [plan.person(plan.partner.contact)]
    else:
        recipients = [lead]
    facts: dict[str, object] = {
        "case": case,
        "via": reply.via,
        "text": notices.quoted(reply.text),
        "subject": notices.quoted(reply.subject)[:200],
        "window": window or "",
        "reason": reason,
    }
    if case in ("optout", "optin"):
        facts["next"] = choose_channel(engine, plan, person, None) or ""
    topic = f"reply|{case}|{person.id}|{_seen_id(reply)}"
    notices.tell(engine, plan, recipients, person, "reply_notice", facts, topic, now)


def open_session(engine: Engine, phone: str, at: float) -> None:
    """A WhatsApp message from ``phone`` opens its 24-hour session (Meta's rule: only the
    person's own message opens it, and free-form messages may go out inside it)."""
    number = _normal(phone, "whatsapp")
    old = engine.store.get_record(records.WHATSAPP_SESSIONS, number)
    if old is None or float(old.get("at") or 0) < at:
        engine.store.put_record(records.WHATSAPP_SESSIONS, number, {"at": at})
