"""The runbook ("draaiboek") every participant gets at the kickoff (docs/architecture.md §8).

One Markdown text per language (``templates/<lang>/runbook.md.j2``); the HTML
page is that Markdown rendered by ``to_html`` inside ``runbook.html.j2``, so the
two formats never drift apart.

This module does the thinking, the templates hold the sentences: it sorts and
groups, and words what a template cannot (reachable hours, a check-in rhythm, a
rung of the escalation ladder, a duration). Every piece of plan text that goes
into the Markdown passes through ``md`` first (``worker.messages.words``, with the
words and helpers the messages share), so a title such as
``A | <b>B</b>`` is shown as written and never becomes markup or breaks a
table. The templates therefore get prepared values only, never the plan.

The output is deterministic: no clock, no absolute paths, so the handover
bundle can include the runbook byte for byte.

Its privacy section names who is responsible and whom to write to. Given the settings
(the kickoff's attachment, the runbook page) it also gives the day the data is erased and
the privacy notice's link; without them (``pactkeeper runbook``, the handover bundle,
which holds no secret link) it points to the link at the end of every message.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import date, datetime

from markupsafe import Markup

from config.plan import Milestone, Person, Plan, Step
from config.settings import Settings
from worker import links
from worker.kickoff.privacy import contact_words, erased_on, keep_days
from worker.messages import Prepared, render, to_html
from worker.messages.words import (
    WORDS,
    cadence_words,
    channels_words,
    code,
    counted,
    duration_or_none,
    duration_words,
    email_link,
    listed,
    maybe,
    md,
    offsets_words,
    place,
    reachable_words,
    rhythm_words,
    zone_words,
)
from worker.timeline import checkin_days, milestone_anchor

FORMATS = ("md", "html")


def render_runbook(plan: Plan, fmt: str = "md", settings: Settings | None = None) -> str:
    """The runbook of ``plan`` in its language, as Markdown or a standalone HTML page.

    With ``settings`` its privacy section gives the day of erasure and the notice's link.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown runbook format '{fmt}': use md or html")
    markdown = render("runbook.md.j2", plan.language, runbook=build(plan, settings))
    if fmt == "md":
        return markdown
    body = Markup(to_html(markdown))  # noqa: S704 - to_html shows raw HTML as text
    return render("runbook.html.j2", plan.language, title=plan.title, body=body)


# -- what the templates get ----------------------------------------------------------


@dataclass(frozen=True)
class Away:
    first: date
    last: date
    reason: str | None = None


@dataclass(frozen=True)
class Contact:
    id: str
    name: str
    labels: str
    role: str | None
    email: str | None
    phone: str | None
    channels: str
    reachable: str
    zone: str | None  # only when it differs from the plan's
    away: list[Away]


@dataclass(frozen=True)
class Side:
    name: str
    people: list[Contact]


@dataclass(frozen=True)
class ElsewhereTime:
    """Someone whose own clock differs from the plan's."""

    name: str
    zone: str  # the IANA name, for the ``moment`` filter
    place: str  # the zone in words


@dataclass(frozen=True)
class MilestoneView:
    title: str
    meeting: bool
    start: datetime | None  # meetings: zone-aware, in the plan's zone
    length: str | None
    due: date | None  # deadlines
    elsewhere: list[ElsewhereTime]  # attendees in another zone: the same moment, their clock
    location: str | None
    attendees: str
    owner: str | None
    description: str | None
    deliverable: str | None
    acceptance: str | None
    reminders: str
    reminded: str


@dataclass(frozen=True)
class Rung:
    after: int
    only_you: bool
    recipients: str
    dropout: bool


@dataclass(frozen=True)
class CheckinView:
    rhythm: str
    at: str
    grace: str
    first: date | None
    people: str
    elsewhere: list[ElsewhereTime]
    questions: list[str]
    pauses: list[Away]
    ladder: list[Rung]
    dropout_to: str


@dataclass(frozen=True)
class HandoverView:
    start: datetime | None
    length: str | None
    location: str | None
    recipients: str
    documents: list[str]


@dataclass(frozen=True)
class PrivacyView:
    controller: str
    contact: str
    erased_on: date | None  # with the settings only, like the two below
    kept_for: str | None  # "365 days"
    link: str | None


@dataclass(frozen=True)
class Runbook:
    plan_id: str
    title: str
    start: date
    end: date
    timezone: str
    partner: str
    mission: str | None
    problem: str | None
    website: str | None
    team: str
    company: str | None
    end_result: str
    kind: str
    success_criteria: list[str]
    start_small: str | None
    need: str
    barriers: str
    questions: list[str]
    in_scope: list[str]
    out_of_scope: list[str]
    contact: str
    deputy: str | None
    lead: str
    sides: list[Side]
    response_time: str | None
    cadence: str | None
    channels: str
    notes: list[str]
    plan_file: str
    subscriptions: list[tuple[str, str]]  # (name, command)
    milestones: list[MilestoneView]
    checkins: CheckinView | None
    backup: str | None
    successor: str | None
    handover: HandoverView
    agreements: list[str]
    privacy: PrivacyView


