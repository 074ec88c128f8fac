"""Rendering what people read, in Dutch or English.

Templates live in ``templates/<lang>/``, one file per text, so a translator
reads whole sentences. Markdown templates are rendered to HTML by ``to_html``
(markdown-it with raw HTML off, so plan text can never inject markup); HTML
templates are autoescaped. Dates are written by Babel, the way a Dutch or
English reader expects ("maandag 11 januari 2027 om 10:00" /
"Monday 11 January 2027 at 10:00").

The messages (``markdown_environment``) escape at render time, as HTML templates
do: every ``{{ value }}`` in a message's body is shown as text, never as a link,
image, autolink, emphasis or heading, whoever prepared it, so a name such as
``Leo <https://phish.example>`` or a title with ``![x](https://tracker/p.gif)``
stays words in the e-mail's HTML and in the chat text. The markup of a message
is the template's own. Values already escaped with ``worker.runbook.md`` are left
as they are (the escaping does not double), and the subject, which is plain text
(an e-mail header, a chat title), gets every value unescaped.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

LANGUAGES = ("nl", "en")
TEMPLATES = Path(__file__).parent / "templates"
_LOCALES = {"nl": "nl_NL", "en": "en_GB"}


def locale(lang: str) -> str:
    return _LOCALES.get(lang, "en_GB")


def format_day(value: date | datetime, lang: str, fmt: str = "full") -> str:
    """``maandag 11 januari 2027`` / ``Monday, 11 January 2027``; ``fmt`` is Babel's."""
    from babel.dates import format_date

    day = value.date() if isinstance(value, datetime) else value
    return str(format_date(day, format=fmt, locale=locale(lang)))


def format_clock(value: time | datetime, lang: str) -> str:
    """``10:00`` in both languages (24-hour clock, as the plans are written)."""
    return f"{value.hour:02d}:{value.minute:02d}"


def format_moment(value: datetime, lang: str, zone: str | None = None) -> str:
    """A date and time in ``zone`` (default: the value's own), with the zone's abbreviation."""
    from babel.dates import format_datetime

    if value.tzinfo is None:
        raise ValueError("format_moment needs a zone-aware datetime")
    moment = value.astimezone(ZoneInfo(zone)) if zone else value
    pattern = "EEEE d MMMM y 'om' HH:mm" if lang == "nl" else "EEEE d MMMM y 'at' HH:mm"
    text = str(format_datetime(moment, pattern, locale=locale(lang)))
    abbreviation = moment.tzname()
    return f"{text} ({abbreviation})" if abbreviation else text


@cache
def environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Text and Markdown templates are not HTML; every .html.j2 is escaped.
        autoescape=autoescape,  # noqa: S701
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["day"] = lambda value, lang, fmt="full": format_day(value, lang, fmt)
    env.filters["clock"] = format_clock
    env.filters["moment"] = format_moment
    return env


# A backslash escape CommonMark knows (before any ASCII punctuation), a character
# that starts inline markup (the ones worker.runbook.md escapes), or an entity's &.
_INLINE = re.compile(r"\\[!-/:-@\[-`{-~]|[\\`*_\[\]<|]|&(?=#?[0-9A-Za-z]+;)")
_BLOCK_MARK = re.compile(r"^([#>+=~-])")
_LIST_NUMBER = re.compile(r"^(\d+)([.)])")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
PLAIN_TEXT = "_plain_text"  # in a template's context: render values as plain text


def markdown_text(text: str) -> str:
    """Text as Markdown that shows exactly that text, on one line: ``md`` that never doubles.

    An escape already there (``\\*``, from ``worker.runbook.md``) is kept, every other
    character that could start markup is escaped, and so is a mark that would start a
    heading, quote or list if the value began a line. Whitespace runs become one space.
    """
    flat = " ".join(text.split())
    escaped = _INLINE.sub(lambda found: found[0] if len(found[0]) == 2 else "\\" + found[0], flat)
    escaped = _LIST_NUMBER.sub(r"\1\\\2", escaped)
    return _BLOCK_MARK.sub(r"\\\1", escaped)


def plain_text(text: str) -> str:
    """Markdown-escaped text back as it was written (for a subject line)."""
    return _ESCAPE.sub(r"\1", text)


@jinja2.pass_context
def _as_text(context: jinja2.runtime.Context, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return plain_text(value) if context.get(PLAIN_TEXT) else markdown_text(value)


@cache
def markdown_environment() -> jinja2.Environment:
    """The environment of the messages' Markdown templates: every value shown as text."""
    env = environment(False).overlay(finalize=_as_text)
    return env


def render(name: str, lang: str, **context: Any) -> str:
    """Render ``templates/<lang>/<name>``; ``.html`` templates are autoescaped."""
    if lang not in LANGUAGES:
        raise ValueError(f"no templates for language '{lang}'")
    env = environment(name.endswith(".html.j2"))
    return env.get_template(f"{lang}/{name}").render(lang=lang, **context)


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def to_html(markdown: str) -> str:
    """Markdown to an HTML fragment; raw HTML in the source is shown as text."""
    return str(_markdown().render(markdown))
