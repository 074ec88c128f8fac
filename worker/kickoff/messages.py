"""The kickoff message: the runbook and the person's own calendar, attached.

A draft only (``worker.kinds`` wires it): the runbook is rendered by ``runbook.py``
beside this module, the calendar is the person's feed as it stands. Only e-mail
carries attachments, so the message's link is the runbook's page: every channel can
open it, and chat channels and SMS have nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from config.plan import Person, Plan
from connectors.base import Attachment
from worker import links, messages, timeline
from worker.calendar.feeds import feed_calendar, feed_stamp
from worker.delivery.draft import Draft
from worker.kickoff.runbook import render_runbook
from worker.messages.words import rhythm_words, runbook_title
from worker.store import Item

if TYPE_CHECKING:
    from worker.engine import Engine


def kickoff(engine: Engine, plan: Plan, item: Item, person: Person, now: float) -> Draft:
    lang = plan.language_of(person)
    context = {
        "partner": plan.partner.name,
        "team": plan.team.name,
        "end": messages.format_day(plan.end, lang),
        "contact": f"{plan.contact.name}"
        + (f" ({plan.contact.email})" if plan.contact.email else ""),
        "lead": f"{plan.lead.name}" + (f" ({plan.lead.email})" if plan.lead.email else ""),
        "checkins": _rhythm(plan, lang) if person in plan.checkin_people() else None,
        "next_milestone": _first_milestone(plan, person),
        "calendar": True,
    }
    title = runbook_title(lang)
    attachments = [
        Attachment(
            f"{title}-{plan.id}.html",
            "text/html; charset=utf-8",
            render_runbook(plan, "html", engine.settings).encode(),
        ),
        Attachment(
            f"{plan.id}-{person.id}.ics",
            "text/calendar; charset=utf-8; method=PUBLISH",
            _calendar(engine, plan, person),
        ),
    ]
    link = links.runbook_link(engine.settings, plan)
    label = messages.gettext_in(lang, "Read the runbook")
    return Draft("kickoff", context, link=link, link_label=label, attachments=attachments)


def _rhythm(plan: Plan, lang: str) -> str | None:
    return rhythm_words(plan.checkins, plan.start, lang) if plan.checkins else None


def _first_milestone(plan: Plan, person: Person) -> str | None:
    ordered = sorted(plan.milestones, key=lambda m: timeline.milestone_anchor(plan, m))
    for milestone in ordered:
        anchor = timeline.milestone_anchor(plan, milestone)
        zone = ZoneInfo(plan.zone_of(person).key)
        day = messages.format_day(anchor.astimezone(zone), plan.language_of(person))
        return f"{milestone.title}, {day}"
    return None


def _calendar(engine: Engine, plan: Plan, person: Person) -> bytes:
    """The person's calendar as their feed has it now: the SEQUENCEs and DTSTAMP sent.

    A meeting may have been invited (and changed, SEQUENCE 2) before the start; a copy
    with SEQUENCE 0 and a later DTSTAMP would be an older version presented as newer,
    which a client offering "update" would put over the accepted meeting. With the
    revision store's SEQUENCEs and the moment the plan's events last changed, the
    attachment is the same version as the invitations and the feed, never behind them;
    it keeps the meetings, so it is the whole calendar of what concerns the person.
    """
    return feed_calendar(engine, plan, person.id, feed_stamp(engine, plan))
