"""Check-in answers and finished milestones: the one way in, and the row writes.

``record_checkin`` is the one way in (web form, JSON API, CLI, ``simulate``'s CSV).
An answer through a check-in link goes to the link's window (late if it has closed);
otherwise it answers the person's window open at ``now``, or, between windows, the
most recent one, as a late answer. No answer is taken for a window that has not
opened yet, nor once the plan is closed. A second answer to the same window changes
that row (insert-once, then compare-and-set), never adds one. ``need_help``,
``blocked`` and ``stopping`` raise their warnings at once (``worker/checkins/ladder.py``).

``window_row`` is the shape of a stored row, shared with the closing step
(``worker/checkins/detection.py``), which writes the ``missed`` ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from config.plan import Milestone, Person, Plan
from worker.checkins.ladder import HELP, help_warnings, stopping_warnings
from worker.checkins.rhythm import Slot, rhythm
from worker.checkins.windows import UNCLEAR
from worker.plans.closed import closed_at
from worker.store import Store, records

if TYPE_CHECKING:
    from worker.engine import Engine

STATUSES = ("on_track", "need_help", "blocked", "stopping")
NOTE_LIMIT = 2000


class CheckinError(ValueError):
    """A check-in that cannot be recorded; the message says why, in plain words."""


class PlanClosed(CheckinError):
    """The plan was closed: its check-ins are history, and nothing is recorded any more."""


@dataclass(frozen=True)
class CheckinResult:
    person: str
    name: str
    window: str
    state: str  # answered | late
    outcome: str  # recorded | updated | unchanged
    status: str
    done: tuple[str, ...] = ()
    warnings: int = 0

    def summary(self) -> str:
        verbs = {
            "recorded": "recorded",
            "updated": "updated",
            "unchanged": "was already recorded",
        }
        text = (
            f"{self.person}: check-in for the window of {self.window} {verbs[self.outcome]}"
            f" ({self.status}{', late' if self.state == 'late' else ''})"
        )
        if self.done:
            text += f"; marked done: {', '.join(self.done)}"
        if self.warnings:
            what = "dropout warning" if self.status == "stopping" else "request for help"
            whom = "1 person" if self.warnings == 1 else f"{self.warnings} people"
            text += f"; {what} sent to {whom}"
        return text


@dataclass(frozen=True)
class Answer:
    status: str
    note: str
    answers: tuple[tuple[str, str], ...]
    at: float
    source: str


def checking_person(plan: Plan, person_id: str) -> Person:
    """The person, if they check in on this plan; ``CheckinError`` otherwise."""
    try:
        person = plan.person(person_id)
    except KeyError:
        raise CheckinError(f"there is no person '{person_id}' in the plan '{plan.id}'") from None
    if plan.checkins is None:
        raise CheckinError(f"the plan '{plan.id}' has no check-ins")
    if person.id not in rhythm(plan).slots:  # ids: comparing pydantic models is slow
        raise CheckinError(f"{person.name} does not check in on the plan '{plan.id}'")
    return person


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise CheckinError(
            f"'{status}' is not a check-in status: use on_track, need_help, blocked or stopping"
        )
    return status


def record_checkin(
    engine: Engine,
    plan: Plan,
    person_id: str,
    now: float,
    status: str,
    note: str = "",
    done: Sequence[str] = (),
    source: str = "cli",
    answers: Sequence[tuple[str, str]] = (),
    *,
    window: str | None = None,
    recorded: float | None = None,
) -> CheckinResult:
    """Record one answer at ``now`` (see the module docstring).

    ``window`` (the local day it opens) is the window a check-in link is bound to; the
    answer goes there, late if it has closed. Without it, the answer goes to the window
    open at ``now``, or the most recent one. ``recorded`` is the real moment of recording
    when ``now`` is given by hand (``checkin --at``): no answer is taken for a window
    that has not opened by then, nor for a moment after it. Nothing is recorded once the
    plan is closed.
    """
    person = checking_person(plan, person_id)
    check_status(status)
    known = {m.id for m in plan.milestones}
    unknown = [m for m in done if m not in known]
    if unknown:
        raise CheckinError(f"there is no milestone '{unknown[0]}' in the plan '{plan.id}'")
    _refuse_closed(engine, plan)
    slot = _answered_window(plan, person, now, window, recorded)
    pairs = tuple((_clean(q), _clean(a)) for q, a in answers)
    answer = Answer(status, _clean(note), pairs, now, source)
    outcome, row = _answer(engine.store, plan.id, slot, answer)
    marked = tuple(m for m in dict.fromkeys(done) if mark_done(engine, plan, m, now, person.id))
    raised = 0
    if status == "stopping":
        raised = len(engine.store.schedule(stopping_warnings(plan, person, slot, row, now)))
    elif status in HELP:
        raised = len(engine.store.schedule(help_warnings(plan, person, slot, status, row, now)))
    return CheckinResult(
        person.id, person.name, slot.day, str(row["state"]), outcome, status, marked, raised
    )


def record_contact(
    engine: Engine,
    plan: Plan,
    person_id: str,
    now: float,
    note: str,
    source: str,
    *,
    window: str,
) -> CheckinResult:
    """A reply to ``window``'s request that named no status: it answers the window as
    ``unclear`` (ending a silence) unless the window has an answer already, which stays."""
    person = checking_person(plan, person_id)
    _refuse_closed(engine, plan)
    slot = _answered_window(plan, person, now, window, None)
    answer = Answer(UNCLEAR, _clean(note), (), now, source)
    outcome, row = _answer(engine.store, plan.id, slot, answer, keep_answer=True)
    return CheckinResult(person.id, person.name, slot.day, str(row["state"]), outcome, UNCLEAR)


def _answered_window(
    plan: Plan, person: Person, now: float, window: str | None, recorded: float | None
) -> Slot:
    """The window an answer at ``now`` goes to; ``CheckinError`` when there is none yet."""
    schedule = rhythm(plan)
    if window is not None:
        slot = schedule.slot(person.id, window)
        if slot is None:
            raise CheckinError(f"the plan '{plan.id}' has no check-in window on {window}")
    else:
        slot = schedule.latest(person.id, now)
        if slot is None:
            raise CheckinError(f"no check-in window has opened yet for {person.name}")
    opened_by = now if recorded is None else min(now, recorded)
    if slot.opens > opened_by:
        raise CheckinError(
            f"the check-in window of {slot.day} for {person.name} has not opened yet"
        )
    if recorded is not None and now > recorded:
        when = datetime.fromtimestamp(now, plan.zone_of(person)).strftime("%Y-%m-%d %H:%M")
        raise CheckinError(f"{when} lies in the future: a check-in is recorded once it is given")
    return slot


def _refuse_closed(engine: Engine, plan: Plan) -> None:
    at = closed_at(engine, plan.id)
    if at is not None:
        day = datetime.fromtimestamp(at, plan.zone).date().isoformat()
        raise PlanClosed(
            f"the plan '{plan.id}' was closed on {day}: check-ins are no longer recorded"
        )


# Characters that would steer a terminal or reorder text (ESC, NUL, BEL and the other C0
# and C1 controls, the bidirectional overrides and isolates). Whitespace among them
# (newline, tab) is collapsed to a space below instead.
_STEERING = dict.fromkeys(
    [
        *(c for c in range(0x20) if not chr(c).isspace()),
        *range(0x7F, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]
)


def _clean(text: str) -> str:
    """One line of at most NOTE_LIMIT characters, without control characters, that any
    store can encode (a shell may pass undecodable bytes as lone surrogates)."""
    flat = " ".join(text.translate(_STEERING).split())[:NOTE_LIMIT]
    return flat.encode("utf-8", "replace").decode("utf-8")


def _answer(
    store: Store, plan_id: str, slot: Slot, answer: Answer, keep_answer: bool = False
) -> tuple[str, dict[str, Any]]:
    """Insert the row once; after that, compare-and-set on its revision. With
    ``keep_answer``, a window answered already is left as it is."""
    where, key = records.checkin_rows(plan_id), records.checkin_row_id(slot.person, slot.day)
    fresh = window_row(slot, "answered" if answer.at < slot.closes else "late", answer)
    for _ in range(20):
        old = store.put_record_once(where, key, fresh)
        if old is None:
            return "recorded", fresh
        revision = int(old.get("revision") or 0)
        if old["state"] in ("answered", "late") and keep_answer:
            return "unchanged", old
        if old["state"] in ("answered", "late"):
            if (old.get("status"), old.get("note"), _pairs(old)) == (
                answer.status,
                answer.note,
                answer.answers,
            ):
                return "unchanged", old
            # A second answer corrects the first; when it first came in stays.
            changes = {
                "status": answer.status,
                "note": answer.note,
                "answers": [list(pair) for pair in answer.answers],
                "source": answer.source,
                "changed_at": answer.at,
            }
            outcome = "updated"
        else:
            changes = {k: v for k, v in fresh.items() if k not in ("person", "window")}
            outcome = "recorded"
        changes["revision"] = revision + 1
        if store.update_record(where, key, {"revision": old.get("revision")}, changes, old):
            return outcome, {**old, **changes}
    raise RuntimeError(f"the check-in {key} kept changing; try again")


def _pairs(row: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(q), str(a)) for q, a in row.get("answers") or ())


def window_row(slot: Slot, state: str, answer: Answer | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "person": slot.person,
        "window": slot.day,
        "opens": slot.opens,
        "closes": slot.closes,
        "state": state,
        "revision": 0,
    }
    if answer is not None:
        row.update(
            status=answer.status,
            note=answer.note,
            answers=[list(pair) for pair in answer.answers],
            answered_at=answer.at,
            changed_at=answer.at,
            source=answer.source,
        )
    return row


def mark_done(
    engine: Engine, plan: Plan, milestone_id: str, now: float, by: str | None = None
) -> bool:
    """Mark a milestone done; False when it already was. Unknown ids raise ``CheckinError``."""
    if milestone_id not in {m.id for m in plan.milestones}:
        raise CheckinError(f"there is no milestone '{milestone_id}' in the plan '{plan.id}'")
    record = {"at": now, "by": by}
    return engine.store.put_record(
        records.done_rows(plan.id), milestone_id, record, only_if_absent=True
    )


def open_milestones(plan: Plan, person: Person, done: Iterable[str]) -> list[Milestone]:
    """The milestones a person owns and has not marked done yet (for the check-in form)."""
    finished = set(done)
    return [m for m in plan.milestones if m.owner == person.id and m.id not in finished]
