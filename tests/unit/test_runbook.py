"""The runbook (docs/architecture.md §8): both examples, both formats, both languages.

Every expected string is written out by hand from the example plans, so a test
fails when a contact, a date or a rule of the check-in ladder goes missing.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from config.load import load_plan
from config.notation import parse_duration, parse_reachable
from config.plan import Checkins, Plan
from tests.support import DUTCH, ENGLISH, ROOT, minimal_data, plan_from
from worker.kickoff.runbook import render_runbook
from worker.messages import to_html
from worker.messages.words import duration_words, md, reachable_words, rhythm_words


def example_data(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def in_language(path: Path, language: str) -> Plan:
    """An example plan, switched to the other language."""
    data = example_data(path)
    data["language"] = language
    return plan_from(data)


class Page(HTMLParser):
    """The parts of an HTML page the tests look at."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, list[str]] = {}
        self.rows: list[list[str]] = []
        self._open: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th") and self.rows:
            self.rows[-1].append("")
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        for tag in self._open:
            self.text.setdefault(tag, []).append(data)
        if self.rows and {"td", "th"} & set(self._open):
            self.rows[-1][-1] += data

    def names(self) -> list[str]:
        return [tag for tag, _ in self.tags]

    def all_text(self, tag: str) -> str:
        return "".join(self.text.get(tag, []))


# -- the Dutch example ----------------------------------------------------------------


@pytest.fixture(scope="module")
def dutch() -> str:
    return render_runbook(load_plan(DUTCH))


@pytest.mark.parametrize(
    "expected",
    [
        "# Draaiboek: Online aanmelden voor vrijwilligers",
        "Voedselbank Utrecht en Acme IT vrijwilligers (Acme) werken samen van "
        "maandag 11 januari 2027 tot en met vrijdag 30 april 2027.",
        "**Missie:** Voedsel verstrekken aan huishoudens die onder de armoedegrens leven.",
        "Armoede en voedselonzekerheid in de regio Utrecht.",
        "**Eindresultaat** (een blijvend resultaat): Een online aanmeldformulier",
        "- Minstens 20 aanmeldingen via het formulier in de eerste maand.",
        "**We beginnen klein:** Eerst alleen het formulier voor de uitgiftepunten",
        "**Wat nu ontbreekt:** tijd en vakkennis.",
        "- Wie beheert het formulier straks?",
        "- Roostersoftware",
    ],
)
def test_dutch_runbook_has_partners_goal_and_challenge(dutch: str, expected: str) -> None:
    assert expected in dutch


@pytest.mark.parametrize(
    "expected",
    [
        "Het vaste aanspreekpunt bij Voedselbank Utrecht is **Ana de Vries**.",
        "neem dan contact op met de vervanger, **Dirk Jansen**.",
        "De teamleider van Acme IT vrijwilligers is **Bram Bakker**.",
        "**Ana de Vries**, Coördinator vrijwilligers (vast aanspreekpunt)",
        "**Dirk Jansen**, Bestuurslid (vervanger van het aanspreekpunt en opvolger)",
        "- E-mail: <ana@voedselbank.example>",
        "- Telefoon: [+31612345678](tel:+31612345678)",
        "- Kanalen: eerst WhatsApp, dan e-mail",
        "- Kanalen: eerst Slack, dan sms, dan e-mail",
        "- Bereikbaar: maandag t/m donderdag van 09:00 tot 17:00",
        "- Bereikbaar: maandag t/m vrijdag van 19:00 tot 21:00; zaterdag van 10:00 tot 12:00",
        "- Bereikbaar: geen vaste tijden afgesproken",
        "- Eigen tijdzone: New York (America/New_York)",
        "- Afwezig van maandag 1 maart 2027 tot en met vrijdag 5 maart 2027",
    ],
)
def test_dutch_runbook_has_every_contact(dutch: str, expected: str) -> None:
    assert expected in dutch


