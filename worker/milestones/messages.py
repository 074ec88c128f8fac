"""The reminder of a milestone or the handover meeting: a draft, facts in, template out.

The draft gathers the facts (who, what, when, in the recipient's zone) and names a
template; the template holds the sentences. ``worker.kinds`` wires the kind to it and
``worker.delivery.compose`` renders it. Plan text is handed over as it is written: the
templates show every value as text.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from config.plan import Milestone, Person, Plan
from worker import messages, timeline
from worker.delivery.draft import Draft
from worker.messages.words import duration_words, label
from worker.people import ask_whom
from worker.store import Item

if TYPE_CHECKING:
    from worker.engine import Engine


def _moment(moment: datetime, plan: Plan, person: Person) -> str:
    lang = plan.language_of(person)
    return messages.format_moment(moment, lang, plan.zone_of(person).key)


def _names(people: list[Person]) -> str:
    return ", ".join(person.name for person in people)


def reminder(engine: Engine, plan: Plan, item: Item, person: Person, now: float) -> Draft:
    lang = plan.language_of(person)
    context: dict[str, Any] = {
        "contact": ask_whom(plan, person).name,
        "response_time": duration_words(plan.communication.response_time, lang)
        if plan.communication.response_time
        else None,
    }
    if item.ref == "handover" and plan.handover is not None:
        handover = plan.handover
        anchor = handover.at.replace(tzinfo=plan.zone)
        context.update(
            meeting=True,
            title=_handover_title(lang),
            location=handover.location,
            duration=duration_words(handover.duration, lang),
            attendees=_names(plan.handover_recipients()),
        )
    else:
        milestone = plan.milestone(item.ref)
        anchor = timeline.milestone_anchor(plan, milestone)
        context.update(_milestone_context(plan, milestone, lang))
    when = _moment(anchor, plan, person)
    if not context["meeting"]:
        when = messages.format_day(anchor.astimezone(plan.zone), lang)
    context["when"] = when
    facts = [(label(lang, "when" if context["meeting"] else "due"), when)]
    if context.get("location"):
        facts.append((label(lang, "where"), str(context["location"])))
    return Draft("reminder", context, facts=facts)


def _handover_title(lang: str) -> str:
    return messages.pgettext_in(lang, "reminder title", "Handover")


def _milestone_context(plan: Plan, milestone: Milestone, lang: str) -> dict[str, Any]:
    owner = plan.person(milestone.owner).name if milestone.owner else None
    return {
        "meeting": milestone.is_meeting,
        "title": milestone.title,
        "location": milestone.location,
        "owner": owner,
        "duration": duration_words(milestone.length, lang) if milestone.is_meeting else None,
        "attendees": _names(plan.attendees(milestone)) if milestone.is_meeting else None,
        "deliverable": milestone.deliverable,
        "acceptance": milestone.acceptance,
    }
