"""The runbook ("draaiboek") every participant gets at the kickoff (docs/architecture.md §8).

One Markdown text per language (``templates/<lang>/runbook.md.j2``); the HTML
page is that Markdown rendered by ``to_html`` inside ``runbook.html.j2``, so the
two formats never drift apart.

This module does the thinking, the templates hold the sentences: it sorts and
groups, and words what a template cannot (reachable hours, a check-in rhythm, a
rung of the escalation ladder, a duration). Every piece of plan text that goes
into the Markdown passes through ``md`` first, so a title such as
``A | <b>B</b>`` is shown as written and never becomes markup or breaks a
table. The templates therefore get prepared values only, never the plan.

The output is deterministic: no clock, no absolute paths, so the handover
bundle can include the runbook byte for byte.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup

from config.notation import WEEKDAY_CODES, Duration, Period, Reachable
from config.plan import Checkins, Milestone, Person, Plan, Step
from worker.messages import locale, render, to_html
from worker.timeline import checkin_days, checkin_rule, milestone_anchor

FORMATS = ("md", "html")


def render_runbook(plan: Plan, fmt: str = "md") -> str:
    """The runbook of ``plan`` in its language, as Markdown or a standalone HTML page."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown runbook format '{fmt}': use md or html")
    markdown = render("runbook.md.j2", plan.language, runbook=build(plan))
    if fmt == "md":
        return markdown
    body = Markup(to_html(markdown))  # noqa: S704 - to_html shows raw HTML as text
    return render("runbook.html.j2", plan.language, title=plan.title, body=body)


# -- keeping plan text from becoming markup ------------------------------------------