def build(plan: Plan, settings: Settings | None = None) -> Runbook:
    """Everything the runbook templates show, worded and escaped."""
    lang = plan.language
    words = WORDS[lang]
    return Runbook(
        plan_id=plan.id,
        title=md(plan.title),
        start=plan.start,
        end=plan.end,
        timezone=zone_words(plan.timezone, lang),
        partner=md(plan.partner.name),
        mission=maybe(plan.partner.mission),
        problem=maybe(plan.partner.problem),
        website=place(plan.partner.website) if plan.partner.website else None,
        team=md(plan.team.name),
        company=maybe(plan.team.company),
        end_result=md(plan.goal.end_result),
        kind=words.kinds[plan.goal.kind],
        success_criteria=[md(item) for item in plan.goal.success_criteria],
        start_small=maybe(plan.goal.start_small),
        need=md(plan.challenge.need),
        barriers=listed([words.barriers[b] for b in plan.challenge.barriers], lang),
        questions=[md(item) for item in plan.challenge.questions],
        in_scope=[md(item) for item in plan.challenge.in_scope],
        out_of_scope=[md(item) for item in plan.challenge.out_of_scope],
        contact=md(plan.contact.name),
        deputy=md(plan.person(plan.partner.deputy).name) if plan.partner.deputy else None,
        lead=md(plan.lead.name),
        sides=sides(plan),
        response_time=duration_or_none(plan.communication.response_time, lang),
        cadence=cadence_words(plan.communication.cadence, lang),
        channels=configured_channels(plan),
        notes=[md(note) for note in plan.communication.notes],
        plan_file=code(plan_file(plan)),
        subscriptions=subscriptions(plan),
        milestones=[milestone_view(plan, m) for m in ordered_milestones(plan)],
        checkins=checkin_view(plan),
        backup=maybe(plan.continuity.backup) if plan.continuity else None,
        successor=successor_name(plan),
        handover=handover_view(plan),
        agreements=[md(item) for item in plan.agreements],
        privacy=privacy_view(plan, settings),
    )


def configured_channels(plan: Plan) -> str:
    """``e-mail, WhatsApp en Slack (#voedselbank)``: how pactkeeper reaches people."""
    channels = plan.communication.channels
    found = []
    for name in channels.configured():
        text = WORDS[plan.language].channels[name]
        room = getattr(getattr(channels, name), "channel", None)
        found.append(f"{text} ({md(room, inline=True)})" if room else text)
    return listed(found, plan.language)


def plan_file(plan: Plan) -> str:
    """The plan's file name (never its folder: the runbook must not depend on where it lies)."""
    return shlex.quote(plan.path.name if plan.path else "plan.yaml")


def subscriptions(plan: Plan) -> list[tuple[str, str]]:
    file = plan_file(plan)
    return [
        (md(person.name), code(f"pactkeeper ics {file} --for {person.id}"))
        for person in plan.present()
    ]


# -- contacts ------------------------------------------------------------------------


def sides(plan: Plan) -> list[Side]:
    """The partner's people, then the team's; the fixed contacts first on each side."""
    first = {plan.partner.contact: 0, plan.partner.deputy: 1, plan.team.lead: 0}
    found = []
    for side, name in (("partner", plan.partner.name), ("team", plan.team.name)):
        people = sorted(plan.side(side), key=lambda p: first.get(p.id, 2))
        found.append(Side(md(name), [contact(plan, person) for person in people]))
    return found


def roles_of(plan: Plan, person: Person) -> list[str]:
    successor = plan.continuity.successor if plan.continuity else None
    holders = {
        "contact": plan.partner.contact,
        "deputy": plan.partner.deputy,
        "lead": plan.team.lead,
        "successor": successor,
    }
    return [WORDS[plan.language].labels[key] for key, pid in holders.items() if pid == person.id]


def contact(plan: Plan, person: Person) -> Contact:
    lang = plan.language
    zone = person.timezone if person.timezone and person.timezone != plan.timezone else None
    return Contact(
        id=person.id,
        name=md(person.name),
        labels=listed(roles_of(plan, person), lang),
        role=maybe(person.role),
        email=email_link(person.email) if person.email else None,
        phone=f"[{person.phone}](tel:{person.phone})" if person.phone else None,
        channels=channels_words(list(person.channels), lang),
        reachable=reachable_words(person.reachable, lang),
        zone=zone_words(zone, lang) if zone else None,
        away=[Away(period.first, period.last) for period in person.away],
    )


# -- milestones ----------------------------------------------------------------------


def ordered_milestones(plan: Plan) -> list[Milestone]:
    return sorted(plan.milestones, key=lambda m: (milestone_anchor(plan, m), m.id))


