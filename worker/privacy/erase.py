"""``pactkeeper forget``: one person erased from a plan (docs/architecture.md §17).

In an order that a crash half-way cannot undo, and that a second run finishes:

1. the mark: ``records.FORGOTTEN`` gets a keyed hash of plan and person id (no name,
   no address), so from now on every registration of the plan file replaces the
   person by their pseudonym (``worker.privacy.holdings.without_erased``);
2. their deliveries still to come are cancelled (an item already on the wire is left
   to finish and counted; run ``forget`` again afterwards);
3. the plan is registered again without them: the stored text holds the pseudonym, the
   timeline schedules nothing for them, meetings list them no more;
4. every ledger item and record row that names them is rewritten with the pseudonym and
   without what they wrote (notes, replies); their rate rows and WhatsApp session go;
5. their outbox files, and the kept copy of the handover bundle (it names everyone; the
   partner holds the bundle), are deleted; the store is compacted;
6. one audit row in ``records.ERASURES`` says what was done, with counts only.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from config.plan import Person, Plan
from connectors.outbox import SENT, files_of
from worker.engine import Engine
from worker.handover.close import bundle_path
from worker.plans.register import register
from worker.privacy.holdings import (
    Needles,
    forgotten_digest,
    holdings,
    message_strings,
    pseudonym,
    rewritten,
)
from worker.store import records
from worker.store.base import OPEN_STATES

log = logging.getLogger("pactkeeper.privacy")


def _dropped(plan_id: str) -> tuple[str, ...]:
    """Rows deleted rather than rewritten: of no use without the person (their rate and
    WhatsApp session rows, their Telegram account), or what would make the calendars
    cancel a meeting for the pseudonym (who was invited)."""
    return (
        records.WHATSAPP_SESSIONS,
        records.INBOUND_RATES,
        records.telegram_users(plan_id),
        records.invitees(plan_id),
    )


@dataclass
class Erasure:
    plan_id: str
    pseudonym: str
    cancelled: int = 0  # deliveries that were still to come
    rewritten: int = 0  # ledger items rewritten without their data
    on_the_wire: int = 0  # being sent right now: left to finish, rewritten by a next run
    rows: int = 0  # record rows rewritten or deleted
    files: int = 0  # outbox files and marks deleted
    bundle: bool = False  # the kept copy of the handover bundle was deleted
    registered: bool = False  # the plan was registered again without them

    def summary(self) -> str:
        parts = [
            f"{self.cancelled} deliveries cancelled",
            f"{self.rewritten} delivery records and {self.rows} other records rewritten",
            f"{self.files} outbox files deleted",
        ]
        if self.bundle:
            parts.append("the kept copy of the handover bundle deleted")
        if self.on_the_wire:
            parts.append(f"{self.on_the_wire} being sent now: run forget again in a minute")
        return f"{self.plan_id}: erased as {self.pseudonym}: " + ", ".join(parts)


def forget(engine: Engine, plan: Plan, person: Person, now: float) -> Erasure:
    """Erase ``person`` of ``plan`` (the registered plan, or the file's when the plan was
    never registered) from the store and the data folder."""
    key = engine.settings.signing_key
    alias = pseudonym(key, plan.id, person.id)
    done = Erasure(plan.id, alias)
    store = engine.store
    stored = engine.plan(plan.id) if store.plan(plan.id) is not None else None
    if stored is not None and person.id in {p.id for p in stored.people}:
        rewritten(key, stored, [person])  # refused here, when nothing has changed yet
    mark = records.forgotten_id(plan.id, forgotten_digest(key, plan.id, person.id))
    store.put_record_once(records.FORGOTTEN, mark, {"at": now, "plan": plan.id})

    first = holdings(engine, plan, person)
    done.cancelled = len(store.cancel([i.key for i in first.items if i.state in OPEN_STATES]))

    if store.plan(plan.id) is not None:
        register(engine, engine.plan(plan.id), now)
        done.registered = True

    # Read again: registering rewrote the calendar rows and cancelled what they were due.
    found = holdings(engine, plan, person)
    needles = Needles.of(person, alias)
    done.on_the_wire = sum(1 for item in found.items if item.state in OPEN_STATES)
    scrubbed = []
    for item in found.items:
        if item.state in OPEN_STATES:
            continue
        item.recipient = alias if item.recipient == person.id else item.recipient
        item.ref = needles.replace(item.ref)
        item.subject = needles.replace(item.subject)
        item.detail = needles.replace(item.detail)
        item.data = needles.scrub(item.data, own=item.recipient == alias)
        scrubbed.append(item)
    done.rewritten = len(store.rewrite(scrubbed))

    for collection, rows in found.rows.items():
        store.delete_records(collection, list(rows))
        done.rows += len(rows)
        if collection in _dropped(plan.id):
            continue
        kept: dict[str, dict[str, Any]] = {
            needles.replace(row_id): needles.scrub(data, own=_own(needles, row_id, data))
            for row_id, data in rows.items()
        }
        store.put_records({collection: kept})

    for path in found.messages:
        path.unlink(missing_ok=True)
        done.files += 1
    done.files += _drop_messages(engine, plan, needles)
    bundle = bundle_path(engine.settings, plan.id)
    if bundle.is_file():
        bundle.unlink()
        done.bundle = True
    store.compact()
    audit = {"what": "forget", **asdict(done)}
    store.put_record(records.ERASURES, f"{now:.6f} forget {alias}", audit)
    log.info("erased a person of plan %s as %s", plan.id, alias)
    return done


def _drop_messages(engine: Engine, plan: Plan, needles: Needles) -> int:
    """Delete the plan's other outbox messages that name the person (a warning to the lead
    about them, a meeting's attendee list): the outbox is the data folder's copy of what
    was sent, and a copy is what erasure removes. How many went."""
    dropped = 0
    for path in files_of(engine.settings.outbox_dir, plan.id):
        if path.parent.name != SENT and needles.found_in_value(message_strings(path)):
            path.unlink(missing_ok=True)
            dropped += 1
    return dropped


def _own(needles: Needles, row_id: str, data: dict[str, Any]) -> bool:
    """Whether a row is the person's own (their check-in, their answer), not someone
    else's that mentions them."""
    return needles.found_in(row_id) or needles.found_in(str(data.get("person") or ""))


def same_person(one: Person, other: Person) -> bool:
    """Whether two entries (in two plans) are the same person: the same e-mail address or
    phone number, or the same id and name."""
    if one.email and other.email and one.email.lower() == other.email.lower():
        return True
    if one.phone and other.phone and one.phone == other.phone:
        return True
    return one.id == other.id and one.name == other.name
