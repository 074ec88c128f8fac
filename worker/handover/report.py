"""The handover report: what was agreed against what happened, for the partner and a successor.

``gather`` reads the facts at one moment (check-in windows, finished
milestones, risk, deliveries); ``build`` words them in the plan's language; the
templates ``handover_report.md.j2`` hold the sentences. As in the runbook, every
piece of plan text and every check-in note passes through ``runbook.md`` before
it reaches the Markdown, so a note can never become markup or a link.

The HTML page is the same Markdown rendered by ``to_html``, with the timeline
picture (``handover_svg``) inline between its two halves: the template renders
``part="head"`` and ``part="tail"`` separately, so no marker in the text decides
where the picture goes.

Deterministic: the moment is a parameter and the output depends on nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from markupsafe import Markup

from config.plan import Milestone, Person, Plan
from worker import messages, timeline
from worker.checkins.risk import closed, level_words
from worker.checkins.standing import Standing, standing
from worker.checkins.windows import Window
from worker.handover import picture as handover_svg
from worker.kickoff.runbook import Contact, contact
from worker.messages import NP_, ByLanguage
from worker.messages.words import WORDS as RUNBOOK_WORDS
from worker.messages.words import counted, listed, md, place
from worker.store import Item

if TYPE_CHECKING:
    from worker.engine import Engine

SHORT_DAY = "d MMM y"
LONG_DAY = "d MMMM y"
HURDLES = 30  # the most recent notes that asked for help, in the report (all are in checkins.csv)
TOOLTIP_NOTE = 80

HANDOVER = "handover"  # the bundle's own delivery: not in the report it carries
DELIVERED = ("sent", "failed", "unknown")


@dataclass(frozen=True)
class Words:
    statuses: Mapping[str, str]
    windows: Mapping[str, str]
    milestones: Mapping[str, str]
    kinds: Mapping[str, str]
    late: str
    early: str
    on_the_day: str
    picture: str
    picture_milestones: str
    picture_checkins: str
    picture_handover: str
    picture_as_of: str
    legend: Sequence[tuple[str, str]]


REPORT = "handover report"  # the catalog context of these words (docs/glossary.md)

# English msgids; ``WORDS[lang]`` is this table in ``lang`` (the catalog has the Dutch).
EN = Words(
    statuses={
        "on_track": NP_("handover report", "on track"),
        "need_help": NP_("handover report", "needs help"),
        "blocked": NP_("handover report", "blocked"),
        "stopping": NP_("handover report", "stopping"),
        "unclear": NP_("handover report", "answered, status unclear"),
    },
    windows={
        "answered": NP_("handover report", "answered"),
        "late": NP_("handover report", "answered late"),
        "missed": NP_("handover report", "missed"),
        "excused": NP_("handover report", "excused (pause or away)"),
        "pending": NP_("handover report", "still open"),
        "untracked": NP_("handover report", "not tracked"),
    },
    milestones={
        "done": NP_("handover report", "done"),
        "overdue": NP_("handover report", "not done, past its deadline"),
        "past": NP_("handover report", "past, not ticked off"),
        "open": NP_("handover report", "still open"),
    },
    kinds={
        "meeting": NP_("handover report", "meeting"),
        "deadline": NP_("handover report", "deadline"),
    },
    late=NP_("handover report", "{days} late"),
    early=NP_("handover report", "{days} early"),
    on_the_day=NP_("handover report", "on the day"),
    picture=NP_(
        "handover report", "Timeline of {title}: milestones, weekly check-ins and the handover"
    ),
    picture_milestones=NP_("handover report", "Milestones"),
    picture_checkins=NP_("handover report", "Check-ins"),
    picture_handover=NP_("handover report", "Handover {day}"),
    picture_as_of=NP_("handover report", "As of {day}"),
    legend=(
        ("answered", NP_("handover report", "answered / done")),
        ("late", NP_("handover report", "late")),
        ("missed", NP_("handover report", "missed / not done")),
        ("excused", NP_("handover report", "excused")),
        ("past", NP_("handover report", "past")),
        ("pending", NP_("handover report", "open")),
    ),
)

WORDS = ByLanguage(REPORT, EN)


# -- the facts -------------------------------------------------------------------------


@dataclass(frozen=True)
class LeftOut:
    """A document of the plan that is not in the bundle, and why (the report says which).

    ``missing``: not there when the bundle was made; ``outside``: not a file inside the
    plan's folder (a link out of it, a device); ``secret``: it holds a secret.
    """

    name: str
    reason: Literal["missing", "outside", "secret"]


@dataclass(frozen=True)
class Facts:
    """What happened up to ``as_of``: everything the report and the CSV files are made of."""

    plan: Plan
    as_of: float
    standing: Standing
    deliveries: Sequence[Item]
    closed: bool
    left_out: Sequence[LeftOut] = ()

    @property
    def moment(self) -> datetime:
        return datetime.fromtimestamp(self.as_of, self.plan.zone)


def gather(
    engine: Engine, plan: Plan, as_of: float, closed_plan: bool, left_out: Sequence[LeftOut] = ()
) -> Facts:
    items = engine.store.items(plan.id, DELIVERED)
    deliveries = sorted(
        (i for i in items if is_delivery(i)),
        key=lambda i: (_delivered_at(i), i.kind, i.recipient or "", i.key),
    )
    return Facts(plan, as_of, standing(engine, plan, as_of), deliveries, closed_plan, left_out)


def is_delivery(item: Item) -> bool:
    """A message to a person (a step is scheduled on no channel), other than the bundle's own."""
    return item.channel is not None and item.kind != HANDOVER


