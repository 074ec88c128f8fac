"""The words of the calendars: invitation and cancellation drafts, and the event labels.

``invite_draft`` and ``cancel_draft`` turn an ``invite``/``cancel`` item into the e-mail a
person reads, in the plan's language, with the item's iTIP object as the ``text/calendar``
part. ``LABELS[lang]`` are the words inside the events themselves (``worker.calendar.events``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from config.plan import Person, Plan
from connectors.base import CalendarPart
from connectors.calendar.itip import CANCEL, REQUEST, Meeting, meeting_of
from worker import messages
from worker.delivery.draft import Draft
from worker.messages import NP_, ByLanguage
from worker.messages.words import label
from worker.people import ask_whom
from worker.store import Item, records

if TYPE_CHECKING:
    from worker.engine import Engine

EVENT = "calendar event"  # the catalog context of these words (docs/glossary.md)
LABELS: ByLanguage[dict[str, str]] = ByLanguage(
    EVENT,
    {
        "deadline": NP_("calendar event", "Deadline: {title}"),
        "handover": NP_("calendar event", "Handover: {title}"),
        "checkin": NP_("calendar event", "Check-in: {name}"),
        "checkin_text": NP_("calendar event", "Your check-in for {title}."),
        "reminder": NP_("calendar event", "Reminder: {title}"),
        "owner": NP_("calendar event", "Owner"),
        "deliverable": NP_("calendar event", "Deliverable"),
        "acceptance": NP_("calendar event", "Accepted when"),
        "documents": NP_("calendar event", "Documents"),
        "questions": NP_("calendar event", "Questions"),
    },
)


def _context(plan: Plan, person: Person, meeting: Meeting) -> dict[str, Any]:
    lang, zone = plan.language_of(person), plan.zone_of(person)
    context: dict[str, Any] = {
        "title": meeting.title,
        "location": meeting.location,
        "description": meeting.description,
        "attendees": ", ".join(meeting.attendees),
        "contact": ask_whom(plan, person).name,
        "until": None,
        "plan_time": None,
    }
    if not isinstance(meeting.start, datetime):
        context["when"] = messages.format_day(meeting.start, lang)
        return context
    context["when"] = messages.format_moment(meeting.start, lang, zone.key)
    if isinstance(meeting.end, datetime):
        context["until"] = messages.format_clock(meeting.end.astimezone(zone), lang)
    if zone.key != plan.zone.key:
        # Someone abroad reads their own time first, and the time the others keep.
        context["plan_time"] = messages.format_moment(meeting.start, lang, plan.zone.key)
    return context


def _facts(plan: Plan, person: Person, context: dict[str, Any]) -> list[tuple[str, str]]:
    lang = plan.language_of(person)
    facts = [(label(lang, "when"), str(context["when"]))]
    if context["location"]:
        facts.append((label(lang, "where"), str(context["location"])))
    return facts


def item_calendar(engine: Engine, item: Item) -> bytes:
    """The iTIP object of an invite or cancel item: a cancellation carries its own, an
    invitation names the REQUEST kept once per meeting version (``worker.calendar.revisions``;
    one queued before that carries it itself)."""
    if "calendar" in item.data:
        return str(item.data["calendar"]).encode()
    row = engine.store.get_record(records.meeting_requests(item.plan_id), item.data["request"])
    if row is None:  # erased with the plan's data: nothing to build the invitation from
        raise LookupError(f"the invitation {item.data['request']} is no longer kept")
    return str(row["calendar"]).encode()


def invite_draft(engine: Engine, plan: Plan, item: Item, person: Person, now: float) -> Draft:
    """A new or changed meeting: the REQUEST queued for this person."""
    data = item_calendar(engine, item)
    context = _context(plan, person, meeting_of(data))
    context["update"] = bool(item.data.get("update"))
    calendar = CalendarPart(REQUEST, data)
    return Draft("invite", context, facts=_facts(plan, person, context), calendar=calendar)


def cancel_draft(engine: Engine, plan: Plan, item: Item, person: Person, now: float) -> Draft:
    """A removed meeting, or a person taken off its attendees: the CANCEL queued for them."""
    data = item_calendar(engine, item)
    context = _context(plan, person, meeting_of(data))
    context["removed"] = item.data.get("reason") == "removed"
    calendar = CalendarPart(CANCEL, data)
    return Draft("cancel", context, facts=_facts(plan, person, context), calendar=calendar)
