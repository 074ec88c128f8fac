"""Who may see what: signed links (``worker.tokens``) checked the same way by every route.

A check-in link is bound to its plan, its person and its window (``w``): it
answers that window only, and nothing once the plan is closed.

A link is refused with 403 and a reason when it is forged, altered, expired,
meant for another page, or names a plan or person it does not belong to.
Only the signature makes a token's fields trustworthy, so nothing in a token is
looked at before it is verified.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar, cast

from fastapi import Request

from config.load import PlanError
from config.plan import Person, Plan
from web.pages import Refused
from worker import tokens
from worker.checkins.answers import CheckinError, checking_person
from worker.checkins.rhythm import rhythm
from worker.engine import Engine, PlanGone

log = logging.getLogger("pactkeeper.web")

MAX_TOKEN = 2048


def engine_of(request: Request) -> Engine:
    return cast(Engine, request.app.state.engine)


T = TypeVar("T")


async def run_on_store_thread(request: Request, work: Callable[[], T]) -> T:
    """Run quick store work on the app's single store thread (see ``web.app``)."""
    executor = cast(ThreadPoolExecutor, request.app.state.store_thread)
    return await asyncio.get_running_loop().run_in_executor(executor, work)


def verify(engine: Engine, token: str, purpose: str, now: float) -> tokens.Grant:
    if not token.isascii() or len(token) > MAX_TOKEN:
        raise Refused(403, "invalid")
    try:
        return tokens.verify(engine.settings.signing_key, token, purpose, now)
    except tokens.TokenError as error:
        raise Refused(403, error.reason) from None  # a code, never the message's wording


def field(grant: tokens.Grant, name: str) -> str:
    value = grant.fields.get(name)
    if not isinstance(value, str) or not value:
        raise Refused(403, "invalid")
    return value


_PLAN_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


def load_plan(engine: Engine, plan_id: str) -> Plan:
    """The plan, parsed once per revision even when many requests for it arrive at once.

    Without the per-plan lock every thread of the pool would parse a new revision
    (and expand its check-in rhythm) at the same time, and the first answers after
    a start or an edit would wait seconds for each other.
    """
    with _GUARD:
        lock = _PLAN_LOCKS.setdefault(plan_id, threading.Lock())
    try:
        with lock:
            plan = engine.plan(plan_id)
            rhythm(plan)
            return plan
    except PlanGone:
        raise Refused(403, "unknown_plan") from None
    except PlanError as error:
        log.error("the stored plan %s cannot be read: %s", plan_id, error)
        raise Refused(503, "unavailable") from None


@dataclass(frozen=True)
class Holder:
    """The person a check-in link belongs to, on their plan."""

    plan: Plan
    person: Person
    window: str  # the local day the link's window opens: answers go there, nowhere else

    @property
    def lang(self) -> str:
        return self.plan.language_of(self.person)


def checkin_holder(engine: Engine, token: str, now: float) -> Holder:
    grant = verify(engine, token, "checkin", now)
    plan_id, person_id, window = field(grant, "p"), field(grant, "u"), field(grant, "w")
    plan = load_plan(engine, plan_id)
    try:
        person = checking_person(plan, person_id)
    except CheckinError:
        raise Refused(403, "not_checking", plan.language) from None
    holder = Holder(plan, person, window)
    if rhythm(plan).slot(person.id, window) is None:
        raise Refused(409, "window_gone", holder.lang)
    return holder


def status_plan(engine: Engine, plan_id: str, token: str, now: float) -> Plan:
    grant = verify(engine, token, "status", now)
    if field(grant, "p") != plan_id:
        raise Refused(403, "other_plan")
    return load_plan(engine, plan_id)