def elsewhere(plan: Plan, people: list[Person]) -> list[ElsewhereTime]:
    """The people among ``people`` whose own zone differs from the plan's."""
    return [
        ElsewhereTime(md(person.name), person.timezone, zone_words(person.timezone, plan.language))
        for person in people
        if person.timezone and person.timezone != plan.timezone
    ]


def milestone_view(plan: Plan, milestone: Milestone) -> MilestoneView:
    lang = plan.language
    meeting = milestone.at is not None
    offsets = milestone.remind or plan.communication.remind_before
    return MilestoneView(
        title=md(milestone.title),
        meeting=meeting,
        start=milestone.at.replace(tzinfo=plan.zone) if milestone.at else None,
        length=duration_words(milestone.length, lang) if meeting else None,
        due=milestone.due,
        elsewhere=elsewhere(plan, plan.attendees(milestone)) if meeting else [],
        location=place(milestone.location) if milestone.location else None,
        attendees=listed([md(p.name) for p in plan.attendees(milestone)], lang),
        owner=md(plan.person(milestone.owner).name) if milestone.owner else None,
        description=maybe(milestone.description),
        deliverable=maybe(milestone.deliverable),
        acceptance=maybe(milestone.acceptance),
        reminders=offsets_words(offsets, lang),
        reminded=listed([md(p.name) for p in plan.reminded(milestone)], lang),
    )


# -- check-ins and the escalation ladder ---------------------------------------------


def rung_words(plan: Plan, name: str) -> str:
    """One name on the ladder in words, for any silent person (``self`` is "you")."""
    wording = WORDS[plan.language].rungs
    if name == "self":
        return wording["self"]
    # Only "self" depends on who is silent, so any person will do for the others.
    stands_for = plan.rung(name, plan.people[0])
    who = listed([md(p.name) for p in stands_for], plan.language)
    if name in wording:
        return wording[name].format(name=who, partner=md(plan.partner.name)) if who else ""
    return who


def step_recipients(plan: Plan, step: Step) -> str:
    found = [words for words in (rung_words(plan, name) for name in step.notify) if words]
    return listed(found, plan.language) or WORDS[plan.language].nobody


def ladder(plan: Plan, steps: list[Step]) -> list[Rung]:
    last = max(step.after for step in steps)
    return [
        Rung(
            after=step.after,
            only_you=step.notify == ["self"],
            recipients=step_recipients(plan, step),
            dropout=step.after == last,
        )
        for step in sorted(steps, key=lambda s: s.after)
    ]


def checkin_view(plan: Plan) -> CheckinView | None:
    checkins = plan.checkins
    if checkins is None:
        return None
    lang = plan.language
    days = checkin_days(plan)
    people = plan.checkin_people()
    steps = ladder(plan, list(checkins.escalate))
    return CheckinView(
        rhythm=rhythm_words(checkins, plan.start, lang),
        at=f"{checkins.at:%H:%M}",
        grace=duration_words(checkins.grace, lang),
        first=next((day for day in days if not checkins.paused(day)), None),
        people=listed([md(p.name) for p in people], lang),
        elsewhere=elsewhere(plan, people),
        questions=[md(question) for question in checkins.questions],
        pauses=[Away(p.first, p.last, maybe(p.reason)) for p in checkins.pauses],
        ladder=steps,
        dropout_to=steps[-1].recipients,
    )


# -- continuity and handover ---------------------------------------------------------


def successor_name(plan: Plan) -> str | None:
    if plan.continuity is None or plan.continuity.successor is None:
        return None
    return md(plan.person(plan.continuity.successor).name)


def handover_view(plan: Plan) -> HandoverView:
    lang = plan.language
    recipients = listed([md(p.name) for p in plan.handover_recipients()], lang)
    handover = plan.handover
    if handover is None:
        return HandoverView(None, None, None, recipients, [])
    return HandoverView(
        start=handover.at.replace(tzinfo=plan.zone),
        length=duration_words(handover.duration, lang),
        location=place(handover.location) if handover.location else None,
        recipients=recipients,
        documents=[code(document) for document in handover.documents],
    )


# -- privacy -------------------------------------------------------------------------


def privacy_view(plan: Plan, settings: Settings | None) -> PrivacyView:
    contact, address = contact_words(plan)
    reach = Prepared(f"{md(contact)} ({email_link(address)})") if address else md(contact)
    controller = md(plan.privacy.controller or plan.partner.name)
    if settings is None:
        return PrivacyView(controller, reach, None, None, None)
    return PrivacyView(
        controller=controller,
        contact=reach,
        erased_on=erased_on(settings, plan),
        kept_for=counted(keep_days(settings, plan), "day", plan.language),
        # An address made here, of base64url and the plan id: an autolink shows it whole.
        link=Prepared(f"<{links.privacy_link(settings, plan)}>"),
    )
