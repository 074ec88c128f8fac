"""The check-in form and the JSON API: one answer per window, however often a link is used.

``GET /checkin/{token}`` shows the form; ``POST`` records. A GET never records,
on purpose: mail and chat services open every link in a message to scan it or
build a preview, so a GET that recorded would answer for the person. The
one-click links (``/checkin/{token}?status=on_track``) therefore open the form
with that answer chosen and highlighted; one press records it. Pressing again,
or posting the same answer through the API, changes nothing: the window has
one row (``worker.checkins.record_checkin``). Every answer through a link goes
to the link's own window, late if it has closed, never to the window open now.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from web.access import Holder, checkin_holder, engine_of, run_on_store_thread
from web.pages import Problem, Refused, page, reason
from worker import clock
from worker.checkins.answers import (
    NOTE_LIMIT,
    STATUSES,
    CheckinError,
    CheckinResult,
    PlanClosed,
    open_milestones,
    record_checkin,
)
from worker.checkins.rhythm import rhythm
from worker.engine import Engine
from worker.plans.closed import closed_at
from worker.store.records import checkin_row_id as row_id
from worker.store.records import checkin_rows as collection
from worker.store.records import done_rows as done_collection

router = APIRouter()

HTML: dict[str, Any] = {"content": {"text/html": {}}}
HTML_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The answer could not be read (a clear page says why)", **HTML},
    403: {"description": "The link is forged, altered, expired or someone else's", **HTML},
    409: {"description": "The link's window has not opened, or the plan is closed", **HTML},
    413: {"description": "The body is larger than any check-in can be", **HTML},
    422: {"description": "The form could not be read", **HTML},
    503: {"description": "The data cannot be read right now", **HTML},
}
JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in (
        (400, "The answer does not fit the plan (e.g. a milestone that is not yours)"),
        (403, "The token is forged, altered, expired, or for another plan or person"),
        (409, "The token's window has not opened, is gone, or the plan is closed"),
        (413, "The body is larger than any check-in can be"),
        (422, "The request body is not a check-in"),
        (503, "The data cannot be read right now"),
    )
}
Status = Literal["on_track", "need_help", "blocked", "stopping"]
Text = Annotated[str, Field(max_length=NOTE_LIMIT)]


class CheckinRequest(BaseModel):
    """A check-in through the API: the token from the check-in link, and the answer."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=4096)
    status: Status
    note: Text = ""
    answers: list[Text] = Field(default_factory=list, max_length=50)
    done: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=100)
    plan: str | None = Field(None, max_length=64, description="must be the token's plan")
    person: str | None = Field(None, max_length=64, description="must be the token's person")


class CheckinAnswer(BaseModel):
    plan: str
    person: str
    window: str
    state: Literal["answered", "late"]
    outcome: Literal["recorded", "updated", "unchanged"]
    status: Status
    done: list[str]
    warnings: int


def record(
    engine: Engine,
    holder: Holder,
    status: str | None,
    note: str,
    answers: list[str],
    done: list[str],
    claims: tuple[str | None, str | None],
    source: str,
) -> CheckinResult:
    """The shared path of the form and the API; refusals say why."""
    plan, person, lang = holder.plan, holder.person, holder.lang
    if claims[0] is not None and claims[0] != plan.id:
        raise Refused(403, "other_plan", lang)
    if claims[1] is not None and claims[1] != person.id:
        raise Refused(403, "other_person", lang)
    if status not in STATUSES:
        raise Refused(400, "bad_status", lang)
    own = {m.id for m in plan.milestones if m.owner == person.id}
    if any(milestone not in own for milestone in done):
        raise Refused(400, "bad_milestone", lang)
    questions = plan.checkins.questions if plan.checkins else []
    pairs = [(q, a.strip()) for q, a in zip(questions, answers, strict=False) if a.strip()]
    try:
        with one_writer(engine):
            return record_checkin(
                engine,
                plan,
                person.id,
                clock.now(),
                status,
                note,
                done,
                source,
                pairs,
                window=holder.window,
            )
    except PlanClosed:
        raise Refused(409, "closed", lang) from None
    except CheckinError:
        raise Refused(409, "no_window", lang) from None


_WRITER = threading.Lock()


