"""The words of check-ins: the nudge, the warnings to the lead and contact, and the
overdue reminder, with their fact labels and link labels (English msgids, the Dutch in the catalog).

Drafts only: facts in, template name and context out (``worker.kinds`` wires them). Plan
text is handed over as it is written: the templates show every value as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from config.plan import Person, Plan
from worker import links, messages
from worker.checkins.answers import open_milestones
from worker.checkins.ladder import rung_people
from worker.checkins.rhythm import rhythm
from worker.checkins.risk import Risk, level_words, short_day
from worker.checkins.standing import person_risk
from worker.checkins.tracking import group_rows
from worker.delivery.draft import Draft
from worker.messages import NP_, pgettext_in
from worker.messages.words import counted, duration_words, listed, status_link_label
from worker.messages.words import label as field_label
from worker.people import ask_whom
from worker.store import Item, records

if TYPE_CHECKING:
    from worker.engine import Engine


def warning_draft(engine: Engine, plan: Plan, item: Item, person: Person, now: float) -> Draft:
    """A nudge to the silent person, or a warning to the lead, contact or others."""
    lang = plan.language_of(person)
    data = item.data
    about = plan.person(str(data["about"]))
    template = str(data.get("template") or "lead_warning")
    context = _warning_context(
        engine, plan, about, person, data, person_risk(engine, plan, about, now)
    )
    if template == "nudge":
        link = _checkin_link(engine, plan, about, now)
        label = field_label(lang, "checkin") if link else None
    else:
        link, label = _status_link(engine, plan), status_link_label(lang)
    facts = [(_fact(lang, "risk"), context["risk"])]
    if data.get("count"):
        facts.append((_fact(lang, "missed"), str(data["count"])))
    context["about_name"] = about.name
    return Draft(template, context, link=link, link_label=label, facts=facts)


FACT = "message label"  # the catalog context of fact labels, as worker.messages.words.LABELS
FACTS = {
    "risk": NP_("message label", "Risk"),
    "missed": NP_("message label", "Check-ins missed in a row"),
    "due": NP_("message label", "Due"),
}


def _fact(lang: str, name: str) -> str:
    return pgettext_in(lang, FACT, FACTS[name])


def _warning_context(
    engine: Engine, plan: Plan, about: Person, person: Person, data: Mapping[str, Any], risk: Risk
) -> dict[str, Any]:
    lang = plan.language_of(person)
    done = engine.store.records(records.done_rows(plan.id))
    level = int(data.get("level") or 1)
    return {
        "about": about.name,
        "count": int(data.get("count") or 0),
        "since": short_day(date.fromisoformat(str(data.get("since") or data["window"])), lang),
        "window": short_day(date.fromisoformat(str(data["window"])), lang),
        "missed": listed(
            [short_day(date.fromisoformat(d), lang) for d in data.get("missed") or ()], lang
        ),
        "level": level,
        "dropout": bool(data.get("dropout")),
        "stopping": data.get("trigger") == "stopping",
        "blocked": data.get("trigger") == "blocked",
        "note": str(data.get("note") or ""),
        "risk": level_words(risk.level, lang),
        "reasons": [reason.text(lang) for reason in risk.reasons],
        "next": _next_step(plan, about, level, lang),
        "tell": ask_whom(plan, about).name,
        "reach": _reach(about),
        "successor": _successor(plan),
        "backup": plan.continuity.backup if plan.continuity and plan.continuity.backup else None,
        "open_milestones": [m.title for m in open_milestones(plan, about, done)],
        "answered_since": _answered_since(engine, plan, about, data, lang),
        "response_time": duration_words(plan.communication.response_time, lang)
        if plan.communication.response_time
        else None,
        "partner": plan.partner.name,
        "is_lead": person.id == plan.team.lead,
    }


def _next_step(plan: Plan, about: Person, level: int, lang: str) -> str | None:
    """Who hears of it if the next check-in is missed too (None after the last step)."""
    assert plan.checkins is not None
    steps = plan.checkins.escalate
    if level >= len(steps):
        return None
    people = [p for p in rung_people(plan, steps[level], about) if p.id != about.id]
    return listed([p.name for p in people], lang) or None


def _reach(person: Person) -> str | None:
    ways = [way for way in (person.email, person.phone) if way]
    return ", ".join(ways) or None


def _successor(plan: Plan) -> str | None:
    if plan.continuity is None or plan.continuity.successor is None:
        return None
    return plan.person(plan.continuity.successor).name


def _answered_since(
    engine: Engine, plan: Plan, about: Person, data: Mapping[str, Any], lang: str
) -> str | None:
    """The day ``about`` answered after this warning was raised, if they did."""
    rows = group_rows(engine.store.records(records.checkin_rows(plan.id))).get(about.id, {})
    raised = float(data.get("raised") or 0.0)
    later = [row for row in rows.values() if float(row.get("answered_at") or 0.0) > raised]
    if not later:
        return None
    last = max(float(row["answered_at"]) for row in later)
    return short_day(datetime.fromtimestamp(last, plan.zone).date(), lang)


def _checkin_link(engine: Engine, plan: Plan, person: Person, now: float) -> str | None:
    slot = rhythm(plan).latest(person.id, now)
    if slot is None:
        return None
    return links.checkin_link(engine.settings, plan, person, slot.day, max(slot.closes, now))


def _status_link(engine: Engine, plan: Plan) -> str:
    return links.status_link(engine.settings, plan)


def overdue_draft(engine: Engine, plan: Plan, item: Item, person: Person, now: float) -> Draft:
    """To the owner and the lead: a deadline passed and the milestone is not done."""
    lang = plan.language_of(person)
    milestone = plan.milestone(str(item.data["milestone"]))
    due = date.fromisoformat(str(item.data["due"]))
    today = datetime.fromtimestamp(now, plan.zone).date()
    done = engine.store.get_record(records.done_rows(plan.id), milestone.id)
    owner = plan.person(milestone.owner) if milestone.owner else None
    context = {
        "title": milestone.title,
        "due": messages.format_day(due, lang),
        "days": counted(max(1, (today - due).days), "day", lang),
        "owner": owner.name if owner else None,
        "is_owner": owner is not None and owner.id == person.id,
        "done_since": done is not None,
        "tell": ask_whom(plan, person).name,
        "deliverable": milestone.deliverable if milestone.deliverable else None,
        "checks_in": person.id in rhythm(plan).slots,
    }
    if context["is_owner"] and context["checks_in"]:
        link = _checkin_link(engine, plan, person, now)
        label = field_label(lang, "checkin") if link else None
    else:
        link, label = _status_link(engine, plan), status_link_label(lang)
    facts = [(_fact(lang, "due"), messages.format_day(due, lang))]
    return Draft("overdue", context, link=link, link_label=label, facts=facts)


def checkin_request(engine: Engine, plan: Plan, item: Item, person: Person, now: float) -> Draft:
    assert plan.checkins is not None
    lang = plan.language_of(person)
    opens = datetime.fromtimestamp(item.due, UTC).astimezone(plan.zone_of(person))
    closes = plan.checkins.grace.after(opens)
    link = links.checkin_link(engine.settings, plan, person, item.ref, closes.timestamp())
    context = {
        "questions": plan.checkins.questions,
        "closes": messages.format_moment(closes, lang, plan.zone_of(person).key),
    }
    return Draft("checkin_request", context, link=link, link_label=field_label(lang, "checkin"))