def _delivered_at(item: Item) -> float:
    return item.sent_at if item.sent_at is not None else item.due


# -- milestones: planned against what happened ----------------------------------------


@dataclass(frozen=True)
class MilestoneOutcome:
    milestone: Milestone
    anchor: datetime  # in the plan's zone
    state: str  # done | overdue | past | open
    done_at: datetime | None
    done_by: str | None
    days_late: int | None  # deadlines: days after the due date it was done (or is now)


def milestone_outcomes(facts: Facts) -> list[MilestoneOutcome]:
    plan = facts.plan
    overdue = {late.milestone.id: late.days for late in facts.standing.overdue}
    found = []
    for milestone in sorted(
        plan.milestones, key=lambda m: (timeline.milestone_anchor(plan, m), m.id)
    ):
        anchor = timeline.milestone_anchor(plan, milestone).astimezone(plan.zone)
        record = facts.standing.done.get(milestone.id)
        done_at = datetime.fromtimestamp(float(record["at"]), plan.zone) if record else None
        if done_at is not None:
            state = "done"
        elif milestone.id in overdue:
            state = "overdue"
        elif milestone.is_meeting and milestone.length.after(anchor).timestamp() <= facts.as_of:
            state = "past"
        else:
            state = "open"
        days_late = None
        if milestone.due is not None and done_at is not None:
            days_late = (done_at.date() - milestone.due).days
        elif milestone.id in overdue:
            days_late = overdue[milestone.id]
        by = str(record["by"]) if record and record.get("by") else None
        found.append(MilestoneOutcome(milestone, anchor, state, done_at, by, days_late))
    return found


# -- the report as the templates see it ---------------------------------------------------


@dataclass(frozen=True)
class MilestoneLine:
    title: str
    kind: str
    planned: str
    owner: str | None
    state: str
    state_words: str
    done_on: str | None
    difference: str | None


@dataclass(frozen=True)
class PersonLine:
    name: str
    answered: int
    late: int
    missed: int
    excused: int
    pending: int
    last_status: str | None
    last_day: str | None
    level: str


@dataclass(frozen=True)
class Note:
    day: str
    name: str
    status: str
    text: str


@dataclass(frozen=True)
class Streak:
    name: str
    count: int
    since: str


@dataclass(frozen=True)
class Summary:
    milestones_total: int
    milestones_done: int
    milestones_late: int  # done after the due date
    milestones_open: int
    windows: int  # answered + late + missed
    answered: int
    late: int
    missed: int
    excused: int
    rate: int | None  # percent of windows answered (late included)
    statuses: list[tuple[str, int]]  # (words, count)
    warnings: int
    dropout_warnings: int
    deliveries: int
    failed: int
    level: str
    reasons: list[str]


