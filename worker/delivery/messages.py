"""The notice to the team lead that a message may not have reached someone.

A draft (``worker.kinds`` wires the ``notice`` kind to it); ``KIND_WORDS`` names (English
msgids, the Dutch in the catalog) what it was that may not have arrived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.plan import Person, Plan
from worker.delivery.draft import Draft
from worker.messages import NP_, pgettext_in
from worker.store import Item

if TYPE_CHECKING:
    from worker.engine import Engine


NOTICE = "delivery notice"  # the catalog context of these words (docs/glossary.md)
KIND_WORDS = {
    "reminder": NP_("delivery notice", "a reminder"),
    "kickoff": NP_("delivery notice", "the kickoff runbook"),
    "checkin_open": NP_("delivery notice", "a check-in request"),
    "warning": NP_("delivery notice", "a warning"),
    "handover": NP_("delivery notice", "the handover bundle"),
    "invite": NP_("delivery notice", "a calendar invitation"),
    "cancel": NP_("delivery notice", "a calendar cancellation"),
    "overdue": NP_("delivery notice", "an overdue-deadline reminder"),
}


def notice(engine: Engine, plan: Plan, item: Item, person: Person, now: float) -> Draft:
    """To the team lead: a message may not have reached someone."""
    lang = plan.language_of(person)
    data = item.data
    about = plan.person(data["person"]).name if data.get("person") else "?"
    context = {
        "about": about,
        "what": _kind_words(lang, str(data.get("about_kind"))),
        "channel": data.get("channel") or "?",
        "problem": data.get("problem"),
        "detail": data.get("detail") or "",
    }
    return Draft("delivery_failure", context)


def _kind_words(lang: str, kind: str) -> str:
    """What was sent, in ``lang``; ``?`` for a kind the table does not name."""
    return pgettext_in(lang, NOTICE, KIND_WORDS[kind]) if kind in KIND_WORDS else "?"