_SPECIAL = re.compile(r"[\\`*_\[\]<|]")
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_BLOCK_MARK = re.compile(r"^([#>+=~-])")
_LIST_NUMBER = re.compile(r"^(\d+)([.)])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL = re.compile(r"https?://[^\s<>|`\\\[\]]+")


def md(text: str, inline: bool = False) -> str:
    """Plan text as one line of Markdown that shows exactly that text.

    Line breaks become spaces (a value sits inside a sentence, list item or
    table cell); characters that would start emphasis, code, links, HTML or a
    table cell are escaped, and so is a mark that would start a heading, quote
    or list at the beginning of a line (unless the caller puts the value
    ``inline``, never at the start of a line or list item).
    """
    flat = " ".join(text.split())
    escaped = _ENTITY.sub(r"\\&", _SPECIAL.sub(r"\\\g<0>", flat))
    if inline:
        return escaped
    escaped = _LIST_NUMBER.sub(r"\1\\\2", escaped)
    return _BLOCK_MARK.sub(r"\\\1", escaped)


def maybe(text: str | None) -> str | None:
    return md(text) if text else None


def email_link(address: str) -> str:
    return f"<{address}>" if _EMAIL.fullmatch(address) else md(address)


def place(location: str) -> str:
    """A place as text, or a video link as a link."""
    return f"<{location}>" if _URL.fullmatch(location) else md(location)


def code(text: str) -> str:
    """A command or file name in a code span; a ``|`` would split a table cell even there."""
    return md(text) if "`" in text or "|" in text else f"`{text}`"


# -- words ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """What the runbook says in one language outside its templates' sentences."""

    units: dict[str, tuple[str, str]]
    day_range: str
    hours: str
    all_day: str
    every_day: str
    no_hours: str
    channels: dict[str, str]
    only: str
    first: str
    then: str
    cadence: dict[str, str]
    barriers: dict[str, str]
    kinds: dict[str, str]
    labels: dict[str, str]
    rungs: dict[str, str]
    nobody: str
    rhythm: dict[str, str]
    ordinals: dict[int, str]


NL = Words(
    units={
        "week": ("week", "weken"),
        "day": ("dag", "dagen"),
        "hour": ("uur", "uur"),
        "minute": ("minuut", "minuten"),
        "second": ("seconde", "seconden"),
    },
    day_range="{first} t/m {last}",
    hours="van {start} tot {end}",
    all_day="de hele dag",
    every_day="elke dag",
    no_hours="geen vaste tijden afgesproken",
    channels={
        "email": "e-mail",
        "sms": "sms",
        "whatsapp": "WhatsApp",
        "slack": "Slack",
        "teams": "Microsoft Teams",
        "mattermost": "Mattermost",
        "telegram": "Telegram",
        "webhook": "een eigen koppeling (webhook)",
        "apprise": "een eigen berichtendienst (Apprise)",
    },
    only="alleen {}",
    first="eerst {}",
    then=", dan {}",
    cadence={
        "daily": "elke dag",
        "weekly": "elke week",
        "biweekly": "om de twee weken",
        "monthly": "elke maand",
    },
    barriers={"time": "tijd", "money": "geld", "skills": "vakkennis", "other": "overige"},
    kinds={"result": "een blijvend resultaat", "activity": "een eenmalige activiteit"},
    labels={
        "contact": "vast aanspreekpunt",
        "deputy": "vervanger van het aanspreekpunt",
        "lead": "teamleider",
        "successor": "opvolger",
    },
    rungs={
        "self": "jou",
        "lead": "de teamleider ({name})",
        "contact": "het aanspreekpunt bij {partner} ({name})",
        "deputy": "de vervanger van het aanspreekpunt ({name})",
        "successor": "de opvolger ({name})",
    },
    nobody="niemand (het plan heeft geen vervanger of opvolger voor deze stap)",
    rhythm={
        "daily": "elke dag",
        "days": "om de {n} dagen",
        "weekly": "elke {days}",
        "biweekly": "om de twee weken op {days}",
        "weeks": "om de {n} weken op {days}",
        "nth": "op de {nth} {day} van de maand",
        "monthday": "op de {n}e van de maand",
        "lastday": "op de laatste dag van de maand",
        "monthly": "{when}",
        "months": "{when}, om de {n} maanden",
        "other": "volgens een eigen schema",
    },
    ordinals={1: "eerste", 2: "tweede", 3: "derde", 4: "vierde", 5: "vijfde", -1: "laatste"},
)

EN = Words(
    units={
        "week": ("week", "weeks"),
        "day": ("day", "days"),
        "hour": ("hour", "hours"),
        "minute": ("minute", "minutes"),
        "second": ("second", "seconds"),
    },
    day_range="{first} to {last}",
    hours="from {start} to {end}",
    all_day="all day",
    every_day="every day",
    no_hours="no fixed hours agreed",
    channels={
        "email": "e-mail",
        "sms": "SMS",
        "whatsapp": "WhatsApp",
        "slack": "Slack",
        "teams": "Microsoft Teams",
        "mattermost": "Mattermost",
        "telegram": "Telegram",
        "webhook": "their own system (webhook)",
        "apprise": "their own notification service (Apprise)",
    },
    only="{} only",
    first="{} first",
    then=", then {}",
    cadence={
        "daily": "every day",
        "weekly": "every week",
        "biweekly": "every other week",
        "monthly": "every month",
    },
    barriers={"time": "time", "money": "money", "skills": "skills", "other": "other"},
    kinds={"result": "a lasting result", "activity": "a one-off activity"},
    labels={
        "contact": "main contact",
        "deputy": "deputy contact",
        "lead": "team lead",
        "successor": "successor",
    },
    rungs={
        "self": "you",
        "lead": "the team lead ({name})",
        "contact": "the contact at {partner} ({name})",
        "deputy": "the deputy contact ({name})",
        "successor": "the successor ({name})",
    },
    nobody="nobody (the plan names no deputy or successor for this step)",
    rhythm={
        "daily": "every day",
        "days": "every {n} days",
        "weekly": "every {days}",
        "biweekly": "every other {days}",
        "weeks": "every {n} weeks on {days}",
        "nth": "on the {nth} {day} of the month",
        "monthday": "on the {n} of the month",
        "lastday": "on the last day of the month",
        "monthly": "{when}",
        "months": "{when}, every {n} months",
        "other": "on a schedule of its own",
    },
    ordinals={1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"},
)

WORDS = {"nl": NL, "en": EN}


def listed(items: list[str], lang: str) -> str:
    """``a, b en c`` / ``a, b and c``."""
    from babel.lists import format_list

    return str(format_list(items, locale=locale(lang))) if items else ""


def day_name(weekday: int, lang: str) -> str:
    """``maandag`` / ``Monday`` (0 = Monday)."""
    from babel.dates import get_day_names

    return str(get_day_names("wide", locale=locale(lang))[weekday])


def counted(amount: int, unit: str, lang: str) -> str:
    one, many = WORDS[lang].units[unit]
    return f"{amount} {one if amount == 1 else many}"


def duration_words(span: Duration, lang: str) -> str:
    """``2 dagen``, ``1 week``, ``90 minuten``, ``2 hours``, ``1 day and 6 hours``."""
    parts = []
    if span.days:
        weeks, days = divmod(span.days, 7)
        parts.append(counted(weeks, "week", lang) if not days else counted(span.days, "day", lang))
    hours, rest = divmod(span.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours and (minutes or seconds) and hours < 3 and not seconds:
        hours, minutes = 0, hours * 60 + minutes  # "90 minuten" reads better than "1 uur en 30"
    for amount, unit in ((hours, "hour"), (minutes, "minute"), (seconds, "second")):
        if amount:
            parts.append(counted(amount, unit, lang))
    return listed(parts, lang) or counted(0, "minute", lang)


def offsets_words(offsets: list[Duration], lang: str) -> str:
    """``7 dagen, 1 dag en 2 uur`` (longest first)."""
    ordered = sorted(dict.fromkeys(offsets), key=lambda d: d.approx, reverse=True)
    return listed([duration_words(offset, lang) for offset in ordered], lang)


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def day_runs(days: list[int]) -> list[list[int]]:
    """Consecutive weekdays grouped: ``[0, 1, 2, 4]`` -> ``[[0, 1, 2], [4]]``."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def days_words(days: list[int], lang: str) -> str:
    """``maandag t/m donderdag``, ``maandag, woensdag en vrijdag``, ``elke dag``."""
    if len(days) == 7:
        return WORDS[lang].every_day
    pieces: list[str] = []
    for run in day_runs(days):
        names = [day_name(day, lang) for day in run]
        if len(run) >= 3:
            pieces.append(WORDS[lang].day_range.format(first=names[0], last=names[-1]))
        else:
            pieces.extend(names)
    return listed(pieces, lang)


def periods_words(periods: tuple[Period, ...], lang: str) -> str:
    if periods == (Period(0, 24 * 60),):
        return WORDS[lang].all_day
    hours = WORDS[lang].hours
    return listed([hours.format(start=clock(p.start), end=clock(p.end)) for p in periods], lang)


def reachable_words(reachable: Reachable | None, lang: str) -> str:
    """``maandag t/m donderdag van 09:00 tot 17:00; zaterdag van 10:00 tot 12:00``."""
    if reachable is None:
        return WORDS[lang].no_hours
    groups: dict[tuple[Period, ...], list[int]] = {}
    for weekday, periods in enumerate(reachable.week):
        if periods:
            groups.setdefault(periods, []).append(weekday)
    return "; ".join(
        f"{days_words(days, lang)} {periods_words(periods, lang)}"
        for periods, days in sorted(groups.items(), key=lambda group: group[1][0])
    )


def channels_words(channels: list[str], lang: str) -> str:
    """``eerst WhatsApp, dan e-mail`` / ``Slack first, then SMS, then e-mail``."""
    wording = WORDS[lang]
    named = [wording.channels[name] for name in channels]
    if len(named) == 1:
        return wording.only.format(named[0])
    return wording.first.format(named[0]) + "".join(wording.then.format(n) for n in named[1:])


# -- the check-in rhythm -------------------------------------------------------------


def rule_parts(rule: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in rule.upper().split(";") if "=" in part)


def rhythm_words(checkins: Checkins, start: date, lang: str) -> str:
    """``elke maandag``, ``every other Thursday``, ``op de eerste maandag van de maand``."""
    parts = rule_parts(checkin_rule(checkins, start))
    interval = int(parts.pop("INTERVAL", "1"))
    parts.pop("WKST", None)
    freq = parts.pop("FREQ", "")
    wording = WORDS[lang].rhythm
    if freq == "DAILY" and not parts:
        return wording["daily"] if interval == 1 else wording["days"].format(n=interval)
    if (freq == "WEEKLY" and set(parts) <= {"BYDAY"}) or (
        freq == "DAILY" and set(parts) == {"BYDAY"} and interval == 1
    ):
        return weekly_words(parts.get("BYDAY", WEEKDAY_CODES[start.weekday()]), interval, lang)
    if freq == "MONTHLY" and len(parts) == 1:
        when = monthly_words(parts, lang)
        if when is not None:
            key = "monthly" if interval == 1 else "months"
            return wording[key].format(when=when, n=interval)
    return wording["other"]


def weekly_words(byday: str, interval: int, lang: str) -> str:
    wording = WORDS[lang].rhythm
    codes = byday.split(",")
    if not all(code in WEEKDAY_CODES for code in codes):
        return wording["other"]
    days = listed([day_name(WEEKDAY_CODES.index(code), lang) for code in codes], lang)
    if interval == 1:
        return wording["weekly"].format(days=days)
    if interval == 2:
        return wording["biweekly"].format(days=days)
    return wording["weeks"].format(days=days, n=interval)


def monthly_words(parts: dict[str, str], lang: str) -> str | None:
    """``op de eerste maandag van de maand`` / ``on the 11th of the month``, or None."""
    wording, ordinals = WORDS[lang].rhythm, WORDS[lang].ordinals
    nth = re.fullmatch(r"([+-]?\d)(MO|TU|WE|TH|FR|SA|SU)", parts.get("BYDAY", ""))
    if nth and int(nth[1]) in ordinals:
        weekday = day_name(WEEKDAY_CODES.index(nth[2]), lang)
        return wording["nth"].format(nth=ordinals[int(nth[1])], day=weekday)
    monthday = parts.get("BYMONTHDAY", "")
    if monthday == "-1":
        return wording["lastday"]
    if monthday.isdigit() and 1 <= int(monthday) <= 31:
        return wording["monthday"].format(n=day_ordinal(int(monthday), lang))
    return None


_SUFFIXES = {1: "st", 2: "nd", 3: "rd"}


def day_ordinal(number: int, lang: str) -> str:
    """``11`` (the Dutch wording adds the ``e``: "de 11e") or ``11th``."""
    if lang == "nl":
        return str(number)
    if number % 100 in (11, 12, 13):
        return f"{number}th"
    return f"{number}{_SUFFIXES.get(number % 10, 'th')}"


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


def build(plan: Plan) -> Runbook:
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
    )


def zone_words(zone: str, lang: str) -> str:
    """``New York (America/New_York)``: the city a reader knows, and the exact zone."""
    from babel.dates import get_timezone_location

    city = get_timezone_location(ZoneInfo(zone), locale=locale(lang), return_city=True)
    return f"{md(str(city))} ({zone})"  # an IANA name is letters, digits and /_+-


def duration_or_none(span: Duration | None, lang: str) -> str | None:
    return duration_words(span, lang) if span is not None else None


def cadence_words(cadence: str | None, lang: str) -> str | None:
    if not cadence:
        return None
    return WORDS[lang].cadence.get(cadence.strip().lower(), md(cadence))


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
        for person in plan.people
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