def test_contacts_come_first_on_each_side_whatever_the_order_in_the_plan() -> None:
    data = example_data(DUTCH)
    data["people"].reverse()
    runbook = render_runbook(plan_from(data))
    people = ("Ana de Vries", "Dirk Jansen", "Bram Bakker", "Eva Mulder", "Chris Smit")
    order = [runbook.index(f"**{name}**,") for name in people]
    assert order == sorted(order)
    assert runbook.index("### Voedselbank Utrecht") < order[0] < runbook.index("### Acme IT")


@pytest.mark.parametrize(
    "expected",
    [
        "We hebben afgesproken dat je binnen **2 dagen** antwoordt",
        "Hoe vaak jullie contact hebben: elke week.",
        "Slack (#voedselbank)",
        "- Bel Ana niet op uitgiftedagen (vrijdag).",
        "`pactkeeper ics PLAN --for PERSOON`",
        "| Ana de Vries | `pactkeeper ics voedselbank.yaml --for ana` |",
        "| Eva Mulder | `pactkeeper ics voedselbank.yaml --for eva` |",
        "Die link komt uit de installatie",
    ],
)
def test_dutch_runbook_has_response_time_and_calendar(dutch: str, expected: str) -> None:
    assert expected in dutch


@pytest.mark.parametrize(
    "expected",
    [
        "| maandag 11 januari 2027 om 10:00 (CET) | Intakegesprek | "
        "Ana de Vries, Bram Bakker, Chris Smit en Eva Mulder |",
        "| uiterlijk maandag 15 februari 2027 | Ontwerp goedgekeurd | Eva Mulder |",
        "| uiterlijk donderdag 1 april 2027 | Formulier live | Chris Smit |",
        "| dinsdag 20 april 2027 om 19:30 (CEST) | Evaluatie met het bestuur |",
        "| woensdag 28 april 2027 om 14:00 (CEST) | Overdracht |",
        "- **Wanneer:** maandag 11 januari 2027 om 10:00 (CET), 90 minuten",
        "- Voor Eva Mulder is dat maandag 11 januari 2027 om 04:00 (EST)",
        "- **Waar:** Voedselbank, Vaartsche Rijn 1, Utrecht",
        "- **Waar:** <https://meet.example/voedselbank-evaluatie>",
        "- **Uiterlijk:** maandag 15 februari 2027",
        "- **Wat er dan klaar is:** Schetsen van het formulier en de bevestigingsmail.",
        "- **Goedgekeurd als:** Ana keurt het ontwerp goed.",
        "- **Herinneringen:** 1 week en 1 dag van tevoren, aan Eva Mulder, Bram Bakker en "
        "Ana de Vries",
        "- **Herinneringen:** 2 weken, 3 dagen en 1 dag van tevoren, aan Chris Smit en Bram Bakker",
        "- **Herinneringen:** 1 week, 1 dag en 2 uur van tevoren",
    ],
)
def test_dutch_runbook_has_the_milestones(dutch: str, expected: str) -> None:
    assert expected in dutch


def test_dutch_runbook_puts_the_milestones_in_time_order(dutch: str) -> None:
    titles = ("### Intakegesprek", "### Ontwerp goedgekeurd", "### Formulier live")
    positions = [dutch.index(title) for title in (*titles, "### Evaluatie met het bestuur")]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    "expected",
    [
        "- **Wanneer:** elke maandag om 09:00, je hebt 2 dagen om te antwoorden.",
        "- **De eerste check-in:** maandag 11 januari 2027",
        "- **Wie checkt in:** Bram Bakker, Chris Smit en Eva Mulder",
        "- Voor Eva Mulder is dat 09:00 in de eigen tijdzone: New York (America/New_York)",
        "- Wat heb je deze week gedaan?",
        "- maandag 22 februari 2027 tot en met vrijdag 26 februari 2027: Voorjaarsvakantie",
        "1. Na 1 gemiste check-in: een herinnering aan jou.\n",
        "2. Na 2 gemiste check-ins op rij: een waarschuwing aan jou en de teamleider "
        "(Bram Bakker).\n",
        "3. Na 3 gemiste check-ins op rij: een waarschuwing aan de teamleider (Bram Bakker) en "
        "het aanspreekpunt bij Voedselbank Utrecht (Ana de Vries). "
        "**Dit is de uitvalwaarschuwing:**",
    ],
)
def test_dutch_runbook_has_rhythm_and_ladder(dutch: str, expected: str) -> None:
    assert expected in dutch


