"""The gettext catalogs: complete, up to date with the templates, true to the glossary.

The Dutch catalog has every entry translated, none fuzzy, every placeholder of the msgid in
the msgstr (Babel's ``Catalog.check``). A fresh ``pybabel extract`` over the templates and the
Python sources finds no msgid the catalogs lack. No word docs/glossary.md replaced is back.
Every language named in ``worker.messages.LANGUAGES`` has a catalog, and
docs/translations.md says how to add one. Also the API around the catalogs: the gettext
functions, the runtime compile of a ``.po`` without ``.mo``, the build hook, a greeting's
call name and the kickoff worded for its reader and channel.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations

from config.plan import Person, Plan
from config.schema import plan_schema
from tests.support import ROOT, minimal_data, plan_from
from worker import messages

LOCALE = ROOT / "worker" / "messages" / "locale"
TEMPLATE = LOCALE / "pactkeeper.pot"

# The keywords of the Python API (language first), as docs/translations.md passes them to
# pybabel with -k.
KEYWORDS: dict[str, Any] = {
    **DEFAULT_KEYWORDS,
    "N_": None,
    "NP_": ((1, "c"), 2),
    "gettext_in": (2,),
    "pgettext_in": ((2, "c"), 3),
    "ngettext_in": (2, 3),
}

# Mirrors docs/glossary.md: the Dutch words each concept no longer uses.
OLD_VARIANTS: dict[str, list[str]] = {
    "on_track (op schema)": [r"\bloopt goed\b"],
    "blocked (zit vast)": [r"\bvastgelopen\b", r"(?<!zit )(?<!zat )\bvast\b(?! aanspreekpunt)"],
    "stopping (moet stoppen)": [r"\bik stop\b", r"\bstopt\b"],
    "untracked (niet bijgehouden)": [r"\bniet gevolgd\b"],
    "excused (vrijgesteld)": [r"\bvrij\b(?!willig)", r"\bvrij \(pauze of afwezig\)"],
}


def catalog(lang: str) -> Catalog:
    with messages.catalog_path(lang).open("rb") as source:
        return read_po(source, locale=lang)


def ids(entries: Catalog) -> set[tuple[Any, str | None]]:
    return {(entry.id, entry.context) for entry in entries if entry.id}


def extracted() -> set[tuple[Any, str | None]]:
    """What ``pybabel extract -F babel.cfg`` finds today, as (msgid, context) pairs."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        found.add((message, context))
    return found


def strings(entry: Any) -> list[str]:
    return [entry.string] if isinstance(entry.string, str) else list(entry.string)


# -- the catalogs ------------------------------------------------------------------------


def test_every_dutch_entry_is_translated_and_none_is_fuzzy() -> None:
    dutch = catalog("nl")
    assert len(dutch) > 300, "the Dutch catalog is nearly empty"
    untranslated = [entry.id for entry in dutch if entry.id and not all(strings(entry))]
    fuzzy = [entry.id for entry in dutch if entry.id and entry.fuzzy]
    assert not untranslated, f"untranslated in nl.po: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy in nl.po: {fuzzy[:10]}"


@pytest.mark.parametrize("lang", messages.LANGUAGES)
def test_no_catalog_has_a_fuzzy_entry(lang: str) -> None:
    # A fuzzy entry is left out of the compiled catalog: its text would silently be English.
    assert not [entry.id for entry in catalog(lang) if entry.id and entry.fuzzy]


@pytest.mark.parametrize("lang", messages.LANGUAGES)
def test_placeholders_match_their_msgid(lang: str) -> None:
    problems = [
        (entry.id, [str(error) for error in errors]) for entry, errors in catalog(lang).check()
    ]
    assert not problems, problems


def test_the_catalogs_hold_every_msgid_the_templates_and_sources_have() -> None:
    found = extracted()
    assert ("Hello %(name)s,", None) in found, "the extraction found nothing known"
    with TEMPLATE.open("rb") as source:
        template = read_po(source)
    assert not found - ids(template), f"run pybabel extract: {sorted(found - ids(template))[:5]}"
    for lang in messages.LANGUAGES:
        missing = found - ids(catalog(lang))
        assert not missing, f"run pybabel update ({lang}): {sorted(missing)[:5]}"


