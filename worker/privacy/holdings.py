"""What pactkeeper holds about one person of a plan, and what replaces it when erased.

``holdings`` finds every row that names the person: in the store (the plan's text, its
ledger items, the rows of its collections, the inbound messages they sent, their
WhatsApp session and their rate rows) and in the outbox (the messages written for
them). ``export`` shows exactly these; ``forget`` (``worker.privacy.erase``) rewrites or
deletes exactly these. A row names the person when it holds their id as a word, their
name or call name, their e-mail address or their phone number (``Needles``).

The pseudonym of a person is ``erased-`` and ten hex digits of an HMAC of plan and id
under the signing key: stable (a second ``forget`` finds the same rows) and not
reversible without the key. The plan text keeps its shape: the person's entry stays,
with the pseudonym for id and names, an address at ``erased.invalid`` and no phone, so
that every reference to them in the plan still reads; ``config.plan.Person.erased``
then keeps the timeline, the calendars and every list of recipients from reaching them.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.load import PlanError, Problem, load_text
from config.plan import ERASED_PREFIX, Person, Plan
from connectors.outbox import files_of
from worker.engine import Engine
from worker.store import Item, records

# What a person wrote (a check-in's note and answers, a calendar answer's comment): an
# erased row keeps its shape with these emptied.
FREE_TEXT = ("note", "answers", "text", "comment", "body")


def pseudonym(key: bytes, plan_id: str, person_id: str) -> str:
    """The id that replaces ``person_id`` in ``plan_id`` (a valid plan id, lower case)."""
    mac = hmac.new(key, f"erase {plan_id}/{person_id}".encode(), hashlib.sha256)
    return ERASED_PREFIX + mac.hexdigest()[:10]


def forgotten_digest(key: bytes, plan_id: str, person_id: str) -> str:
    """The keyed hash that marks a person of a plan as erased (``records.FORGOTTEN``)."""
    return hmac.new(key, f"forgotten {plan_id}/{person_id}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Needles:
    """What identifies a person in stored text, and what each is replaced with."""

    pairs: tuple[tuple[re.Pattern[str], str], ...]

    @classmethod
    def of(cls, person: Person, replacement: str, phone: str = "") -> Needles:
        """Needles for ``person``, each replaced with ``replacement`` (an address becomes
        one at ``erased.invalid``, a phone number ``phone``)."""
        found: list[tuple[re.Pattern[str], str]] = []
        # Longest first: the address holds the id, the full name holds the first name.
        if person.email:
            address = f"{replacement or 'erased'}@erased.invalid"
            found.append((re.compile(re.escape(person.email), re.I), address))
        if person.phone:
            found.append((_digits(person.phone), phone))
        names = {person.name, person.called, person.call_name or person.name, person.id}
        for name in sorted(names, key=len, reverse=True):
            found.append((_word(name), replacement))
        return cls(tuple(found))

    def found_in(self, text: str) -> bool:
        return any(pattern.search(text) for pattern, _ in self.pairs)

    def found_in_value(self, value: Any) -> bool:
        """Whether a JSON value names the person: each string of it read as it is (not
        as JSON writes it, where a line break before a name hides the word)."""
        if isinstance(value, str):
            return self.found_in(value)
        if isinstance(value, list):
            return any(self.found_in_value(v) for v in value)
        if isinstance(value, dict):
            return any(self.found_in(str(k)) or self.found_in_value(v) for k, v in value.items())
        return False

    def replace(self, text: str) -> str:
        for pattern, replacement in self.pairs:
            text = pattern.sub(replacement, text)
        return text

    def scrub(self, value: Any, own: bool = True) -> Any:
        """A JSON value with every mention replaced; in the person's ``own`` rows, what
        they wrote (``FREE_TEXT``) is emptied too. Someone else's note that names them
        keeps its words, with the pseudonym."""
        if isinstance(value, str):
            return self.replace(value)
        if isinstance(value, list):
            return [self.scrub(v, own) for v in value]
        if isinstance(value, dict):
            return {
                self.replace(k): type(v)() if own and k in FREE_TEXT and v else self.scrub(v, own)
                for k, v in value.items()
            }
        return value


def _word(text: str) -> re.Pattern[str]:
    """``text`` as a whole word: not inside a longer id, name or address part."""
    return re.compile(rf"(?<![\w-]){re.escape(text)}(?![\w-])", re.I)


def _digits(phone: str) -> re.Pattern[str]:
    """An E.164 number as stored or as a rate row or a WhatsApp address writes it."""
    return re.compile(r"(?:whatsapp:)?\+?" + re.escape(phone.lstrip("+")) + r"(?!\d)")


@dataclass
class Holdings:
    """Every row that names one person of one plan."""

    plan_id: str
    person: Person
    plan_text: bool = False  # the stored plan text names them (it always does while kept)
    items: list[Item] = field(default_factory=list)
    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # collection
    messages: list[Path] = field(default_factory=list)  # outbox files and their marks

    @property
    def count(self) -> int:
        return (
            int(self.plan_text)
            + len(self.items)
            + sum(len(rows) for rows in self.rows.values())
            + len(self.messages)
        )


def holdings(engine: Engine, plan: Plan, person: Person) -> Holdings:
    """Everything the store and the data folder hold that names ``person`` of ``plan``."""
    needles = Needles.of(person, "")
    store = engine.store
    found = Holdings(plan.id, person)
    stored = store.plan(plan.id)
    found.plan_text = stored is not None and needles.found_in(stored.text)
    found.items = [
        item
        for item in store.items(plan.id)
        if item.recipient == person.id or needles.found_in_value(_fields(item))
    ]
    ours = records.plan_collections(plan.id)
    everyone = [records.INBOUND_SEEN, records.WHATSAPP_SESSIONS, records.INBOUND_RATES]
    for collection, rows in store.records_of(ours + everyone).items():
        named = {
            row_id: data
            for row_id, data in rows.items()
            if _names(collection in ours, plan.id, person, needles, row_id, data)
        }
        if named:
            found.rows[collection] = named
    found.messages = files_of(engine.settings.outbox_dir, plan.id, person.id)
    return found


def _names(
    of_plan: bool,
    plan_id: str,
    person: Person,
    needles: Needles,
    row_id: str,
    data: dict[str, Any],
) -> bool:
    if not of_plan and data.get("plan_id") not in (None, plan_id):
        return False  # an inbound message of another plan
    if not of_plan and data.get("person") == person.id and data.get("plan_id") == plan_id:
        return True
    return needles.found_in(row_id) or needles.found_in_value(data)


def _fields(item: Item) -> list[Any]:
    return [item.ref, item.recipient or "", item.subject, item.detail, item.data]


def message_strings(path: Path) -> list[str]:
    """The texts of an outbox file as a reader sees them: an e-mail's headers and decoded
    parts, a chat message's JSON strings; the raw text for anything else."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    if path.suffix == ".eml":
        message = email.message_from_bytes(data, policy=email.policy.default)
        texts = [f"{name}: {value}" for name, value in message.items()]
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if part.get_content_maintype() == "text" and isinstance(payload, bytes):
                charset = part.get_content_charset() or "utf-8"
                try:
                    texts.append(payload.decode(charset, "replace"))
                except LookupError:  # a charset Python does not know
                    texts.append(payload.decode("utf-8", "replace"))
        return texts
    text = data.decode("utf-8", "replace")
    if path.suffix == ".json":
        try:
            return [text, *_strings(json.loads(text))]
        except ValueError:
            pass
    return [text]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    return []


