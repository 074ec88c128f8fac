"""The notices about what came back (the ``inbound_notice`` kind; ``worker.kinds`` wires it).

One drafter for every notice ``worker.inbound.notices.tell`` schedules: the item names its
template (``reply_notice`` for replies, the calendar notices for meeting answers) and
carries the facts; the drafter adds the names and words in the recipient's language, and
the plan's status page as the one link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.plan import Person, Plan
from worker import links
from worker.delivery.draft import Draft
from worker.messages.words import WORDS, status_link_label
from worker.store import Item

if TYPE_CHECKING:
    from worker.engine import Engine


def inbound_notice(engine: Engine, plan: Plan, item: Item, person: Person, now: float) -> Draft:
    lang = plan.language_of(person)
    data = item.data
    facts = dict(data.get("facts") or {})
    try:
        about = plan.person(str(data.get("about")))
        name = about.name
    except KeyError:  # the person left the plan since: the notice still says who it was
        name = str(data.get("about") or "?")
    channels = WORDS[lang].channels
    for field in ("via", "next"):
        if facts.get(field):
            facts[f"{field}_word"] = channels.get(str(facts[field]), str(facts[field]))
    return Draft(
        str(data.get("template") or "reply_notice"),
        {**facts, "about": name},
        link=links.status_link(engine.settings, plan),
        link_label=status_link_label(lang),
    )