@dataclass(frozen=True)
class Report:
    lang: str
    plan_id: str
    plain_title: str  # for the HTML <title>, which the page template escapes
    title: str
    partner: str
    team: str
    company: str | None
    start: str
    end: str
    as_of: str
    closed: bool
    end_result: str
    kind: str
    success_criteria: list[str]
    start_small: str | None
    need: str
    questions: list[str]
    in_scope: list[str]
    out_of_scope: list[str]
    summary: Summary
    milestones: list[MilestoneLine]
    open_milestones: list[MilestoneLine]
    people: list[PersonLine]
    concerns: list[Note]  # people whose last answer was not "on track"
    hurdles: list[Note]
    hurdles_more: int
    latest: list[Note]  # each person's last note
    streak: Streak | None
    agreements: list[str]
    contacts: list[Contact]
    successor: Contact | None
    backup: str | None
    handover_when: str | None
    handover_where: str | None
    handover_who: str
    documents: list[str]
    left_out: list[LeftOut]  # names already escaped for the Markdown
    redacted: bool
    has_checkins: bool


def day_words(day: date | datetime, lang: str, fmt: str = LONG_DAY) -> str:
    return messages.format_day(day, lang, fmt)


def _planned(outcome: MilestoneOutcome, lang: str) -> str:
    day = day_words(outcome.anchor, lang, SHORT_DAY)
    if outcome.milestone.is_meeting:
        return f"{day}, {outcome.anchor:%H:%M}"
    return day


def _difference(outcome: MilestoneOutcome, lang: str) -> str | None:
    if outcome.days_late is None:
        return None
    words = WORDS[lang]
    if outcome.days_late == 0:
        return words.on_the_day
    days = counted(abs(outcome.days_late), "day", lang)
    return (words.late if outcome.days_late > 0 else words.early).format(days=days)


def milestone_line(plan: Plan, outcome: MilestoneOutcome) -> MilestoneLine:
    lang = plan.language
    milestone = outcome.milestone
    return MilestoneLine(
        title=md(milestone.title),
        kind=WORDS[lang].kinds["meeting" if milestone.is_meeting else "deadline"],
        planned=_planned(outcome, lang),
        owner=md(plan.person(milestone.owner).name) if milestone.owner else None,
        state=outcome.state,
        state_words=WORDS[lang].milestones[outcome.state],
        done_on=day_words(outcome.done_at, lang, SHORT_DAY) if outcome.done_at else None,
        difference=_difference(outcome, lang),
    )


def _answers(windows: Sequence[Window]) -> list[Window]:
    return [w for w in windows if w.state in ("answered", "late") and w.status]


def person_line(plan: Plan, person: Person, facts: Facts) -> PersonLine:
    lang = plan.language
    windows = facts.standing.windows.get(person.id, [])
    count = {state: sum(1 for w in windows if w.state == state) for state in EN.windows}
    answers = _answers(windows)
    last = answers[-1] if answers else None
    return PersonLine(
        name=md(person.name),
        answered=count["answered"],
        late=count["late"],
        missed=count["missed"],
        excused=count["excused"],
        pending=count["pending"],
        last_status=WORDS[lang].statuses[str(last.status)] if last else None,
        last_day=day_words(date.fromisoformat(last.day), lang, SHORT_DAY) if last else None,
        level=level_words(facts.standing.people[person.id].level, lang),
    )


def note(plan: Plan, window: Window) -> Note:
    lang = plan.language
    return Note(
        day=day_words(date.fromisoformat(window.day), lang, SHORT_DAY),
        name=md(plan.person(window.person).name),
        status=WORDS[lang].statuses.get(str(window.status), str(window.status)),
        text=md(window.note, inline=True),
    )


def _all_answers(facts: Facts) -> list[Window]:
    found = [w for windows in facts.standing.windows.values() for w in _answers(windows)]
    order = {p.id: index for index, p in enumerate(facts.plan.people)}
    return sorted(found, key=lambda w: (w.day, order.get(w.person, 0)))


def longest_streak(facts: Facts) -> Streak | None:
    """The longest run of missed check-ins of anyone (excused windows neither count nor break)."""
    best: tuple[int, str, str] | None = None
    for person in facts.plan.checkin_people():
        run: list[Window] = []
        for window in closed(facts.standing.windows.get(person.id, [])):
            run = [*run, window] if window.state == "missed" else []
            if run and (best is None or len(run) > best[0]):
                best = (len(run), person.id, run[0].day)
    if best is None:
        return None
    lang = facts.plan.language
    name = md(facts.plan.person(best[1]).name)
    return Streak(name, best[0], day_words(date.fromisoformat(best[2]), lang, SHORT_DAY))