# -- the plan text -----------------------------------------------------------------------

ERASED_PHONE = "+10000000000"  # a number of the right shape that nothing is sent to


def erased_in(engine: Engine, plan: Plan) -> list[Person]:
    """The people of ``plan`` that ``forget`` erased (by the keyed hash of their id)."""
    marks = {
        row_id
        for row_id in engine.store.records(records.FORGOTTEN)
        if row_id.startswith(f"{plan.id} ")
    }
    if not marks:
        return []
    key = engine.settings.signing_key
    return [
        person
        for person in plan.people
        if records.forgotten_id(plan.id, forgotten_digest(key, plan.id, person.id)) in marks
    ]


def without_erased(engine: Engine, plan: Plan) -> tuple[Plan, list[str]]:
    """``plan`` with every erased person replaced by their pseudonym, and the ids of the
    erased people the plan file still names (the user should take them out)."""
    erased = erased_in(engine, plan)
    if not erased:
        return plan, []
    return rewritten(engine.settings.signing_key, plan, erased), [p.id for p in erased]


def rewritten(key: bytes, plan: Plan, people: list[Person]) -> Plan:
    """``plan`` read again from its text with ``people`` replaced by their pseudonyms.

    Raises ``PlanError`` (one clear line) when the rewritten text does not read as the
    same plan: an id that is also a word of the plan's structure, say. ``forget`` tries
    this before it changes anything."""
    text = plan.text
    for person in people:
        alias = pseudonym(key, plan.id, person.id)
        text = Needles.of(person, alias, ERASED_PHONE).replace(text)
    source = str(plan.path) if plan.path else plan.id
    try:
        found = load_text(text, source, path=plan.path)
    except PlanError:
        found = None
    ids = {person.id for person in found.people} if found else set()
    if (
        found is None
        or found.id != plan.id
        or any(pseudonym(key, plan.id, person.id) not in ids for person in people)
    ):
        names = ", ".join(person.id for person in people)
        said = f"people: {names}, erased with 'pactkeeper forget',"
        raise PlanError(
            source,
            [Problem(1, 1, said, "cannot be rewritten safely; take them out of the plan file")],
        )
    return found
