"""Subscribable calendar feeds: ``GET /feeds/{plan}/{token}.ics`` (docs/architecture.md §5).

One feed per plan and one per person, each behind its own secret token (signed,
purpose ``feed``, bound to the plan and the person; ``pactkeeper sync`` prints the
addresses). The feed is METHOD:PUBLISH from the one builder, with the SEQUENCEs
of the revision store and as DTSTAMP the moment an event of the plan last
changed, so its bytes, and its ETag (their digest), stay the same until
something in it changes: ``If-None-Match`` with that ETag answers 304.

Every refusal (a forged, altered or incomplete token, a token of another plan, a
plan not kept here) is the same 404 page, so an answer never tells which plans
exist; a token is checked before the store is asked anything. A person taken off
the plan gets a calendar without events (only the plan's VTIMEZONE, since RFC 5545
wants one component at least), so their subscription empties itself. Tokens do
not expire; changing ``PACTKEEPER_SECRET_KEY`` revokes every feed address.

The route is left out of ``/openapi.json``: calendar apps, not API clients, read it.
"""

from __future__ import annotations

import hashlib
import threading

from fastapi import APIRouter, Request
from fastapi.responses import Response

from config.load import PlanError
from config.plan import Plan
from connectors.calendar.ics import calendar_of
from web.access import MAX_TOKEN, engine_of
from web.pages import Refused, language, refusal
from worker import clock, tokens
from worker.calendar.feeds import feed_calendar, feed_stamp
from worker.engine import Engine, PlanGone

router = APIRouter()

CACHE_SIZE = 256
HEADERS = {
    "Cache-Control": "private, no-cache",  # calendar apps revalidate with If-None-Match
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}

# (plan, plan digest, person, stamp) -> (feed, ETag): a feed is built once per change.
_built: dict[tuple[str, str, str, float], tuple[bytes, str]] = {}
_guard = threading.Lock()


class NotHere(Exception):
    """Any reason not to serve a feed; all answered alike."""


def _feed_of(engine: Engine, plan_id: str, token: str) -> tuple[Plan, str]:
    """The plan and the person ("" for the whole plan) a valid token grants."""
    if not token.isascii() or len(token) > MAX_TOKEN:
        raise NotHere
    try:
        grant = tokens.verify(engine.settings.signing_key, token, "feed", clock.now())
        plan = engine.plan(plan_id) if grant.fields.get("p") == plan_id else None
    except (tokens.TokenError, PlanGone):
        raise NotHere from None
    person = grant.fields.get("u")
    if plan is None or not isinstance(person, str):
        raise NotHere
    return plan, person


def _build(engine: Engine, plan: Plan, person: str) -> tuple[bytes, str]:
    stamp = feed_stamp(engine, plan)
    key = (plan.id, engine.store.plan_digest(plan.id) or "", person, stamp)
    with _guard:
        found = _built.get(key)
    if found is not None:
        return found
    if person and person not in {someone.id for someone in plan.present()}:
        data: bytes = calendar_of(plan, [], "PUBLISH").to_ical()
    else:
        data = feed_calendar(engine, plan, person or None, stamp)
    built = (data, f'"{hashlib.sha256(data).hexdigest()[:32]}"')
    with _guard:
        if len(_built) >= CACHE_SIZE:
            _built.clear()
        _built[key] = built
    return built


def _matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2)."""
    if not header:
        return False
    tags = {part.strip().removeprefix("W/") for part in header.split(",")}
    return "*" in tags or etag in tags


@router.api_route("/feeds/{plan_id}/{token}.ics", methods=["GET", "HEAD"], include_in_schema=False)
def feed(plan_id: str, token: str, request: Request) -> Response:
    """The calendar feed of a plan or of one person (METHOD:PUBLISH)."""
    engine = engine_of(request)
    lang = language(request.headers.get("accept-language"))
    try:
        plan, person = _feed_of(engine, plan_id, token)
        data, etag = _build(engine, plan, person)
    except NotHere:
        return refusal(Refused(404, "not_found"), lang)
    except PlanError:
        return refusal(Refused(503, "unavailable"), lang)
    headers = {**HEADERS, "ETag": etag}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    name = f"{plan.id}-{person}.ics" if person else f"{plan.id}.ics"
    headers["Content-Disposition"] = f'inline; filename="{name}"'
    return Response(data, media_type="text/calendar; charset=utf-8", headers=headers)