def summary(facts: Facts, outcomes: Sequence[MilestoneOutcome]) -> Summary:
    _plan, lang = facts.plan, facts.plan.language
    windows = [w for ws in facts.standing.windows.values() for w in ws]
    count = {state: sum(1 for w in windows if w.state == state) for state in EN.windows}
    counted_windows = count["answered"] + count["late"] + count["missed"]
    answered = count["answered"] + count["late"]
    statuses: dict[str, int] = {}
    for window in _all_answers(facts):
        statuses[str(window.status)] = statuses.get(str(window.status), 0) + 1
    warnings = [
        i
        for i in facts.deliveries
        if i.kind == "warning" and i.state == "sent" and i.data.get("template") != "help_request"
    ]
    risk = facts.standing.risk
    return Summary(
        milestones_total=len(outcomes),
        milestones_done=sum(1 for o in outcomes if o.state == "done"),
        milestones_late=sum(1 for o in outcomes if o.state == "done" and (o.days_late or 0) > 0),
        milestones_open=sum(1 for o in outcomes if o.state != "done"),
        windows=counted_windows,
        answered=count["answered"],
        late=count["late"],
        missed=count["missed"],
        excused=count["excused"],
        rate=round(100 * answered / counted_windows) if counted_windows else None,
        statuses=[
            (WORDS[lang].statuses[status], statuses[status])
            for status in EN.statuses
            if status in statuses
        ],
        warnings=len(warnings),
        dropout_warnings=sum(1 for i in warnings if i.data.get("dropout")),
        deliveries=sum(1 for i in facts.deliveries if i.state == "sent"),
        failed=sum(1 for i in facts.deliveries if i.state in ("failed", "unknown")),
        level=level_words(risk.level, lang),
        reasons=[reason.text(lang, md) for reason in risk.reasons],
    )


def contacts(plan: Plan) -> list[Contact]:
    """Who to call: the partner's contact and deputy, the team lead, then the successor."""
    ids = [plan.partner.contact, plan.partner.deputy, plan.team.lead]
    return [contact(plan, plan.person(pid)) for pid in dict.fromkeys(i for i in ids if i)]


def build(facts: Facts, redacted: bool) -> Report:
    """Everything the report templates show, worded and escaped."""
    plan, lang = facts.plan, facts.plan.language
    outcomes = milestone_outcomes(facts)
    lines = [milestone_line(plan, outcome) for outcome in outcomes]
    answers = _all_answers(facts)
    hurdles = [w for w in answers if w.status != "on_track" and w.note]
    latest: dict[str, Window] = {}
    for window in answers:
        if window.note:
            latest[window.person] = window
    last_answer = {w.person: w for w in answers}
    successor = plan.continuity.successor if plan.continuity else None
    handover = plan.handover
    return Report(
        lang=lang,
        plan_id=plan.id,
        plain_title=plan.title,
        title=md(plan.title),
        partner=md(plan.partner.name),
        team=md(plan.team.name),
        company=md(plan.team.company) if plan.team.company else None,
        start=day_words(plan.start, lang),
        end=day_words(plan.end, lang),
        as_of=day_words(facts.moment, lang),
        closed=facts.closed,
        end_result=md(plan.goal.end_result),
        kind=RUNBOOK_WORDS[lang].kinds[plan.goal.kind],
        success_criteria=[md(item) for item in plan.goal.success_criteria],
        start_small=md(plan.goal.start_small) if plan.goal.start_small else None,
        need=md(plan.challenge.need),
        questions=[md(item) for item in plan.challenge.questions],
        in_scope=[md(item) for item in plan.challenge.in_scope],
        out_of_scope=[md(item) for item in plan.challenge.out_of_scope],
        summary=summary(facts, outcomes),
        milestones=lines,
        open_milestones=[line for line in lines if line.state != "done"],
        people=[person_line(plan, person, facts) for person in plan.checkin_people()],
        concerns=[note(plan, w) for w in last_answer.values() if w.status != "on_track"],
        hurdles=[note(plan, w) for w in hurdles[-HURDLES:]],
        hurdles_more=max(0, len(hurdles) - HURDLES),
        latest=[note(plan, latest[p.id]) for p in plan.checkin_people() if p.id in latest],
        streak=longest_streak(facts),
        agreements=[md(item) for item in plan.agreements],
        contacts=contacts(plan),
        successor=contact(plan, plan.person(successor)) if successor else None,
        backup=md(plan.continuity.backup) if plan.continuity and plan.continuity.backup else None,
        handover_when=messages.format_moment(handover.at.replace(tzinfo=plan.zone), lang)
        if handover
        else None,
        handover_where=place(handover.location) if handover and handover.location else None,
        handover_who=listed([md(p.name) for p in plan.handover_recipients()], lang),
        documents=[
            f"`documents/{name}`"
            for name in (handover.documents if handover else [])
            if name not in {gap.name for gap in facts.left_out}
        ],
        left_out=[LeftOut(md(gap.name), gap.reason) for gap in facts.left_out],
        redacted=redacted,
        has_checkins=plan.checkins is not None,
    )


