"""Rendering what people read, in Dutch or English: one template per text, gettext catalogs.

Each message, page and document is ONE template in ``templates/<name>`` with English
msgids (``{% trans trimmed %}`` per paragraph, ``{% pluralize %}`` for counts,
``pgettext`` where one English word has two meanings). The words of each language
come from the catalog ``locale/<lang>/LC_MESSAGES/pactkeeper.po`` (made and kept up
to date with Babel: ``babel.cfg``, ``pybabel extract/update/compile``, see
docs/translations.md). A language is one catalog plus its name in ``LANGUAGES``.

Contract:

- ``render(name, lang, **context)`` renders ``templates/<name>`` in ``lang``; a
  language without a catalog is a ``ValueError`` that names it. ``.html`` templates
  are autoescaped.
- ``gettext_in``, ``pgettext_in``, ``ngettext_in`` (``lang`` first) translate Python
  strings; ``N_`` marks a module-level string for extraction, translated when used.
- Catalogs are read once per process: the compiled ``.mo`` (built at install by
  ``setup.py``) when it is newer than its ``.po``, else the ``.po`` itself, compiled in
  memory, so a checkout run with ``PYTHONPATH`` needs no build step.
- Jinja environments and compiled templates are cached per language; a ``{% trans %}``
  block is translated when its template compiles (``CompiledTranslations``).

Markdown templates are rendered to HTML by ``to_html`` (markdown-it with raw HTML
off, so plan text can never inject markup); HTML templates are autoescaped. Dates
are written by Babel, the way a Dutch or English reader expects ("maandag 11
januari 2027 om 10:00" / "Monday 11 January 2027 at 10:00").

The messages (``markdown_environment``) escape at render time, as HTML templates
do: every ``{{ value }}`` in a message's body, inside a ``{% trans %}`` block or not,
is shown as text, never as a link, image, autolink, emphasis or heading, whoever
prepared it, so a name such as ``Leo <https://phish.example>`` or a title with
``![x](https://tracker/p.gif)`` stays words in the e-mail's HTML and in the chat
text. The markup of a message is the template's own (and the catalog's). Markdown
made on purpose is a ``Prepared`` string (what ``worker.messages.words.md`` and the
link and code helpers return): it is left as it is, and every other string is
escaped fully, backslashes included, so nothing is guessed from a value's looks.
The subject, which is plain text (an e-mail header, a chat title), shows plain
strings as written and ``Prepared`` ones unescaped (``plain_text``, the connectors'
own function).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

import jinja2
import jinja2.ext
import jinja2.nodes
from babel.support import Translations

# The one list of languages (config/plan.py), each with locale/<lang>/.../pactkeeper.po.
from config.plan import LANGUAGES as LANGUAGES
from connectors import markup
from connectors.markup import plain_text as _connector_plain_text

TEMPLATES = Path(__file__).parent / "templates"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "pactkeeper"
_LOCALES = {"nl": "nl_NL", "en": "en_GB"}
T = TypeVar("T")


def locale(lang: str) -> str:
    return _LOCALES.get(lang, "en_GB")


# -- catalogs ---------------------------------------------------------------------------


def catalog_path(lang: str) -> Path:
    """Where the ``.po`` of ``lang`` lives (its ``.mo`` sits next to it)."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _check_language(lang: str) -> None:
    if lang not in LANGUAGES:
        known = ", ".join(LANGUAGES)
        raise ValueError(f"no templates for language '{lang}' (pactkeeper speaks {known})")