@pytest.mark.parametrize("concept", OLD_VARIANTS)
def test_no_catalog_uses_a_word_the_glossary_replaced(concept: str) -> None:
    glossary = (ROOT / "docs" / "glossary.md").read_text()
    assert concept.split(" (")[1].rstrip(")") in glossary, "the glossary lost this word"
    for lang in messages.LANGUAGES:
        for entry in catalog(lang):
            for text in strings(entry):
                for pattern in OLD_VARIANTS[concept]:
                    assert not re.search(pattern, text, re.IGNORECASE), (concept, text)


# What a person reads is written in these: Python sources and templates of worker/ and web/.
# Not the reply reader's keyword table: it holds what people write ("ik stop ermee",
# "vastgelopen"), the words pactkeeper itself never uses.
READ_NOT_WRITTEN = ("worker/inbound/reading.py",)
SOURCES = [
    path
    for folder in ("worker", "web")
    for path in sorted((ROOT / folder).rglob("*"))
    if path.suffix in (".py", ".j2")
    and "locale" not in path.parts
    and path.relative_to(ROOT).as_posix() not in READ_NOT_WRITTEN
]

# A Dutch word table in Python: a "nl" key or a branch on the language. Locale codes for
# Babel ("nl": "nl_NL") are not words.
DUTCH_TABLE = re.compile(r"""["']nl["']\s*:(?!\s*["']nl_)|lang(?:uage)?\s*==\s*["']nl["']""")


def test_the_sources_were_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in SOURCES}
    assert {"worker/messages/words.py", "web/pages.py"} <= names


@pytest.mark.parametrize("concept", OLD_VARIANTS)
def test_no_source_or_template_uses_a_word_the_glossary_replaced(concept: str) -> None:
    found = [
        (path.relative_to(ROOT).as_posix(), line)
        for path in SOURCES
        for line in path.read_text().splitlines()
        for pattern in OLD_VARIANTS[concept]
        if re.search(pattern, line, re.IGNORECASE)
    ]
    assert not found, found


def test_no_python_word_table_per_language_is_left() -> None:
    found = [
        (path.relative_to(ROOT).as_posix(), line.strip())
        for path in SOURCES
        if path.suffix == ".py"
        for line in path.read_text().splitlines()
        if DUTCH_TABLE.search(line)
    ]
    assert not found, found


def test_the_dutch_table_pattern_finds_a_table_and_spares_a_locale_code() -> None:
    assert DUTCH_TABLE.search('WORDS = {"nl": NL, "en": EN}')
    assert DUTCH_TABLE.search('return "Overdracht" if lang == "nl" else "Handover"')
    assert not DUTCH_TABLE.search('_LOCALES = {"nl": "nl_NL", "en": "en_GB"}')


def test_a_word_table_is_translated_with_its_context() -> None:
    from worker.checkins.risk import level_words
    from worker.messages.words import WORDS, counted, day_ordinal

    assert WORDS["nl"].every_day == "elke dag" and WORDS["en"].every_day == "every day"
    assert (counted(1, "day", "nl"), counted(2, "day", "nl")) == ("1 dag", "2 dagen")
    assert (counted(1, "hour", "en"), counted(3, "hour", "en")) == ("1 hour", "3 hours")
    assert [day_ordinal(n, "en") for n in (1, 2, 3, 11, 22)] == [
        "1st",
        "2nd",
        "3rd",
        "11th",
        "22nd",
    ]
    assert day_ordinal(22, "nl") == "22"
    assert level_words("at_risk", "nl") == "verhoogd risico"


def test_every_language_has_a_catalog_and_the_docs_say_how_to_add_one() -> None:
    for lang in messages.LANGUAGES:
        assert messages.catalog_path(lang).is_file(), lang
    how = (ROOT / "docs" / "translations.md").read_text()
    assert "## Adding a language" in how
    assert "pybabel init" in how and "`LANGUAGES`" in how


def test_no_compiled_catalog_is_committed() -> None:
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "*.mo" in ignored


# -- the API -----------------------------------------------------------------------------