# -- the timeline picture ------------------------------------------------------------------


def picture(facts: Facts) -> str:
    plan, lang = facts.plan, facts.plan.language
    words = WORDS[lang]
    points = [
        handover_svg.Point(
            id=o.milestone.id,
            title=o.milestone.title,
            at=o.anchor,
            meeting=o.milestone.is_meeting,
            state=o.state,
            tooltip=_point_tooltip(o, lang),
        )
        for o in milestone_outcomes(facts)
    ]
    lanes = [
        handover_svg.Lane(
            person.id,
            person.name,
            [_cell(window, person, lang) for window in facts.standing.windows.get(person.id, [])],
        )
        for person in plan.checkin_people()
    ]
    handover = plan.handover.at.replace(tzinfo=plan.zone) if plan.handover else None
    handover_day = day_words(handover, lang, "d MMM") if handover else ""
    handover_tooltip = messages.format_moment(handover, lang) if handover else ""
    from babel.dates import get_month_names

    months = get_month_names("abbreviated", locale=messages.locale(lang))
    moment = facts.moment
    return handover_svg.render(
        handover_svg.Picture(
            start=plan.start,
            end=plan.end,
            points=points,
            lanes=lanes,
            handover=handover,
            handover_tooltip=f"{words.picture_handover.format(day='')} {handover_tooltip}".strip()
            if handover
            else "",
            as_of=moment if moment.date() <= plan.end and not facts.closed else None,
            words=handover_svg.Words(
                label=words.picture.format(title=plan.title),
                milestones=words.picture_milestones,
                checkins=words.picture_checkins,
                handover=words.picture_handover.format(day=handover_day),
                as_of=words.picture_as_of.format(day=day_words(moment, lang)),
                legend=words.legend,
                months=[str(months[n]) for n in range(1, 13)],
            ),
        )
    )


def _point_tooltip(outcome: MilestoneOutcome, lang: str) -> str:
    state = WORDS[lang].milestones[outcome.state]
    when = _planned(outcome, lang)
    done = f" ({day_words(outcome.done_at, lang, SHORT_DAY)})" if outcome.done_at else ""
    return f"{outcome.milestone.title} – {when} – {state}{done}"


def _cell(window: Window, person: Person, lang: str) -> handover_svg.Cell:
    words = WORDS[lang]
    text = f"{person.name}, {day_words(date.fromisoformat(window.day), lang, SHORT_DAY)}: "
    text += words.windows.get(window.state, window.state)
    if window.status:
        text += f" – {words.statuses.get(window.status, window.status)}"
    if window.note:
        short = (
            window.note if len(window.note) <= TOOLTIP_NOTE else window.note[:TOOLTIP_NOTE] + "…"
        )
        text += f": {short}"
    return handover_svg.Cell(date.fromisoformat(window.day), window.state, text)


# -- rendering ---------------------------------------------------------------------------------


def render_markdown(report: Report, part: str = "all") -> str:
    return messages.render("handover_report.md.j2", report.lang, r=report, part=part)


def render_html(report: Report, svg: str) -> str:
    head = messages.to_html(render_markdown(report, "head"))
    tail = messages.to_html(render_markdown(report, "tail"))
    # The picture is drawn by handover_svg, which escapes every text it writes.
    return messages.render(
        "handover_report.html.j2",
        report.lang,
        title=report.plain_title,
        head=Markup(head),  # noqa: S704 - to_html shows raw HTML in the source as text
        tail=Markup(tail),  # noqa: S704
        svg=Markup(svg),  # noqa: S704
    )
