"""The privacy notice of a plan, behind its secret link: ``GET /privacy/{plan}/{token}``.

Every message ends with this link (``worker.links.privacy_link``, token purpose
``privacy``), and so does the runbook. The notice is generated from the plan as it
stands (``worker.kickoff.privacy``): who is responsible and whom to ask, what is kept
and why, until when, who sees it, consent for SMS and WhatsApp, and how to ask for a
copy or erasure. It is in the plan's language, not the browser's: the notice belongs to
the plan. A forged or altered link, one made for another plan or a plan not kept here
gets the same clear refusal page as every other link (in the browser's language), and
so does a link a while after the plan's data was erased (``LINK_DAYS_AFTER``).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from web.access import engine_of, field, load_plan, verify
from web.pages import Refused, language, page, refusal
from worker import clock
from worker.kickoff.privacy import link_ends, notice
from worker.plans.closed import closed_at

router = APIRouter()


@router.get("/privacy/{plan_id}/{token}", include_in_schema=False)
def privacy(plan_id: str, token: str, request: Request) -> Response:
    """The plan's privacy notice: what is kept about its people, why, how long, who sees it."""
    engine = engine_of(request)
    now = clock.now()
    try:
        grant = verify(engine, token, "privacy", now)
        if field(grant, "p") != plan_id:
            raise Refused(403, "other_plan")
        plan = load_plan(engine, plan_id)
        closed = closed_at(engine, plan.id)  # an early close brings the erasure forward
        if now >= link_ends(engine.settings, plan, closed).timestamp():
            raise Refused(403, "expired")
    except Refused as error:
        return refusal(error, language(request.headers.get("accept-language")))
    facts = notice(engine.settings, plan, closed)
    today = datetime.fromtimestamp(now, plan.zone).date()
    return page("privacy", plan.language, notice=facts, erased=today >= facts.erased_on)
