"""read_answer: the number rule, the keyword table, opt-out against stopping (docs/replies.md).

Every text of tests/fixtures/replies/texts.yaml is read as it says; the keyword table of
the docs is the code's table; no text makes read_answer raise.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from worker.inbound.reading import (
    KEYWORD_WINDOW,
    KEYWORDS,
    NEGATIONS,
    OPTOUT_WORDS,
    Reading,
    optout_word,
    read_answer,
)

ROOT = Path(__file__).resolve().parents[2]
TEXTS: list[dict[str, Any]] = yaml.safe_load(
    (ROOT / "tests/fixtures/replies/texts.yaml").read_text(encoding="utf-8")
)
STATUSES = ("on_track", "need_help", "blocked", "stopping")


@pytest.mark.parametrize("entry", TEXTS, ids=[repr(entry["text"]) for entry in TEXTS])
def test_each_text_is_read_as_the_corpus_says(entry: dict[str, Any]) -> None:
    expected = Reading(entry["status"], entry["note"], entry.get("optout"))
    assert read_answer(entry["text"]) == expected


def test_the_corpus_has_every_status_and_both_opt_outs() -> None:
    statuses = {entry["status"] for entry in TEXTS}
    assert statuses == {*STATUSES, None}
    assert {entry.get("optout") for entry in TEXTS} == {None, "stop", "start"}


@pytest.mark.parametrize(("number", "status"), list(zip("1234", STATUSES, strict=True)))
@pytest.mark.parametrize("separator", [" - ", ": ", ". ", ".", ") ", " – ", "\n", " "])
def test_a_leading_number_names_the_status_and_the_rest_is_the_note(
    number: str, status: str, separator: str
) -> None:
    assert read_answer(f"{number}{separator}wacht op cijfers") == Reading(
        status, "wacht op cijfers", None
    )


@pytest.mark.parametrize(
    "text", ["0", "5", "12", "1.5 uur", "2,5", "2/3 klaar", "2:30", "3 dagen", "4 weeks", "3 mrt"]
)
def test_a_number_that_is_no_status_names_none(text: str) -> None:
    assert read_answer(text).status is None


@pytest.mark.parametrize(
    ("status", "word"),
    [(status, word) for status, (openers, _phrases) in KEYWORDS.items() for word in openers],
)
def test_every_opening_word_alone_names_its_status(status: str, word: str) -> None:
    assert read_answer(f"{word}!") == Reading(status, "", None)
    assert read_answer(f"{word.upper()}, en verder").status == status


@pytest.mark.parametrize(
    ("status", "phrase"),
    [(status, phrase) for status, (_openers, phrases) in KEYWORDS.items() for phrase in phrases],
)
def test_every_phrase_names_its_status_anywhere_unless_negated(status: str, phrase: str) -> None:
    assert read_answer(phrase) == Reading(status, "", None)
    assert read_answer(f"Hallo. Even kort: {phrase} vandaag").status == status
    assert read_answer(f"not {phrase}").status != status
    assert read_answer(f"geen {phrase}").status != status


@pytest.mark.parametrize(
    "text", ["Good morning, can we move the call?", "Top dat je belt", "help me understand this"]
)
def test_an_opening_word_before_another_word_names_nothing(text: str) -> None:
    assert read_answer(text) == Reading(None, text, None)


def test_an_opening_word_further_on_names_nothing() -> None:
    assert read_answer("bedankt voor de hulp").status is None
    assert read_answer("thanks for the help, see you").status is None
    assert read_answer("het gaat vast goed komen") == Reading(
        None, "het gaat vast goed komen", None
    )


def test_keywords_are_looked_for_where_an_answer_stands_only() -> None:
    filler = "bla " * (KEYWORD_WINDOW // 4)
    assert read_answer(f"ik zit vast {filler}").status == "blocked"
    assert read_answer(f"{filler} ik zit vast").status is None


def test_the_gravest_status_wins() -> None:
    assert read_answer("alles goed, maar ik zit vast").status == "blocked"
    assert read_answer("hulp nodig, anders moet ik stoppen").status == "stopping"
    assert read_answer("on track, but we need help with the flyer").status == "need_help"


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop. ",
        "STOPP",
        "Unsubscribe",
        "AFMELDEN!",
        "uitschrijven",
        "(stop)",
        "stop 🛑",
    ],
)
def test_a_lone_opt_out_word_is_an_opt_out_never_a_status(text: str) -> None:
    assert read_answer(text) == Reading(None, "", "stop")


@pytest.mark.parametrize("text", ["START", "start!", "Aanmelden"])
def test_start_switches_back_on(text: str) -> None:
    assert read_answer(text) == Reading(None, "", "start")


@pytest.mark.parametrize(
    "text", ["4", "ik moet stoppen", "I have to stop", "Ik stop ermee", "quit", "stop ermee"]
)
def test_stopping_is_a_status_not_an_opt_out(text: str) -> None:
    reading = read_answer(text)
    assert (reading.status, reading.optout) == ("stopping", None)


def test_more_than_the_opt_out_word_is_an_ordinary_text() -> None:
    assert read_answer("stop met sturen aub") == Reading(None, "stop met sturen aub", None)
    assert optout_word("please stop") is None
    assert optout_word("stopstop") is None


def test_the_opt_out_words_are_those_of_the_issue() -> None:
    assert OPTOUT_WORDS == {
        "stop": ("stop", "stopp", "unsubscribe", "afmelden", "uitschrijven"),
        "start": ("start", "aanmelden"),
    }


def test_the_note_keeps_the_text_with_its_whitespace_tidied() -> None:
    reading = read_answer("  2 -   wacht\top   cijfers\n\n\n\nvan de  penningmeester  ")
    assert reading == Reading("need_help", "wacht op cijfers\n\nvan de penningmeester", None)


def _doc_table() -> dict[str, tuple[set[str], set[str]]]:
    text = (ROOT / "docs/replies.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (.*?) \| (.*?) \|$", text, re.MULTILINE)
    return {
        status: (set(openers.split(", ")), set(phrases.split(", ")))
        for status, openers, phrases in rows
    }


def test_the_documented_keyword_table_is_the_codes_table() -> None:
    code = {status: (set(openers), set(phrases)) for status, (openers, phrases) in KEYWORDS.items()}
    assert _doc_table() == code


def test_the_documented_negations_are_the_codes() -> None:
    text = " ".join((ROOT / "docs/replies.md").read_text(encoding="utf-8").split())
    listed = re.search(r"The negations: (.*?)\. ", text)
    assert listed is not None
    assert set(listed.group(1).split(", ")) == set(NEGATIONS)


@given(st.text(max_size=300))
def test_any_text_is_read_without_raising(text: str) -> None:
    reading = read_answer(text)
    assert reading.status in (*STATUSES, None)
    assert reading.optout in ("stop", "start", None)
    assert not (reading.status and reading.optout)
