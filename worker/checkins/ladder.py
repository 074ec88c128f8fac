"""The escalation ladder: who hears of a silence, a stop or a call for help, and when.

Pure: the plan and the windows in, ``warning`` items out (nothing is read or written
here; the callers schedule them). The streak is the run of missed windows since the
last answer; only the level the streak reaches at this window is raised. Warnings
have deterministic keys (plan, person, streak start, level, recipient), so however
many sweepers evaluate the same windows, in any order, each level goes out once per
streak. ``stopping`` raises the dropout warning at once to the last step's
recipients. Reactions move forward to the recipient's next reachable moment, and out
of a plan pause: no warning arrives during an agreed holiday.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from config.plan import Person, Plan, Step
from worker import timeline
from worker.checkins.rhythm import Slot
from worker.checkins.windows import Window
from worker.store import Item  # the ledger item, a plain value


def rung_people(plan: Plan, step: Step, silent: Person) -> list[Person]:
    """Who one step of the ladder reaches; the silent person only through ``self``."""
    found: dict[str, Person] = {}
    for name in step.notify:
        for person in plan.rung(name, silent):
            if name == "self" or person.id != silent.id:
                found.setdefault(person.id, person)
    return list(found.values())


def silence_warnings(
    plan: Plan, person: Person, run: list[Window], slot: Slot, now: float
) -> list[Item]:
    assert plan.checkins is not None
    steps = plan.checkins.escalate
    found = []
    for level, step in enumerate(steps, start=1):
        if step.after != len(run):
            continue
        for recipient in rung_people(plan, step, person):
            found.append(
                _warning(
                    plan,
                    person,
                    recipient,
                    level=level,
                    dropout=level == len(steps),
                    origin=run[0].day,
                    facts={
                        "trigger": "silence",
                        "window": slot.day,
                        "since": run[0].day,
                        "count": len(run),
                        "missed": [w.day for w in run],
                    },
                    now=now,
                )
            )
    return found


def stopping_warnings(
    plan: Plan, person: Person, slot: Slot, row: Mapping[str, Any], now: float
) -> list[Item]:
    """``stopping`` raises the dropout warning at once, to the last step's people."""
    assert plan.checkins is not None
    steps = plan.checkins.escalate
    return [
        _warning(
            plan,
            person,
            recipient,
            level=len(steps),
            dropout=True,
            origin=f"stopping:{slot.day}",
            facts={"trigger": "stopping", "window": slot.day, "note": row.get("note") or ""},
            now=now,
            defer_pauses=False,
        )
        for recipient in rung_people(plan, steps[-1], person)
        if recipient.id != person.id
    ]


# An answer that asks for someone: who hears of it at once (not the person who asked).
HELP = {"need_help": ("lead",), "blocked": ("lead", "contact")}


def help_warnings(
    plan: Plan, person: Person, slot: Slot, status: str, row: Mapping[str, Any], now: float
) -> list[Item]:
    """``need_help`` goes to the team lead, ``blocked`` also to the partner contact; the
    lead who asks is heard by the partner contact. Once per window and status: answering
    again changes nothing, turning "need help" into "blocked" is news."""
    ids = [plan.team.lead if name == "lead" else plan.partner.contact for name in HELP[status]]
    if all(pid == person.id for pid in ids):
        ids = [plan.partner.contact if person.id != plan.partner.contact else plan.team.lead]
    facts = {"trigger": status, "window": slot.day, "note": row.get("note") or ""}
    return [
        _warning(
            plan,
            person,
            recipient,
            level=0,
            dropout=False,
            origin=f"help:{slot.day}:{status}",
            facts=facts,
            now=now,
            defer_pauses=False,
            template="help_request",
        )
        for recipient in (plan.person(pid) for pid in dict.fromkeys(ids))
        if recipient.id != person.id
    ]


def _warning(
    plan: Plan,
    person: Person,
    recipient: Person,
    level: int,
    dropout: bool,
    origin: str,
    facts: dict[str, Any],
    now: float,
    defer_pauses: bool = True,
    template: str | None = None,
) -> Item:
    if template is None:
        template = (
            ("dropout_warning" if dropout else "lead_warning")
            if recipient.id != person.id
            else "nudge"
        )
    key_text = "|".join((plan.id, "warning", person.id, origin, str(level), recipient.id))
    return Item(
        key=hashlib.sha256(key_text.encode()).hexdigest()[:24],
        plan_id=plan.id,
        kind="warning",
        due=timeline.reaction_time(plan, recipient, now, defer_pauses),
        ref=str(facts["window"]),
        recipient=recipient.id,
        channel=recipient.channels[0],
        origin="engine",
        data={
            "about": person.id,
            "level": level,
            "dropout": dropout,
            "template": template,
            "raised": now,
            **facts,
        },
    )
