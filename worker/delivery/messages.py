"""The notice to the team lead that a message may not have reached someone.

A draft (``worker.kinds`` wires the ``notice`` kind to it); ``KIND_WORDS`` names, in
Dutch and English, what it was that may not have arrived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.plan import Person, Plan
from worker.delivery.draft import Draft
from worker.store import Item

if TYPE_CHECKING:
    from worker.engine import Engine


KIND_WORDS = {
    "nl": {
        "reminder": "een herinnering",
        "kickoff": "het draaiboek bij de start",
        "checkin_open": "een check-in-verzoek",
        "warning": "een waarschuwing",
        "handover": "de overdrachtsbundel",
        "invite": "een agenda-uitnodiging",
        "cancel": "een agenda-annulering",
        "overdue": "een herinnering aan een deadline",
    },
    "en": {
        "reminder": "a reminder",
        "kickoff": "the kickoff runbook",
        "checkin_open": "a check-in request",
        "warning": "a warning",
        "handover": "the handover bundle",
        "invite": "a calendar invitation",
        "cancel": "a calendar cancellation",
        "overdue": "an overdue-deadline reminder",
    },
}


def notice(engine: Engine, plan: Plan, item: Item, person: Person, now: float) -> Draft:
    """To the team lead: a message may not have reached someone."""
    lang = plan.language_of(person)
    data = item.data
    about = plan.person(data["person"]).name if data.get("person") else "?"
    words = KIND_WORDS.get(lang, KIND_WORDS["en"])
    context = {
        "about": about,
        "what": words.get(str(data.get("about_kind")), "?"),
        "channel": data.get("channel") or "?",
        "problem": data.get("problem"),
        "detail": data.get("detail") or "",
    }
    return Draft("delivery_failure", context)