@cache
def translations(lang: str) -> Translations:
    """The catalog of ``lang``, read once per process (see the module's contract)."""
    _check_language(lang)
    po = catalog_path(lang)
    mo = po.with_suffix(".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as compiled:
            return Translations(compiled, domain=DOMAIN)
    if not po.exists():
        raise ValueError(f"language '{lang}' has no catalog at {po}")
    return _compile(po, lang)


def _compile(po: Path, lang: str) -> Translations:
    # A checkout (PYTHONPATH, an editable install) has no .mo: compile in memory.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is used."""
    return message


def NP_(context: str, message: str) -> str:
    """Mark ``message`` for extraction in ``context``; translated where it is used.

    A module's word table gives each entry the table's context (``"runbook"``,
    ``"calendar event"``, ...), so one English word can have a different Dutch word in
    another table without the catalog having to choose (docs/glossary.md lists them).
    """
    return message


def translated(lang: str, context: str, value: T) -> T:
    """``value`` (a string, or dicts, tuples and frozen dataclasses of them) in ``lang``.

    Every string in it is looked up with ``pgettext_in(lang, context, ...)``; dict keys and
    the first item of a pair in a tuple of pairs (a key, as in a legend) stay as they are.
    """
    result: Any
    if isinstance(value, str):
        result = pgettext_in(lang, context, value)
    elif isinstance(value, dict):
        result = {key: translated(lang, context, item) for key, item in value.items()}
    elif isinstance(value, tuple):
        result = tuple(_pair_or_item(lang, context, item) for item in value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            field.name: translated(lang, context, getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
        result = dataclasses.replace(value, **changes)
    else:
        result = value
    return cast(T, result)


def _pair_or_item(lang: str, context: str, item: Any) -> Any:
    # (key, word) pairs keep their key: only the word is text a person reads.
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        return (item[0], translated(lang, context, item[1]))
    return translated(lang, context, item)


class ByLanguage(Mapping[str, T]):
    """``table[lang]``: an English word table (marked with ``NP_``) translated into ``lang``.

    Each language's copy is made once per process; a language without a catalog is the
    ``ValueError`` of ``translations``.
    """

    def __init__(self, context: str, english: T) -> None:
        self.context = context
        self.english = english
        self._made: dict[str, T] = {}

    def __getitem__(self, lang: str) -> T:
        if lang not in self._made:
            self._made[lang] = translated(lang, self.context, self.english)
        return self._made[lang]

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


def gettext_in(lang: str, message: str) -> str:
    return str(translations(lang).gettext(message))


def pgettext_in(lang: str, context: str, message: str) -> str:
    """``message`` in ``lang`` where ``context`` says which of its meanings is meant."""
    return str(translations(lang).pgettext(context, message))


def ngettext_in(lang: str, singular: str, plural: str, count: int) -> str:
    return str(translations(lang).ngettext(singular, plural, count))


# -- dates ------------------------------------------------------------------------------


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
    # A Babel (CLDR) pattern: the catalog gives each language its own word for "at".
    pattern = pgettext_in(lang, "Babel date pattern", "EEEE d MMMM y 'at' HH:mm")
    text = str(format_datetime(moment, pattern, locale=locale(lang)))
    abbreviation = moment.tzname()
    return f"{text} ({abbreviation})" if abbreviation else text


# -- environments -----------------------------------------------------------------------


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


class CompiledTranslations(jinja2.ext.InternationalizationExtension):
    """``jinja2.ext.i18n`` that translates a ``{% trans %}`` block when the template compiles.

    Each environment has one language (``env.pactkeeper_catalog``), so the catalog's sentence
    becomes template text and its ``%(name)s`` the value's own output node: values are then
    escaped exactly as a plain ``{{ value }}`` is (autoescape, the messages' ``finalize``), and
    rendering costs what it did with one template per language. Plural blocks, ``_()`` and
    ``pgettext()`` calls stay run-time gettext (``install_translations``).
    """

    def _make_node(
        self,
        singular: str,
        plural: str | None,
        context: str | None,
        variables: dict[str, jinja2.nodes.Expr],
        plural_expr: jinja2.nodes.Expr | None,
        vars_referenced: bool,
        num_called_num: bool,
    ) -> jinja2.nodes.Output:
        catalog: Translations | None = getattr(self.environment, "pactkeeper_catalog", None)
        if catalog is None or plural_expr is not None:
            return super()._make_node(
                singular, plural, context, variables, plural_expr, vars_referenced, num_called_num
            )
        text = catalog.pgettext(context, singular) if context else catalog.gettext(singular)
        return jinja2.nodes.Output(_output_nodes(str(text), variables))


def _output_nodes(text: str, variables: dict[str, jinja2.nodes.Expr]) -> list[jinja2.nodes.Node]:
    found: list[jinja2.nodes.Node] = []
    start = 0
    for placeholder in _PLACEHOLDER.finditer(text):
        literal = text[start : placeholder.start()] + ("%" if placeholder[0] == "%%" else "")
        if literal:
            found.append(jinja2.nodes.TemplateData(literal))
        if placeholder[1]:
            name = placeholder[1]
            found.append(variables[name] if name in variables else jinja2.nodes.Name(name, "load"))
        start = placeholder.end()
    if text[start:]:
        found.append(jinja2.nodes.TemplateData(text[start:]))
    return found


def _base_environment(autoescape: bool, **options: Any) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Text and Markdown templates are not HTML; every .html.j2 is escaped.
        autoescape=autoescape,  # noqa: S701
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates are package data: checking their mtime on every render costs time.
        auto_reload=False,
        extensions=[CompiledTranslations],
        **options,
    )
    add_filters(env)
    return env


def add_filters(env: jinja2.Environment) -> None:
    """The date filters every template uses (``day``, ``clock``, ``moment``)."""
    env.filters["day"] = lambda value, lang, fmt="full": format_day(value, lang, fmt)
    env.filters["clock"] = format_clock
    env.filters["moment"] = format_moment


def install_translations(env: jinja2.Environment, lang: str) -> None:
    """Newstyle gettext of ``lang`` in ``env`` (``{% trans %}``, ``_``, ``pgettext``)."""
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.pactkeeper_catalog = translations(lang)  # type: ignore[attr-defined]


@cache
def environment(lang: str, autoescape: bool) -> jinja2.Environment:
    """The environment of ``lang``'s text (``autoescape=False``) or HTML templates."""
    _check_language(lang)
    env = _base_environment(autoescape)
    install_translations(env, lang)
    return env


PLAIN_TEXT = "_plain_text"  # in a template's context: render values as plain text


class Prepared(str):
    """Markdown made on purpose: escaped plan text (``md``) or a helper's link or code span.

    As ``markupsafe.Markup`` is for HTML: a message template shows a ``Prepared`` value as it
    is, and escapes every other string fully, so nothing is guessed from what a value looks
    like (a plan's own ``C:\\temp \\*x\\*`` keeps its backslashes).
    """

    __slots__ = ()


def markdown_text(text: str) -> Prepared:
    """Text as Markdown that shows exactly that text, on one line.

    Every character that could start markup is escaped (a backslash too), and so is a mark
    that would start a heading, quote or list if the value began a line (unless ``inline``
    is asked for by ``escape``). Whitespace runs become one space. A ``Prepared`` value is
    already Markdown and comes back as it is.
    """
    if isinstance(text, Prepared):
        return text
    return _escaped(str(text), False)


def escape(text: str, inline: bool = False) -> Prepared:
    """``markdown_text``; ``inline``: the value never starts a line, block marks stay."""
    if isinstance(text, Prepared):
        return text
    return _escaped(str(text), inline)


# Plan text repeats (names, titles, dates in every message): escaping it once is enough.
@lru_cache(maxsize=4096)
def _escaped(text: str, inline: bool) -> Prepared:
    return Prepared(markup.markdown_text(text, inline))


@lru_cache(maxsize=4096)
def plain_text(text: str) -> str:
    """Markdown-escaped text back as it was written (for a subject line).

    The same function as ``connectors.markup.plain_text``, cached here for plan text.
    """
    return _connector_plain_text(text)


class _Translated(str):
    """A translated sentence with its values already shown as text: not escaped again."""

    __slots__ = ()


def _shown(context: jinja2.runtime.Context, value: Any) -> Any:
    # A subject is plain text: Markdown made on purpose is unescaped, plan text stays as
    # written. A body is Markdown: plan text is escaped, Markdown made on purpose kept.
    if not isinstance(value, str) or isinstance(value, _Translated):
        return value
    if context.get(PLAIN_TEXT):
        return plain_text(value) if isinstance(value, Prepared) else value
    return markdown_text(value)


_as_text = jinja2.pass_context(_shown)


def _escaping(translate: Callable[..., str], plural: bool = False) -> Callable[..., str]:
    # The catalog's sentence is template markup; only the values in it are plan text.
    # Jinja calls a plural with the count last among the strings and expects it as %(num)s.
    @jinja2.pass_context
    def translated(context: jinja2.runtime.Context, *args: Any, **variables: Any) -> str:
        if plural:
            variables.setdefault("num", args[-1])
        shown = {name: _shown(context, value) for name, value in variables.items()}
        return _Translated(translate(*args) % shown)

    return translated


def _install_escaping(env: jinja2.Environment, lang: str) -> None:
    catalog = translations(lang)

    def single(message: str) -> str:
        return str(catalog.gettext(message))

    def in_context(context: str, message: str) -> str:
        return str(catalog.pgettext(context, message))

    def counted(singular: str, plural: str, num: int) -> str:
        return str(catalog.ngettext(singular, plural, num))

    def counted_in_context(context: str, singular: str, plural: str, num: int) -> str:
        return str(catalog.npgettext(context, singular, plural, num))

    env.globals.update(
        gettext=_escaping(single),
        pgettext=_escaping(in_context),
        ngettext=_escaping(counted, plural=True),
        npgettext=_escaping(counted_in_context, plural=True),
    )


@cache
def markdown_environment(lang: str = "en") -> jinja2.Environment:
    """The environment of ``lang``'s message templates: every value shown as text."""
    _check_language(lang)
    env = _base_environment(False, finalize=_as_text)
    install_translations(env, lang)
    _install_escaping(env, lang)
    return env


def render(name: str, lang: str, **context: Any) -> str:
    """Render ``templates/<name>`` in ``lang``; ``.html`` templates are autoescaped."""
    loaded, template_globals = _template(name, lang)
    values = {**template_globals, "lang": lang, **context}
    try:
        return "".join(loaded.root_render_func(loaded.new_context(values, shared=True)))
    except Exception:
        # Jinja's own traceback rewriting, as Template.render does it.
        return str(loaded.environment.handle_exception())


@cache
def _template(name: str, lang: str) -> tuple[jinja2.Template, dict[str, Any]]:
    loaded = environment(lang, name.endswith(".html.j2")).get_template(name)
    return loaded, dict(loaded.globals)


def render_block(template: str, lang: str, block: str, plain: bool, context: dict[str, Any]) -> str:
    """One block (``subject``, ``body``) of the message ``templates/<template>.md.j2``.

    ``plain``: values as plain text (a subject); else as escaped Markdown (a body).
    """
    loaded, template_globals = _message_template(template, lang)
    values = {**template_globals, "lang": lang, **context, PLAIN_TEXT: plain}
    # shared: the values are the whole context (globals included, merged once per template),
    # which spares Jinja merging its globals into every new context.
    return "".join(loaded.blocks[block](loaded.new_context(values, shared=True)))


@cache
def _message_template(template: str, lang: str) -> tuple[jinja2.Template, dict[str, Any]]:
    loaded = markdown_environment(lang).get_template(f"{template}.md.j2")
    return loaded, dict(loaded.globals)


def render_parts(template: str, lang: str, **context: Any) -> tuple[str, str]:
    """The ``subject`` (one line of plain text) and ``body`` (Markdown) of a message."""
    subject = render_block(template, lang, "subject", True, context).strip()
    body = render_block(template, lang, "body", False, context).strip() + "\n"
    return " ".join(subject.split()), body


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def to_html(markdown: str) -> str:
    """Markdown to an HTML fragment; raw HTML in the source is shown as text."""
    return str(_markdown().render(markdown))
