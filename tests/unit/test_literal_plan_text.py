"""Issue 11, Must show 3: any string in any plan field comes out literally in every
channel's rendering of every message kind, and no link, image, markup or mention is
made of plan text.

The messages are the real ones: a plan holding the generated text in every field that
reaches a message (title, people, partner and team, both milestones with location,
deliverable and acceptance, the check-in question, the handover location, the backup,
a person's check-in note, a service's error detail) is registered on a real SQLite
store, and one message of each kind is composed from it (tests/literal_support.py):
kickoff, reminder, check-in request, invitation, cancellation, overdue, delivery
notice, the four warnings (to the lead, dropout, nudge, help request) and the handover.
Each is rendered by e-mail and by every chat connector (``render``, no network).

1. Literal: every field a kind shows is shown, character for character, by e-mail and
   on every chat channel, after undoing only that channel's documented escaping
   (docs/channels.md); an SMS with a link carries only the subject and the link.
2. No markup from plan text: the markup of each rendering (HTML tags and where links
   point; Markdown tokens; mrkdwn and WhatsApp formatting marks, mentions, emoji
   shortcodes) is the same as that of the same message made from a plan of plain words.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Message
from tests.literal_support import FIELDS, Built, build, renderings, shown, skeleton

# Characters that start markup somewhere (Markdown, mrkdwn, WhatsApp, HTML, Slack's
# <!here>, mentions, emoji shortcodes, entities), emoji, right-to-left text and marks.
HOSTILE = [
    *"*_~`#>-+=!|[](){}<>&;:@/\\.,'\"%$ 1x",
    "&lt;",
    "&amp;",
    "<!here>",
    "<@U123>",
    "<!channel>",
    "@here",
    "@channel",
    ":tada:",
    "[x](https://phish.example)",
    "![i](https://t.example/p.gif)",
    "<https://phish.example>",
    "www.phish.example",
    "\\*",
    "\\[x\\](y)",
    "🎉",
    "👩🏽‍💻",
    "שלום",
    "مرحبا",
    "\u200f",
    "\u200e",
]
WORDS = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE),
        st.characters(categories=["L", "N", "P", "S", "Zs"], exclude_characters="\u200b"),
    ),
    max_size=12,
).map("".join)


def values_of(text: str) -> dict[str, str]:
    """Every field holds the text, told apart by its number (names must differ)."""
    return {field: f"{text} q{number}z" for number, field in enumerate(FIELDS)}


def literal(value: str) -> str:
    """What a message shows of a value: its words, whitespace runs as one space."""
    return " ".join(value.split())


def calendar_quotes(text: str) -> str:
    """An invitation names its attendees as the calendar object does, and an iCalendar
    parameter cannot hold a straight double quote (RFC 5545 §3.1, CN=): the calendar
    code writes typographic quotes there. The only change a calendar message makes."""
    return re.sub('["“”]', '"', text)


NEUTRAL = "Plain words"


@cache
def neutral(lang: str) -> Built:
    folder = Path(tempfile.mkdtemp(prefix="literal-neutral-"))
    return build(folder, values_of(NEUTRAL), lang)


@cache
def in_body(lang: str, name: str) -> frozenset[str]:
    """The fields a kind shows in its subject or body, not only as a fact (e-mail shows
    no facts): read from the same message made of plain words."""
    message, values = neutral(lang).messages[name], values_of(NEUTRAL)
    return frozenset(f for f in FIELDS if values[f] in message.subject + message.text)


# The fields each kind shows (its subject, body and facts), in both languages. Not
# shown in any message: a milestone's acceptance (the runbook and the bundle have it).
SHOWN = {
    "kickoff": ("title", "partner", "team", "contact", "lead", "deadline_title"),
    "reminder": ("contact", "lead", "member", "meeting_title", "meeting_location"),
    "reminder-handover": ("contact", "lead", "handover_location"),
    "checkin_open": ("title", "member", "question"),
    "invite": ("contact", "lead", "member", "meeting_title", "meeting_location"),
    "cancel": ("lead", "member", "meeting_title", "meeting_location"),
    "overdue": ("title", "lead", "member", "deadline_title", "deliverable"),
    "notice": ("title", "lead", "member", "detail"),
    "warning-lead": ("title", "lead", "member", "deadline_title"),
    "warning-dropout": (
        "title",
        "contact",
        "lead",
        "member",
        "meeting_title",
        "deadline_title",
        "backup",
    ),
    "warning-nudge": ("title", "lead", "member", "deadline_title"),
    "warning-help": ("title", "lead", "member", "meeting_title", "deadline_title", "note"),
    "handover": ("title", "partner", "team", "contact"),
}
HYPOTHESIS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _cut(seen: str, text: str) -> bool:
    """True when a connector shortened the message to its channel's limit (its "…")."""
    return "…" in seen and "…" not in text


