"""The runbook as a web page, behind its secret link: ``GET /runbook/{plan}/{token}``.

The kickoff on a chat channel cannot attach the runbook, so it carries this link
(``worker.links.runbook_link``, token purpose ``runbook``). The page is the same
standalone HTML the e-mail attaches, in the plan's language. A forged, altered or
expired link, or one made for another plan, gets the same clear refusal page as
every other link.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from web.access import engine_of, field, load_plan, verify
from web.pages import SECURITY_HEADERS, Refused, language, refusal
from worker import clock
from worker.kickoff.runbook import render_runbook

router = APIRouter()


@router.get("/runbook/{plan_id}/{token}", include_in_schema=False)
def runbook(plan_id: str, token: str, request: Request) -> Response:
    """The plan's runbook: contacts, channels, rhythm, milestones, agreements."""
    engine = engine_of(request)
    lang = language(request.headers.get("accept-language"))
    try:
        grant = verify(engine, token, "runbook", clock.now())
        if field(grant, "p") != plan_id:
            raise Refused(403, "other_plan")
        plan = load_plan(engine, plan_id)
    except Refused as error:
        return refusal(error, lang)
    # A page like every other: not cached, not framed, no script (the runbook has none).
    return HTMLResponse(render_runbook(plan, "html", engine.settings), headers=SECURITY_HEADERS)
