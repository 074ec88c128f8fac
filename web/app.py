"""The web app: ``app = create_app()``, served by uvicorn (``pactkeeper run``, docker-compose).

One engine, and so one store connection pool, per process, built from Settings
(the same environment as the worker). Routes:

- ``GET/POST /checkin/{token}`` and ``POST /api/checkins`` (``web.checkin``);
- ``GET /status/{plan}/{token}`` and ``GET /api/status/{plan}/{token}`` (``web.status``);
- ``GET /runbook/{plan}/{token}`` (``web.runbook``) and ``GET /privacy/{plan}/{token}``, the
  privacy notice every message links to (``web.privacy``);
- ``GET /health``: 200 when the store answers, else 503.

Request bodies are capped before they are read (``web.limits``: 413 over about
1.4 MB, the largest valid check-in with every character escaped). Every refusal
is a clear page (HTML routes) or a ``Problem`` JSON body (``/api`` and
``/health``), never a traceback; nothing logs a token. The interactive docs
are off (they load JavaScript from a CDN); ``/openapi.json`` describes the API.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from config.errors import SettingsError
from config.settings import Settings
from web import bundles, checkin, feeds, inbound, privacy, runbook, status
from web.access import engine_of
from web.limits import BodyLimit
from web.pages import SECURITY_HEADERS, Refused, language, problem, refusal
from worker import clock, logfilter
from worker.datafolder import WrongClock
from worker.engine import Engine

log = logging.getLogger("pactkeeper.web")

HEALTH_TIMEOUT = 3.0
STORE_THREADS = 2  # on Redis; measured against 1, 4 and 8 with bench_checkin_endpoint


class Health(BaseModel):
    status: str
    store: str


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    clock.from_settings(settings.clock_offset)
    settings.signing_key  # noqa: B018 - the key before the store, which then never lacks it
    engine = Engine(settings)

    # Few threads for the check-in API's store work: many would only take turns with the
    # GIL (measured: one thread gives 2.6x the check-ins a second of the default pool on
    # SQLite). On Redis a check-in mostly waits for the server's fsync, so a few threads
    # overlap those waits.
    threads = 1 if settings.embedded else STORE_THREADS
    store_thread = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="store")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store_thread.shutdown(wait=True)
        engine.close()

    app = FastAPI(
        title="pactkeeper",
        version="1",
        summary="Check-ins and the status page of volunteering partnerships",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.store_thread = store_thread
    app.include_router(checkin.router)
    app.include_router(status.router)
    app.add_api_route(
        "/health",
        health,
        methods=["GET"],
        response_model=Health,
        responses={503: {"model": Health, "description": "The store does not answer"}},
        summary="200 when the store answers, 503 when it does not",
    )
    app.include_router(feeds.router)
    app.include_router(bundles.router)
    app.include_router(runbook.router)
    app.include_router(privacy.router)
    app.include_router(inbound.router)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(RequestValidationError, unreadable)
    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(BodyLimit)
    return app


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/health"


async def refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, Refused)
    if is_api(request):
        return problem(error.status, error.code)
    return refusal(error, language(request.headers.get("accept-language")))


async def unreadable(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = [f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()]
    if is_api(request):
        return problem(422, "bad_request", problems)
    return refusal(Refused(422, "bad_request"), language(request.headers.get("accept-language")))


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = {404: "not_found", 405: "method", 413: "too_large"}.get(error.status_code, "bad_request")
    response: Response
    if is_api(request) or request.url.path in ("/openapi.json",):
        response = problem(error.status_code, code)
    else:
        lang = language(request.headers.get("accept-language"))
        response = refusal(Refused(error.status_code, code), lang)
    if error.headers:
        response.headers.update(error.headers)
    return response


async def health(request: Request) -> Response:
    engine: Engine = engine_of(request)
    kind = "sqlite" if engine.settings.embedded else "redis"
    try:
        with anyio.fail_after(HEALTH_TIMEOUT):
            await anyio.to_thread.run_sync(engine.store.plan_ids, abandon_on_cancel=True)
    except Exception as error:  # any failure of the store is what /health reports
        log.warning("health: the %s store does not answer (%s)", kind, type(error).__name__)
        body = Health(status="unavailable", store=kind)
        return JSONResponse(body.model_dump(), status_code=503, headers=SECURITY_HEADERS)
    return JSONResponse(Health(status="ok", store=kind).model_dump(), headers=SECURITY_HEADERS)


def _app_or_exit() -> FastAPI:
    """uvicorn imports this module: a setting or a store it cannot use is one line, no traceback."""
    try:
        return create_app()
    except (SettingsError, WrongClock, sqlite3.DatabaseError) as error:
        raise SystemExit(f"pactkeeper web: {error}") from None


logfilter.install()  # uvicorn's lines and ours: no address or phone number (worker.logfilter)
app = _app_or_exit()