def test_dutch_runbook_marks_only_the_last_step_as_the_dropout_warning(dutch: str) -> None:
    assert dutch.count("uitvalwaarschuwing:**") == 1
    before, _ = dutch.split("uitvalwaarschuwing:**", maxsplit=1)
    assert before.endswith(
        "Na 3 gemiste check-ins op rij: een waarschuwing aan de teamleider "
        "(Bram Bakker) en het aanspreekpunt bij Voedselbank Utrecht "
        "(Ana de Vries). **Dit is de "
    )


@pytest.mark.parametrize(
    "expected",
    [
        "1. Laat het zo snel mogelijk weten aan het aanspreekpunt, **Ana de Vries**, en aan de "
        "teamleider, **Bram Bakker**.",
        "Check dan in met de status **moet stoppen** (`stopping`). Dan gaat meteen de "
        "uitvalwaarschuwing naar de teamleider (Bram Bakker) en het aanspreekpunt",
        "Het tweede IT-team van Acme kan het beheer overnemen.",
        "De opvolger die de draad oppakt is **Dirk Jansen**.",
        "- De Voedselbank blijft eigenaar van alle gegevens van vrijwilligers.",
        "De overdracht is op **woensdag 28 april 2027 om 14:00 (CEST)** en duurt 2 uur. "
        "Erbij zijn: Ana de Vries, Dirk Jansen en Bram Bakker.",
        "- `docs/beheer.md`",
    ],
)
def test_dutch_runbook_has_continuity_agreements_and_handover(dutch: str, expected: str) -> None:
    assert expected in dutch


# -- the English example ----------------------------------------------------------------


@pytest.fixture(scope="module")
def english() -> str:
    return render_runbook(load_plan(ENGLISH))


@pytest.mark.parametrize(
    "expected",
    [
        "# Runbook: Reading buddies for year-4 pupils",
        "Read Together and Northbank volunteers (Northbank) are working together from "
        "Monday 1 March 2027 to Wednesday 30 June 2027.",
        "The main contact at Read Together is **Maya Patel**.",
        "If Maya Patel is not available, contact the deputy, **Tom Reid**.",
        "The team lead of Northbank volunteers is **Sam Okafor**.",
        "- E-mail: <maya@readtogether.example>",
        "- Phone: [+447700900123](tel:+447700900123)",
        "- Channels: e-mail first, then SMS",
        "- Channels: Microsoft Teams first, then e-mail",
        "- Reachable: Monday to Friday from 09:00 to 16:00",
        "- Own time zone: Singapore (Asia/Singapore)",
        "- Away from Monday 12 April 2027 to Friday 16 April 2027",
        "We agreed to answer a question from the other side within **3 days**.",
        "How often the two sides are in touch: every other week.",
        "| Lee Wong | `pactkeeper ics reading-club.yaml --for lee` |",
        "| by Friday 9 April 2027 | Training pack drafted | Lee Wong |",
        "- For Lee Wong that is Monday 1 March 2027 at 20:00 (+08)",
        "- **Reminders:** 3 days and 1 day before, to Sam Okafor and Maya Patel",
        "- **When:** every other Thursday at 10:00; you have 1 day to answer.",
        "- **First check-in:** Thursday 4 March 2027",
        "- Monday 5 April 2027 to Friday 9 April 2027: Easter break",
        "1. After 1 missed check-in: a reminder to you.\n",
        "2. After 2 missed check-ins in a row: a warning to the team lead (Sam Okafor) and the "
        "contact at Read Together (Maya Patel). **This is the dropout warning:**",
        "The successor who picks up the thread is **Tom Reid**.",
        "The handover is on **Thursday 24 June 2027 at 15:00 (BST)** and takes 90 minutes.",
        "- `docs/training-pack-outline.md`",
    ],
)
def test_english_runbook(english: str, expected: str) -> None:
    assert expected in english


