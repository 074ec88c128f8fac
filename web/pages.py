"""Rendering pages and refusals, in the plan's language (Jinja2, autoescape on).

One template per page in ``web/templates/`` with English msgids in ``{% trans %}``
blocks; the words of each language come from the catalogs of ``worker.messages``
(docs/translations.md), around one layout (``base.html.j2``: inline CSS, no scripts,
no external resources). Every page goes out with headers that keep the secret
links in its URL private: no referrer, no caching, no indexing, no framing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from worker import messages
from worker.messages import N_

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = messages.LANGUAGES

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}

# Why a link or a request was refused, as a code the pages and the API share (English
# msgids, translated when used: the catalogs of worker.messages hold the other languages).
REASONS = {
    "incomplete": N_("This link is incomplete."),
    "invalid": N_("This link is not valid."),
    "wrong_page": N_("This link is not meant for this page."),
    "expired": N_("This link has expired."),
    "other_plan": N_("This link belongs to another plan."),
    "other_person": N_("This link belongs to someone else."),
    "unknown_plan": N_("This link is for a plan that is not kept here."),
    "not_checking": N_("This link is not for anyone who checks in on this plan."),
    "bad_status": N_("Choose one of the four answers: on track, need help, blocked or stopping."),
    "bad_milestone": N_("One of the milestones you ticked is not one of yours."),
    "no_window": N_("There is no check-in window for you yet."),
    "window_gone": N_("The plan no longer has the check-in this link was for."),
    "closed": N_("This partnership has been closed: check-ins are no longer recorded."),
    "bundle_expired": N_(
        "This handover bundle has expired: its copy was erased with the partnership's "
        "personal data. The partner already holds the bundle."
    ),
    "not_found": N_("There is no page at this address."),
    "bad_request": N_("This request could not be read."),
    "too_large": N_("This request is larger than any check-in can be."),
    "method": N_("This address does not take this kind of request."),
    "unavailable": N_("pactkeeper cannot read its data right now. Please try again later."),
}


class Refused(Exception):
    """A request answered with a clear refusal: an HTTP status and a reason code."""

    def __init__(self, status: int, code: str, lang: str | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.lang = lang


class Problem(BaseModel):
    """Every error answer of the JSON API."""

    error: str
    code: str
    message: str
    problems: list[str] = []


ERRORS = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    503: "unavailable",
}


def reason(code: str, lang: str) -> str:
    """Why a request was refused, in ``lang`` (English for a language pactkeeper lacks)."""
    chosen = lang if lang in LANGUAGES else "en"
    return messages.gettext_in(chosen, REASONS.get(code, REASONS["bad_request"]))


def problem(status: int, code: str, problems: list[str] | None = None) -> JSONResponse:
    body = Problem(
        error=ERRORS.get(status, "error"),
        code=code,
        message=reason(code, "en"),
        problems=problems or [],
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=SECURITY_HEADERS)


def language(accept: str | None) -> str:
    """Dutch when the browser prefers it to English, else English."""
    ranked = []
    for part in (accept or "").split(","):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((weight, tag.strip().lower()[:2]))
    for _, tag in sorted(ranked, key=lambda pair: -pair[0]):
        if tag in LANGUAGES:
            return tag
    return "en"


@cache
def environment(lang: str = "en") -> jinja2.Environment:
    """The pages' environment in ``lang``: autoescaped, with its catalog installed."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        extensions=[messages.CompiledTranslations],
    )
    messages.add_filters(env)
    messages.install_translations(env, lang)
    return env


def page(name: str, lang: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    chosen = lang if lang in LANGUAGES else "en"
    html = environment(chosen).get_template(f"{name}.html.j2").render(lang=chosen, **context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def refusal(error: Refused, lang: str) -> HTMLResponse:
    chosen = error.lang or lang
    return page(
        "refused",
        chosen,
        error.status,
        code=error.code,
        reason=reason(error.code, chosen),
        status=error.status,
    )
