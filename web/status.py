"""The status page of one plan, behind its secret link (``/status/{plan}/{token}``).

Milestones, a people x weeks grid of check-ins, risk with reasons, recent
warnings and failed deliveries, at a glance and without JavaScript. The same
facts as JSON at ``/api/status/{plan}/{token}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from config.plan import Person, Plan
from web.access import engine_of, field, status_plan, verify
from web.checkin import HTML_ERRORS, JSON_ERRORS
from web.pages import Refused, page
from worker import clock
from worker.checkins.risk import Risk, level_words
from worker.checkins.standing import Standing, standing
from worker.checkins.windows import Window
from worker.engine import Engine
from worker.privacy.keeping import kept_until, purge_date, purged
from worker.status import PROBLEMS, meetings, plan_status, recent_warnings
from worker.store import Item
from worker.timeline import milestone_anchor

router = APIRouter()

GLYPHS = {
    "answered": "✓",
    "late": "✓",
    "missed": "✗",
    "pending": "…",
    "excused": "–",
    "untracked": "·",
}
STATUS_GLYPHS = {"need_help": "?", "blocked": "!", "stopping": "■"}


@dataclass(frozen=True)
class Row:
    """One person's line in the grid: their risk and, per week, that week's windows."""

    person: Person
    risk: Risk
    level: str
    weeks: list[list[Window]]


@dataclass(frozen=True)
class MilestoneLine:
    title: str
    when: datetime | date
    meeting: bool
    owner: str | None
    state: str  # done | overdue | upcoming | past
    done: datetime | None
    overdue_days: int | None


@dataclass(frozen=True)
class Delivery:
    when: datetime
    kind: str
    recipient: str
    about: str | None
    level: int | None
    state: str
    channel: str | None
    detail: str


def weeks(plan: Plan, now: float) -> list[date]:
    """The Mondays from the plan's first week through this week (or the last)."""
    today = datetime.fromtimestamp(now, plan.zone).date()
    first = plan.start - timedelta(days=plan.start.weekday())
    last = max(plan.start, min(today, plan.end))
    found = []
    monday = first
    while monday <= last:
        found.append(monday)
        monday += timedelta(days=7)
    return found


def grid(plan: Plan, found: Standing, columns: list[date]) -> list[Row]:
    lang = plan.language
    rows = []
    for person in plan.checkin_people():
        cells: dict[date, list[Window]] = {monday: [] for monday in columns}
        for window in found.windows.get(person.id, []):
            day = date.fromisoformat(window.day)
            monday = day - timedelta(days=day.weekday())
            if monday in cells:
                cells[monday].append(window)
        risk = found.people[person.id]
        rows.append(Row(person, risk, level_words(risk.level, lang), list(cells.values())))
    return rows


def milestone_lines(plan: Plan, found: Standing, now: float) -> list[MilestoneLine]:
    overdue = {late.milestone.id: late.days for late in found.overdue}
    lines = []
    for milestone in sorted(plan.milestones, key=lambda m: milestone_anchor(plan, m)):
        anchor = milestone_anchor(plan, milestone)
        done = found.done.get(milestone.id)
        if done:
            state = "done"
        elif milestone.id in overdue:
            state = "overdue"
        else:
            state = "upcoming" if anchor.timestamp() > now else "past"
        lines.append(
            MilestoneLine(
                title=milestone.title,
                when=anchor.astimezone(plan.zone)
                if milestone.is_meeting
                else milestone.due or anchor.date(),
                meeting=milestone.is_meeting,
                owner=plan.person(milestone.owner).name if milestone.owner else None,
                state=state,
                done=datetime.fromtimestamp(float(done["at"]), plan.zone) if done else None,
                overdue_days=overdue.get(milestone.id),
            )
        )
    return lines


def _name(plan: Plan, person_id: str | None) -> str:
    try:
        return plan.person(person_id or "").name
    except KeyError:
        return person_id or "?"


def delivery(plan: Plan, item: Item) -> Delivery:
    moment = item.sent_at or item.due
    about = item.data.get("about")
    milestone = next((m for m in plan.milestones if m.id == item.data.get("milestone")), None)
    return Delivery(
        when=datetime.fromtimestamp(moment, UTC).astimezone(plan.zone),
        kind=str(item.data.get("template") or item.kind),
        recipient=_name(plan, item.recipient),
        about=_name(plan, str(about)) if about else milestone.title if milestone else None,
        level=item.data.get("level"),
        state=item.state,
        channel=item.channel_used or item.channel,
        detail=item.detail,
    )


def view(engine: Engine, plan: Plan, now: float) -> dict[str, Any]:
    found = standing(engine, plan, now)
    risk, answers = found.risk, found.meetings
    columns = weeks(plan, now)
    failed = engine.store.items(plan.id, ("failed", "unknown"))
    return {
        "plan": plan,
        "now": datetime.fromtimestamp(now, plan.zone),
        "risk": risk,
        "level": level_words(risk.level, plan.language),
        "reasons": [reason.text(plan.language) for reason in risk.reasons],
        "columns": columns,
        "rows": grid(plan, found, columns),
        "milestones": milestone_lines(plan, found, now),
        "meetings": [
            {**row, "start": datetime.fromtimestamp(m.start, plan.zone) if m.start else None}
            for row, m in zip(meetings(plan, answers), answers, strict=True)
        ],
        "warnings": [delivery(plan, item) for item in recent_warnings(engine, plan.id)],
        "failed": [delivery(plan, item) for item in failed[-PROBLEMS:]][::-1],
        "data_until": kept_until(plan, purge_date(engine, plan)),
        "erased": None,
        "glyphs": GLYPHS,
        "status_glyphs": STATUS_GLYPHS,
        "level_words": level_words,
    }


@router.get(
    "/status/{plan_id}/{token}",
    response_class=HTMLResponse,
    responses=HTML_ERRORS,
    summary="The plan's status page (its secret link)",
)
def status_page(request: Request, plan_id: str, token: str) -> HTMLResponse:
    engine = engine_of(request)
    now = clock.now()
    erased = purged_plan(engine, plan_id, token, now)
    if erased is not None:
        lang = str(erased["report"].get("language") or "en")
        return page("status", lang, erased=purged_view(erased))
    plan = status_plan(engine, plan_id, token, now)
    return page("status", plan.language, **view(engine, plan, now))


def purged_plan(engine: Engine, plan_id: str, token: str, now: float) -> dict[str, Any] | None:
    """The ``PURGED`` record of a plan whose personal data was erased, for a valid link."""
    erased = purged(engine, plan_id)
    if erased is None:
        return None
    if field(verify(engine, token, "status", now), "p") != plan_id:
        raise Refused(403, "other_plan")
    return erased


def purged_view(erased: dict[str, Any]) -> dict[str, Any]:
    report = erased["report"]
    return {
        "title": report.get("title") or report["plan"],
        "day": datetime.fromtimestamp(float(erased["at"]), UTC).date(),
        "counts": report["counts"],
        "milestones": report["milestones"],
    }


@router.get(
    "/api/status/{plan_id}/{token}",
    responses=JSON_ERRORS,
    summary="Where the plan stands, as JSON (the same report as `pactkeeper status --json`)",
)
def status_json(request: Request, plan_id: str, token: str) -> dict[str, Any]:
    engine = engine_of(request)
    now = clock.now()
    if purged_plan(engine, plan_id, token, now) is not None:
        return plan_status(engine, plan_id, now)
    plan = status_plan(engine, plan_id, token, now)
    report = plan_status(engine, plan.id, now)
    report.pop("source", None)  # where the plan file lives on the server is not for the web
    return report
