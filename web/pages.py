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

# Why a link or a request was refused, as a code the pages and the API share.
REASONS = {
    "en": {
        "incomplete": "This link is incomplete.",
        "invalid": "This link is not valid.",
        "wrong_page": "This link is not meant for this page.",
        "expired": "This link has expired.",
        "other_plan": "This link belongs to another plan.",
        "other_person": "This link belongs to someone else.",
        "unknown_plan": "This link is for a plan that is not kept here.",
        "not_checking": "This link is not for anyone who checks in on this plan.",
        "bad_status": "Choose one of the four answers: on track, need help, blocked or stopping.",
        "bad_milestone": "One of the milestones you ticked is not one of yours.",
        "no_window": "There is no check-in window for you yet.",
        "window_gone": "The plan no longer has the check-in this link was for.",
        "closed": "This partnership has been closed: check-ins are no longer recorded.",
        "not_found": "There is no page at this address.",
        "bad_request": "This request could not be read.",
        "too_large": "This request is larger than any check-in can be.",
        "method": "This address does not take this kind of request.",
        "unavailable": "pactkeeper cannot read its data right now. Please try again later.",
    },
    "nl": {
        "incomplete": "Deze link is niet compleet.",
        "invalid": "Deze link is niet geldig.",
        "wrong_page": "Deze link is niet bedoeld voor deze pagina.",
        "expired": "Deze link is verlopen.",
        "other_plan": "Deze link hoort bij een ander plan.",
        "other_person": "Deze link is van iemand anders.",
        "unknown_plan": "Deze link hoort bij een plan dat hier niet (meer) wordt bijgehouden.",
        "not_checking": "Deze link is niet van iemand die bij dit plan incheckt.",
        "bad_status": "Kies een van de vier antwoorden: op schema, hulp nodig, vast of stoppen.",
        "bad_milestone": "Een van de aangevinkte mijlpalen is niet van jou.",
        "no_window": "Er is nog geen check-in voor je geopend.",
        "window_gone": "Het plan heeft de check-in van deze link niet meer.",
        "closed": "Deze samenwerking is afgesloten: check-ins worden niet meer bijgehouden.",
        "not_found": "Op dit adres staat geen pagina.",
        "bad_request": "Dit verzoek kon niet worden gelezen.",
        "too_large": "Dit verzoek is groter dan een check-in ooit kan zijn.",
        "method": "Dit adres accepteert dit soort verzoek niet.",
        "unavailable": "pactkeeper kan zijn gegevens nu niet lezen. Probeer het later nog eens.",
    },
}

TOKEN_REASONS = {
    "this link is incomplete": "incomplete",
    "this link is not valid": "invalid",
    "this link is not meant for this page": "wrong_page",
    "this link has expired": "expired",
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
    return REASONS[lang if lang in LANGUAGES else "en"].get(code, REASONS["en"]["bad_request"])


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
        extensions=["jinja2.ext.i18n"],
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