# -- the other language, forced -------------------------------------------------------


@pytest.mark.parametrize(
    "expected",
    [
        "# Runbook: Online aanmelden voor vrijwilligers",
        "- Reachable: Monday to Thursday from 09:00 to 17:00",
        "- Reachable: Monday to Friday from 19:00 to 21:00; Saturday from 10:00 to 12:00",
        "- Channels: Slack first, then SMS, then e-mail",
        "within **2 days**",
        "| by Monday 15 February 2027 | Ontwerp goedgekeurd | Eva Mulder |",
        "- **When:** Monday 11 January 2027 at 10:00 (CET), 90 minutes",
        "- **When:** every Monday at 09:00; you have 2 days to answer.",
        "3. After 3 missed check-ins in a row: a warning to the team lead (Bram Bakker) and the "
        "contact at Voedselbank Utrecht (Ana de Vries).",
        "| Ana de Vries | `pactkeeper ics plan.yaml --for ana` |",
    ],
)
def test_dutch_plan_in_english(expected: str) -> None:
    runbook = render_runbook(in_language(DUTCH, "en"))
    assert expected in runbook
    assert "Draaiboek" not in runbook


@pytest.mark.parametrize(
    "expected",
    [
        "# Draaiboek: Reading buddies for year-4 pupils",
        "Het vaste aanspreekpunt bij Read Together is **Maya Patel**.",
        "- Bereikbaar: maandag t/m vrijdag van 09:00 tot 16:00",
        "- Kanalen: eerst e-mail, dan sms",
        "binnen **3 dagen**",
        "Hoe vaak jullie contact hebben: om de twee weken.",
        "| uiterlijk vrijdag 9 april 2027 | Training pack drafted | Lee Wong |",
        "- **Wanneer:** om de twee weken op donderdag om 10:00, je hebt 1 dag om te antwoorden.",
        "- maandag 5 april 2027 tot en met vrijdag 9 april 2027: Easter break",
        "2. Na 2 gemiste check-ins op rij: een waarschuwing aan de teamleider (Sam Okafor) en "
        "het aanspreekpunt bij Read Together (Maya Patel). **Dit is de uitvalwaarschuwing:**",
    ],
)
def test_english_plan_in_dutch(expected: str) -> None:
    runbook = render_runbook(in_language(ENGLISH, "nl"))
    assert expected in runbook
    assert "Runbook" not in runbook


# -- HTML --------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "lang"), [(DUTCH, "nl"), (ENGLISH, "en")])
def test_html_is_a_standalone_page(path: Path, lang: str) -> None:
    plan = load_plan(path)
    html = render_runbook(plan, "html")
    page = Page(html)
    assert html.startswith("<!DOCTYPE html>")
    assert ("html", {"lang": lang}) in page.tags
    assert ("meta", {"charset": "utf-8"}) in page.tags
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in (
        page.tags
    )
    assert "@media print" in page.all_text("style")
    assert "script" not in page.names()
    assert not [t for t, a in page.tags if t in ("link", "img", "iframe") or "src" in a]
    assert page.all_text("title").endswith(plan.title)


@pytest.mark.parametrize("path", [DUTCH, ENGLISH])
def test_html_is_the_markdown_rendered(path: Path) -> None:
    plan = load_plan(path)
    markdown, html = render_runbook(plan, "md"), render_runbook(plan, "html")
    assert to_html(markdown) in html