def one_writer(engine: Engine) -> AbstractContextManager[object]:
    """SQLite takes one writer at a time. The app's threads queue here for it; left to
    SQLite they would wait in its busy handler, which sleeps up to 100 ms a try and
    starves some requests for seconds under load. Redis needs no such queue."""
    return _WRITER if engine.settings.embedded else nullcontext()


def form(
    engine: Engine,
    holder: Holder,
    token: str,
    chosen: str | None,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    plan, person, lang = holder.plan, holder.person, holder.lang
    now = clock.now()
    if closed_at(engine, plan.id) is not None:
        raise Refused(409, "closed", lang)
    slot = rhythm(plan).slot(person.id, holder.window)
    if slot is None or slot.opens > now:
        raise Refused(409, "no_window", lang)
    zone = plan.zone_of(person)
    row = engine.store.get_record(collection(plan.id), row_id(person.id, slot.day)) or {}
    answered = row.get("state") in ("answered", "late")
    previous = dict(row.get("answers") or [])
    done = engine.store.records(done_collection(plan.id))
    return page(
        "checkin",
        lang,
        status,
        plan=plan,
        person=person,
        token=token,
        window=datetime.fromtimestamp(slot.opens, zone),
        closes=datetime.fromtimestamp(slot.closes, zone),
        is_open=now < slot.closes,
        answered=datetime.fromtimestamp(float(row["answered_at"]), zone) if answered else None,
        current=row.get("status") if answered else None,
        chosen=chosen if chosen in STATUSES else row.get("status"),
        statuses=STATUSES,
        questions=[
            (q, previous.get(q, "")) for q in (plan.checkins.questions if plan.checkins else [])
        ],
        note=row.get("note") or "",
        milestones=open_milestones(plan, person, done),
        problem=reason(problem, lang) if problem else None,
        limit=NOTE_LIMIT,
    )


@router.get(
    "/checkin/{token}",
    response_class=HTMLResponse,
    responses=HTML_ERRORS,
    summary="The check-in form (a one-click link preselects ?status=)",
)
def show_form(request: Request, token: str, status: str | None = None) -> HTMLResponse:
    engine = engine_of(request)
    holder = checkin_holder(engine, token, clock.now())
    return form(engine, holder, token, status)


@router.post(
    "/checkin/{token}",
    response_class=HTMLResponse,
    responses=HTML_ERRORS,
    summary="Record the answer of the check-in form",
)
def submit_form(
    request: Request,
    token: str,
    status: Annotated[str | None, Form()] = None,
    note: Annotated[str, Form()] = "",
    answer: Annotated[list[str] | None, Form()] = None,
    done: Annotated[list[str] | None, Form()] = None,
    plan: Annotated[str | None, Form()] = None,
    person: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    engine = engine_of(request)
    holder = checkin_holder(engine, token, clock.now())
    try:
        result = record(
            engine, holder, status, note, answer or [], done or [], (plan, person), "web"
        )
    except Refused as refused:
        if refused.status != 400:
            raise
        return form(engine, holder, token, status, refused.code, 400)
    return page(
        "thanks",
        holder.lang,
        plan=holder.plan,
        person=holder.person,
        result=result,
        token=token,
        window=datetime.fromisoformat(result.window),
        done=[holder.plan.milestone(m).title for m in result.done],
    )


@router.post(
    "/api/checkins",
    response_model=CheckinAnswer,
    responses=JSON_ERRORS,
    summary="Record a check-in with the token of a check-in link",
)
async def api_checkin(request: Request, body: CheckinRequest) -> CheckinAnswer:
    # The store work runs on the app's one store thread: a check-in costs a fraction of a
    # millisecond, and one thread serves them faster than forty taking turns with the GIL,
    # while a slow store (Redis restarting) never blocks the event loop and /health.
    return await run_on_store_thread(request, lambda: _api_checkin(request, body))


def _api_checkin(request: Request, body: CheckinRequest) -> CheckinAnswer:
    engine = engine_of(request)
    holder = checkin_holder(engine, body.token, clock.now())
    result = record(
        engine,
        holder,
        body.status,
        body.note,
        body.answers,
        body.done,
        (body.plan, body.person),
        "api",
    )
    return CheckinAnswer.model_validate(
        {
            "plan": holder.plan.id,
            "person": result.person,
            "window": result.window,
            "state": result.state,
            "outcome": result.outcome,
            "status": result.status,
            "done": list(result.done),
            "warnings": result.warnings,
        }
    )