def test_python_strings_translate_with_their_context_and_count() -> None:
    assert messages.gettext_in("nl", "Page not found") == "Pagina niet gevonden"
    assert messages.gettext_in("en", "Page not found") == "Page not found"
    assert messages.pgettext_in("nl", "check-in status", "blocked") == "zit vast"
    assert messages.pgettext_in("nl", "check-in answer, quoted", "blocked") == "ik zit vast"
    one = "Of the %(total)s milestones, %(count)s is done"
    many = "Of the %(total)s milestones, %(count)s are done"
    assert messages.ngettext_in("nl", one, many, 1).startswith("Van de %(total)s mijlpalen is er")
    assert messages.ngettext_in("nl", one, many, 3).startswith("Van de %(total)s mijlpalen zijn")
    assert messages.N_("Page not found") == "Page not found"


def test_a_language_without_a_catalog_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no templates for language 'de'"):
        messages.render("runbook.md.j2", "de")
    with pytest.raises(ValueError, match="'de'"):
        messages.gettext_in("de", "Page not found")


def test_dates_use_each_languages_own_pattern() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    moment = datetime(2027, 1, 11, 10, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert messages.format_moment(moment, "nl") == "maandag 11 januari 2027 om 10:00 (CET)"
    assert messages.format_moment(moment, "en") == "Monday 11 January 2027 at 10:00 (CET)"


def test_a_po_without_an_up_to_date_mo_is_compiled_at_run_time(tmp_path: Path) -> None:
    po = messages.catalog_path("nl")
    compiled = messages._compile(po, "nl")
    assert compiled.gettext("Page not found") == "Pagina niet gevonden"
    # The build hook writes the .mo a wheel carries; it reads back the same.
    spec = importlib.util.spec_from_file_location("pactkeeper_setup", ROOT / "setup.py")
    assert spec and spec.loader
    setup_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup_module)
    folder = tmp_path / "locale" / "nl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "pactkeeper.po").write_bytes(po.read_bytes())
    setup_module.compile_catalogs(tmp_path / "locale")
    with (folder / "pactkeeper.mo").open("rb") as mo:
        built = Translations(mo, domain="pactkeeper")
    assert built.gettext("Page not found") == "Pagina niet gevonden"
    assert built.pgettext("check-in answer", "On track") == "Op schema"


def test_an_installed_package_reads_the_mo_it_was_built_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("pactkeeper_setup", ROOT / "setup.py")
    assert spec and spec.loader
    setup_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup_module)
    folder = tmp_path / "nl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "pactkeeper.po").write_bytes(messages.catalog_path("nl").read_bytes())
    setup_module.compile_catalogs(tmp_path, keep_sources=False)
    assert [path.name for path in folder.iterdir()] == ["pactkeeper.mo"]
    assert _dutch_from(tmp_path, monkeypatch) == "Pagina niet gevonden"