def test_html_shows_contacts_milestones_and_ladder() -> None:
    page = Page(render_runbook(load_plan(DUTCH), "html"))
    links = [attrs.get("href") for tag, attrs in page.tags if tag == "a"]
    assert "mailto:ana@voedselbank.example" in links
    assert "tel:+31612345678" in links
    assert "https://meet.example/voedselbank-evaluatie" in links
    assert ["uiterlijk maandag 15 februari 2027", "Ontwerp goedgekeurd", "Eva Mulder"] in (
        page.rows
    )
    assert "Na 3 gemiste check-ins op rij" in page.all_text("ol")
    assert page.all_text("h1") == "Draaiboek: Online aanmelden voor vrijwilligers"


# -- plan text never becomes markup ------------------------------------------------------

HOSTILE = "Plan <script>alert(1)</script> | a|b *vet* _schuin_ [link](https://evil.example) &amp;"


def hostile_plan(language: str) -> Plan:
    data = minimal_data()
    data["language"] = language
    data["title"] = HOSTILE
    data["partner"]["name"] = "# Partner | <b>vet</b>"
    data["people"][0]["role"] = "- <img src=x onerror=alert(1)> | rol"
    data["communication"]["notes"] = ["1. geen lijst", "> geen citaat", "<script>x()</script>"]
    data["milestones"] = [
        {"id": "m", "title": "A | B <i>", "due": "2027-02-01", "owner": "tim", "notify": ["pia"]}
    ]
    return plan_from(data)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_plan_text_cannot_inject_html(language: str) -> None:
    html = render_runbook(hostile_plan(language), "html")
    page = Page(html)
    assert "script" not in page.names()
    assert "img" not in page.names()
    assert "<script" not in html
    title = "Draaiboek" if language == "nl" else "Runbook"
    assert page.all_text("h1") == f"{title}: {HOSTILE}"
    assert page.all_text("title") == f"{title}: {HOSTILE}"
    assert "evil.example" not in [attrs.get("href") for tag, attrs in page.tags if tag == "a"]
    assert "em" not in page.names()


@pytest.mark.parametrize("language", ["nl", "en"])
def test_plan_text_cannot_break_a_table_or_start_a_block(language: str) -> None:
    html = render_runbook(hostile_plan(language), "html")
    page = Page(html)
    milestone_rows = [row for row in page.rows if "A | B <i>" in row]
    assert len(milestone_rows) == 1
    assert len(milestone_rows[0]) == 3
    assert "# Partner | <b>vet</b>" in page.all_text("h3")
    assert "1. geen lijst" in page.all_text("li")
    assert "> geen citaat" in page.all_text("li")
    assert "blockquote" not in page.names()
    assert "b" not in page.names()


def example_each(texts: list[str]) -> Callable[[Callable[[str], None]], Callable[[str], None]]:
    """Hypothesis ``@example`` for each of ``texts``: the markup that must always be tried."""

    def decorate(test: Callable[[str], None]) -> Callable[[str], None]:
        for text in texts:
            test = example(text)(test)
        return test

    return decorate


MARKUP = ["+ a", "- a", "* a", "1. a", "2) a", "# a", "> a", "~~~", "```", "---", "===", "&copy;"]
MARKUP += ["<b>b</b>", "<https://e.example>", "[a](b)", "![a](b)", "a \\", "    code", "a | b"]


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"))))
@example_each(MARKUP)
def test_md_shows_any_text_as_written(text: str) -> None:
    shown = " ".join(text.split())
    if not shown:
        return
    assert Page(to_html(f"Text: {md(text)}")).all_text("p") == f"Text: {shown}"
    assert Page(to_html(md(text))).all_text("p") == shown
    table = to_html(f"| a | b |\n| --- | --- |\n| {md(text)} | x |")
    assert Page(table).rows[-1] == [shown, "x"]