@HYPOTHESIS
@given(text=WORDS, lang=st.sampled_from(["en", "nl"]))
def test_any_plan_text_comes_out_literally_in_every_channel_of_every_message(
    text: str, lang: str
) -> None:
    values = values_of(text)
    with tempfile.TemporaryDirectory() as folder:
        built = build(Path(folder), values, lang)
        assert set(built.messages) == set(SHOWN)
        for name, message in built.messages.items():
            for channel, payload in renderings(message, built.engine.settings):
                seen = literal(shown(channel, payload))  # facts keep a value's own spaces
                for field in SHOWN[name]:
                    if channel in ("email", "sms") and field not in in_body(lang, name):
                        continue  # neither shows facts
                    expected = literal(values[field])
                    if (
                        channel == "sms"
                        and message.link
                        and expected not in literal(message.subject)
                    ):
                        continue  # an SMS with a link carries the subject and the link only
                    if name in ("invite", "cancel"):
                        expected, seen = calendar_quotes(expected), calendar_quotes(seen)
                    if expected not in seen and _cut(seen, text):
                        continue  # the channel's length limit ended the text before this field
                    assert expected in seen, (name, channel, field, seen)


@HYPOTHESIS
@given(text=WORDS, lang=st.sampled_from(["en", "nl"]))
def test_no_link_image_markup_or_mention_is_made_of_plan_text(text: str, lang: str) -> None:
    plain = neutral(lang)
    with tempfile.TemporaryDirectory() as folder:
        built = build(Path(folder), values_of(text), lang)
        for name, message in built.messages.items():
            list(same_markup(name, message, built, plain))  # asserts for every channel


def same_markup(
    name: str, message: Message, built: Built, plain: Built
) -> Iterator[tuple[str, Any]]:
    """Each channel's rendering of ``message``, asserted to have the markup (tags, links,
    marks, mentions) of the same message made from plain words."""
    expected = dict(renderings(plain.messages[name], plain.engine.settings))
    for channel, payload in renderings(message, built.engine.settings):
        own, neutral_link = message.link, plain.messages[name].link
        assert skeleton(channel, payload, own) == skeleton(
            channel, expected[channel], neutral_link
        ), (name, channel, payload)
        yield channel, payload


HOSTILE_EXAMPLES = [
    "[Join here](https://phish.example/login)",
    "![x](https://tracker.example/p.gif)",
    "<https://phish.example/a> <!here> <@U123> @channel @here :tada:",
    "**bold** *b* _i_ ~s~ `code` # heading",
    "&lt;b&gt; &amp; <b>x</b>",
    "> quote",
    "1. list",
    "שלום עולם 🎉",
]


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_fields_each_kind_shows_are_the_ones_listed(lang: str) -> None:
    """SHOWN is what the messages show today: the literal test checks every one of them."""
    values = values_of(NEUTRAL)
    for name, message in neutral(lang).messages.items():
        words = message.subject + message.text + "".join(v for _, v in message.facts)
        assert {f for f in FIELDS if values[f] in words} == set(SHOWN[name]), name


@pytest.mark.parametrize("text", HOSTILE_EXAMPLES)
def test_the_known_attacks_are_words_everywhere(text: str, tmp_path: Path) -> None:
    """The examples of the issue and of docs/channels.md, always run (not left to chance)."""
    values = values_of(text)
    built = build(tmp_path, values, "en")
    plain = neutral("en")
    for name, message in built.messages.items():
        for channel, payload in same_markup(name, message, built, plain):
            if channel != "sms":
                for field in SHOWN[name] if channel != "email" else in_body("en", name):
                    seen = literal(shown(channel, payload))
                    assert literal(values[field]) in seen, (name, channel)


def test_a_backslash_before_punctuation_in_plan_text_is_shown(tmp_path: Path) -> None:
    values = values_of(r"C:\temp \*not bold\*")
    built = build(tmp_path, values, "en", handover=False)
    payload = dict(renderings(built.messages["reminder"], built.engine.settings))["telegram"]
    assert literal(values["meeting_title"]) in shown("telegram", payload)