def _dutch_from(folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """ "Page not found" in Dutch, as the catalogs under ``folder`` give it."""
    monkeypatch.setattr(messages, "LOCALE_DIR", folder)
    messages.translations.cache_clear()
    try:
        return messages.translations("nl").gettext("Page not found")
    finally:
        messages.translations.cache_clear()


def test_an_older_mo_is_ignored_for_its_po(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "nl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "pactkeeper.po"
    po.write_bytes(messages.catalog_path("nl").read_bytes())
    (folder / "pactkeeper.mo").write_bytes(b"not a catalog")
    os.utime(folder / "pactkeeper.mo", (1, 1))
    assert _dutch_from(tmp_path, monkeypatch) == "Pagina niet gevonden"


# -- text made for each reader ------------------------------------------------------------


def people_plan(**ida: Any) -> Plan:
    data = minimal_data()
    data["language"] = "nl"
    person = {"id": "ida", "name": "Ida de Boer", "side": "team", "email": "ida@team.example"}
    data["people"].append({**person, **ida})
    return plan_from(data)


def test_a_greeting_uses_the_first_name_unless_the_plan_gives_a_call_name() -> None:
    plan = people_plan()
    ida = plan.person("ida")
    assert ida.called == "Ida"
    _subject, body = greeting(plan, ida)
    assert body.startswith("Hoi Ida,\n"), body
    named = people_plan(call_name="Idaatje")
    assert named.person("ida").called == "Idaatje"
    assert greeting(named, named.person("ida"))[1].startswith("Hoi Idaatje,\n")


def test_the_schema_shows_the_optional_call_name() -> None:
    schema = plan_schema()
    person = schema["$defs"]["Person"]
    assert "call_name" in person["properties"]
    assert "call_name" not in person.get("required", [])


def greeting(plan: Plan, person: Person) -> tuple[str, str]:
    return messages.render_parts(
        "cancel",
        plan.language,
        person=person,
        plan=plan,
        plan_title=plan.title,
        title="Overleg",
        when="maandag",
        removed=True,
        contact="Tim",
    )


def kickoff(plan: Plan, reader: str, **extra: Any) -> str:
    values = {
        "person": plan.person(reader),
        "plan": plan,
        "plan_title": plan.title,
        "partner": plan.partner.name,
        "team": plan.team.name,
        "end": "30 juni",
        "contact": "Pia (pia@partner.example)",
        "lead": "Tim (tim@team.example)",
        "checkins": None,
        "next_milestone": None,
        "calendar": True,
        **extra,
    }
    return messages.render_parts("kickoff", plan.language, **values)[1]


def test_a_chat_kickoff_claims_no_attachment_and_points_to_its_link() -> None:
    plan = people_plan()
    by_mail = kickoff(plan, "ida", channel="email")
    assert "In de bijlage staat het draaiboek" in by_mail
    on_chat = kickoff(plan, "ida", channel="slack")
    assert "bijlage" not in on_chat
    assert "staat achter de link hieronder" in on_chat  # the message's link: the runbook page
    # Without a channel (a caller that does not say) the e-mail wording stays.
    assert "In de bijlage staat het draaiboek" in kickoff(plan, "ida")


def test_the_contact_and_the_lead_are_not_pointed_to_themselves() -> None:
    plan = people_plan()
    for_contact = kickoff(plan, "pia", channel="email")
    assert "Je aanspreekpunt bij" not in for_contact
    assert "Jij bent het aanspreekpunt bij Partner" in for_contact
    assert "De teamleider bij Team: Tim" in for_contact
    for_lead = kickoff(plan, "tim", channel="email")
    assert "De teamleider bij" not in for_lead and "Jij bent de teamleider bij Team" in for_lead
    assert "Je aanspreekpunt bij Partner: Pia" in for_lead
    for_member = kickoff(plan, "ida", channel="email")
    assert "Je aanspreekpunt bij Partner: Pia" in for_member
    assert "De teamleider bij Team: Tim" in for_member


def test_a_value_inside_a_sentence_is_shown_as_text() -> None:
    plan = people_plan(call_name="[ok](https://evil.example)")
    _subject, body = greeting(plan, plan.person("ida"))
    assert "Hoi \\[ok\\](https://evil.example)," in body
    assert "<a" not in messages.to_html(body)
    plain, _ = messages.render_parts(
        "overdue",
        "nl",
        person=plan.person("ida"),
        plan=plan,
        plan_title="P [x](https://evil.example)",
        title="T*",
        done_since=True,
        due="maandag",
    )
    assert plain == "P [x](https://evil.example): “T*” is over de deadline"


def test_the_status_legend_gives_each_answer_its_own_colour() -> None:
    status = (ROOT / "web" / "templates" / "status.html.j2").read_text()
    base = (ROOT / "web" / "templates" / "base.html.j2").read_text()
    legend = next(line for line in status.splitlines() if 'class="legend' in line)
    colours = {}
    for name in ("answered", "need_help", "blocked", "stopping"):
        css = "w-answered" if name == "answered" else f"s-{name}"
        assert f'class="w w-answered{"" if name == "answered" else " " + css}"' in legend, name
        rule = re.search(r"\.(?:w\.)?" + css + r" \{[^}]*background: ([^;]+);", base)
        assert rule, css
        colours[name] = rule.group(1)
    assert len(set(colours.values())) == 4, colours
    # The cells carry the same class as their legend entry.
    assert "s-{{ w.status }}" in status


def test_plain_text_is_escaped_fully_and_prepared_markdown_is_left_alone() -> None:
    from worker.messages import Prepared, markdown_text, plain_text
    from worker.messages.words import md, place

    plan_text = r"C:\temp \*x\* [y](z)"
    escaped = markdown_text(plan_text)
    assert escaped == r"C:\\temp \\\*x\\\* \[y\](z)"
    assert plain_text(escaped) == plan_text  # the subject gets the words back
    assert isinstance(md(plan_text), Prepared) and markdown_text(md(plan_text)) == md(plan_text)
    assert markdown_text(place("https://meet.example/a")) == "<https://meet.example/a>"
    assert messages.to_html(escaped) == f"<p>{plan_text}</p>\n"  # shown as written