# -- wording -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("ma-do 09:00-17:00", "nl", "maandag t/m donderdag van 09:00 tot 17:00"),
        ("mon-fri 09:00-17:00", "en", "Monday to Friday from 09:00 to 17:00"),
        ("ma,wo,vr 09:00-12:00", "nl", "maandag, woensdag en vrijdag van 09:00 tot 12:00"),
        ("mon,tue 09:00-12:00", "en", "Monday and Tuesday from 09:00 to 12:00"),
        (
            "mon-fri 09:00-12:00,13:00-17:00",
            "en",
            "Monday to Friday from 09:00 to 12:00 and from 13:00 to 17:00",
        ),
        ("09:00-17:00", "nl", "elke dag van 09:00 tot 17:00"),
        ("za-zo", "nl", "zaterdag en zondag de hele dag"),
        (
            "mon-thu 09:00-17:00; fri 09:00-12:00",
            "en",
            "Monday to Thursday from 09:00 to 17:00; Friday from 09:00 to 12:00",
        ),
        ("mon-fri 20:00-24:00", "en", "Monday to Friday from 20:00 to 24:00"),
    ],
)
def test_reachable_hours_in_words(text: str, lang: str, expected: str) -> None:
    assert reachable_words(parse_reachable(text), lang) == expected


@pytest.mark.parametrize(
    ("text", "nl", "en"),
    [
        ("2d", "2 dagen", "2 days"),
        ("1d", "1 dag", "1 day"),
        ("90m", "90 minuten", "90 minutes"),
        ("1m", "1 minuut", "1 minute"),
        ("2h", "2 uur", "2 hours"),
        ("1h", "1 uur", "1 hour"),
        ("1w", "1 week", "1 week"),
        ("14d", "2 weken", "2 weeks"),
        ("10d", "10 dagen", "10 days"),
        ("1d6h", "1 dag en 6 uur", "1 day and 6 hours"),
        ("3h30m", "3 uur en 30 minuten", "3 hours and 30 minutes"),
    ],
)
def test_durations_in_words(text: str, nl: str, en: str) -> None:
    span = parse_duration(text)
    assert (duration_words(span, "nl"), duration_words(span, "en")) == (nl, en)


@pytest.mark.parametrize(
    ("checkins", "nl", "en"),
    [
        ({"every": "daily"}, "elke dag", "every day"),
        ({"every": "weekly", "on": "maandag"}, "elke maandag", "every Monday"),
        ({"every": "weekly"}, "elke maandag", "every Monday"),  # the start's weekday
        (
            {"every": "biweekly", "on": "thursday"},
            "om de twee weken op donderdag",
            "every other Thursday",
        ),
        (
            {"every": "monthly", "on": "monday"},
            "op de eerste maandag van de maand",
            "on the first Monday of the month",
        ),
        ({"every": "monthly"}, "op de 11e van de maand", "on the 11th of the month"),
        (
            {"every": "FREQ=WEEKLY;BYDAY=MO,TH"},
            "elke maandag en donderdag",
            "every Monday and Thursday",
        ),
        (
            {"every": "FREQ=WEEKLY;INTERVAL=3;BYDAY=FR"},
            "om de 3 weken op vrijdag",
            "every 3 weeks on Friday",
        ),
        ({"every": "FREQ=DAILY;INTERVAL=2"}, "om de 2 dagen", "every 2 days"),
        (
            {"every": "FREQ=MONTHLY;BYDAY=-1FR"},
            "op de laatste vrijdag van de maand",
            "on the last Friday of the month",
        ),
        (
            {"every": "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=1"},
            "op de 1e van de maand, om de 2 maanden",
            "on the 1st of the month, every 2 months",
        ),
        (
            {"every": "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1"},
            "volgens een eigen schema",
            "on a schedule of its own",
        ),
    ],
)
def test_checkin_rhythm_in_words(checkins: dict[str, str], nl: str, en: str) -> None:
    rule = Checkins.model_validate(checkins)
    start = load_plan(DUTCH).start  # Monday 11 January 2027
    assert (rhythm_words(rule, start, "nl"), rhythm_words(rule, start, "en")) == (nl, en)


