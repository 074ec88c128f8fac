"""Telling the lead what came back: one ``inbound_notice`` item per recipient and topic.

A reply that is not a plain answer (no status in it, an auto-reply, a STOP, a reply to a
message that asked nothing, a declined meeting) is shown to the people who act on it. The
key is made from the plan, the topic and the recipient, so however often the same inbound
message is read (a poller that died before moving it, a webhook sent twice), the notice
goes out once (docs/architecture.md §4).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from config.plan import Person, Plan
from worker import timeline
from worker.store import Item

if TYPE_CHECKING:
    from worker.engine import Engine

KIND = "inbound_notice"
TEXT_LIMIT = 1000  # of a reply's text, what a notice quotes


def tell(
    engine: Engine,
    plan: Plan,
    recipients: list[Person],
    about: Person,
    template: str,
    facts: dict[str, Any],
    topic: str,
    now: float,
) -> int:
    """Schedule the notice for each recipient (not ``about`` itself); how many were new."""
    items = [
        Item(
            key=notice_key(plan.id, topic, person.id),
            plan_id=plan.id,
            kind=KIND,
            due=timeline.reaction_time(plan, person, now, False),
            ref=topic[:200],
            recipient=person.id,
            channel=person.channels[0],
            origin="engine",
            data={"template": template, "about": about.id, "facts": facts, "raised": now},
        )
        for person in {p.id: p for p in recipients}.values()
        if person.id != about.id
    ]
    return len(engine.store.schedule(items)) if items else 0


def notice_key(plan_id: str, topic: str, recipient: str) -> str:
    return hashlib.sha256(f"{plan_id}|{KIND}|{topic}|{recipient}".encode()).hexdigest()[:24]


def quoted(text: str) -> str:
    """A reply's text as a notice quotes it: one paragraph, capped."""
    flat = " ".join(text.split())
    return flat if len(flat) <= TEXT_LIMIT else flat[: TEXT_LIMIT - 1] + "…"