# -- plans with less in them --------------------------------------------------------------


@pytest.mark.parametrize("language", ["nl", "en"])
def test_minimal_plan_says_what_was_not_agreed(language: str) -> None:
    data = minimal_data()
    data["language"] = language
    runbook = render_runbook(plan_from(data))
    expected = {
        "nl": [
            "Er is geen vaste reactietijd afgesproken",
            "Er staan nog geen mijlpalen in het plan.",
            "Er zijn geen vaste check-ins afgesproken.",
            "Er is nog geen achtervang afgesproken",
            "Er is nog geen overdrachtsmoment gepland. Het project sluit na woensdag 30 juni 2027.",
            "Aan het eind van het project krijgen Pia en Tim het overdrachtspakket",
            "- Kanalen: alleen e-mail",
        ],
        "en": [
            "No response time was agreed",
            "The plan has no milestones yet.",
            "No regular check-ins were agreed",
            "No backup has been agreed yet",
            "No handover meeting has been planned yet. "
            "The project closes after Wednesday 30 June 2027.",
            "At the end of the project, Pia and Tim receive the handover bundle",
            "- Channels: e-mail only",
        ],
    }[language]
    for sentence in expected:
        assert sentence in runbook


def test_a_ladder_step_naming_a_missing_deputy_says_so() -> None:
    data = minimal_data()
    data["checkins"] = {"escalate": [{"after": 1, "notify": ["deputy"]}]}
    # validate refuses this ladder (config.rules); a plan built in code can still hold one.
    runbook = render_runbook(Plan.model_validate(data))
    assert "After 1 missed check-in: a warning to nobody (the plan names no deputy" in runbook


# -- determinism and formats ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_output_is_deterministic_and_has_no_local_paths(fmt: str) -> None:
    first = render_runbook(load_plan(DUTCH), fmt)
    assert first == render_runbook(load_plan(DUTCH), fmt)
    assert str(ROOT) not in first


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="use md or html"):
        render_runbook(load_plan(DUTCH), "pdf")


# -- the command line ---------------------------------------------------------------------


def pactkeeper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker.run.cli", *args], capture_output=True, text=True, check=False
    )


def test_cli_writes_the_html_runbook(tmp_path: Path) -> None:
    output = tmp_path / "draaiboek.html"
    result = pactkeeper("runbook", str(DUTCH), "--format", "html", "-o", str(output))
    assert result.returncode == 0, result.stderr
    html = output.read_text(encoding="utf-8")
    assert html == render_runbook(load_plan(DUTCH), "html")
    assert "script" not in Page(html).names()


def test_cli_prints_markdown_by_default() -> None:
    result = pactkeeper("runbook", str(ENGLISH))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Runbook: Reading buddies for year-4 pupils\n")


def test_cli_refuses_an_unknown_format_with_usage() -> None:
    result = pactkeeper("runbook", str(DUTCH), "--format", "pdf")
    assert result.returncode == 2
    assert "Usage:" in result.stderr
    assert "'pdf'" in result.stderr
    assert result.stdout == ""


def test_a_plan_file_name_with_a_pipe_keeps_the_calendar_table_whole(tmp_path: Path) -> None:
    path = tmp_path / "a|b.yaml"
    path.write_text(DUTCH.read_text(encoding="utf-8").replace("documents: [docs/beheer.md]", ""))
    page = Page(render_runbook(load_plan(path), "html"))
    assert ["Ana de Vries", "pactkeeper ics 'a|b.yaml' --for ana"] in page.rows
