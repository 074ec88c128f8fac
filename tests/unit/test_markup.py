"""connectors.markup: one Markdown body, each target's own markup, text always literal.

Each test names a feature of the body (bold, a link, a list, escaped plan text, a
mention, an emoji, right-to-left text, a very long text, nothing at all) and checks
every target's rendering of it, as docs/channels.md describes it.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from connectors import markup
from connectors.markup import BREAK, markdown_text, plain_text, render

CHECKIN = "https://pactkeeper.example/checkin/eyJ_a-b.c"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def tags(telegram: str) -> _Tags:
    parser = _Tags()
    parser.feed(telegram)
    return parser


def commonmark_tokens(text: str) -> list[str]:
    """The inline token types a CommonMark renderer (Mattermost, Teams) makes of ``text``."""
    parsed = MarkdownIt("commonmark", {"html": False}).parse(text)
    return [child.type for token in parsed for child in token.children or []]


# -- bold and italic ---------------------------------------------------------------------


BOLD = "Today **Plan** starts, _really_.\n"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("slack", "Today *Plan* starts, _really_.\n"),
        ("whatsapp", "Today *Plan* starts, _really_.\n"),
        ("telegram", "Today <b>Plan</b> starts, <i>really</i>.\n"),
        ("teams", "Today **Plan** starts, _really_.\n"),
        ("mattermost", "Today **Plan** starts, _really_.\n"),
        ("plain", "Today Plan starts, really.\n"),
    ],
)
def test_bold_and_italic_in_each_targets_own_markup(target: markup.Target, expected: str) -> None:
    assert render(BOLD, target) == expected


# -- links ---------------------------------------------------------------------------------


LINK = "See [the status](https://pactkeeper.example/status/x?a=1&b=2).\n"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("slack", "See <https://pactkeeper.example/status/x?a=1&amp;b=2|the status>.\n"),
        ("whatsapp", "See the status: https://pactkeeper.example/status/x?a=1&b=2.\n"),
        (
            "telegram",
            'See <a href="https://pactkeeper.example/status/x?a=1&amp;b=2">the status</a>.\n',
        ),
        ("teams", "See [the status](https://pactkeeper.example/status/x?a=1&b=2).\n"),
        ("mattermost", "See [the status](https://pactkeeper.example/status/x?a=1&b=2).\n"),
        ("plain", "See the status: https://pactkeeper.example/status/x?a=1&b=2.\n"),
    ],
)
def test_a_template_link_in_each_targets_own_markup(target: markup.Target, expected: str) -> None:
    assert render(LINK, target) == expected


@pytest.mark.parametrize("target", markup.TARGETS)
def test_the_messages_own_link_in_the_text_stays_whole(target: markup.Target) -> None:
    """Underscores and dashes of a token are not escaped, so the link still works."""
    shown = render(f"Check in now: {CHECKIN}\n", target, [CHECKIN])
    assert CHECKIN in shown
    assert BREAK not in shown and "\\" not in shown


@pytest.mark.parametrize("target", ["slack", "whatsapp"])
def test_an_address_that_is_not_the_messages_own_is_escaped_like_any_text(
    target: markup.Target,
) -> None:
    shown = render(markdown_text("Go to https://phish.example/_x_"), target, [CHECKIN])
    assert f"_{BREAK}x_{BREAK}" in shown


# -- lists -----------------------------------------------------------------------------------


LIST = "Questions:\n\n- What did you do?\n- Any blocker?\n\n1. first\n2. second\n\nBye.\n"


@pytest.mark.parametrize(
    ("target", "bullet"),
    [
        ("slack", "• "),
        ("whatsapp", "- "),
        ("telegram", "• "),
        ("teams", "- "),
        ("mattermost", "- "),
        ("plain", "- "),
    ],
)
def test_lists_keep_their_items_and_numbers(target: markup.Target, bullet: str) -> None:
    shown = render(LIST, target)
    assert shown == (
        f"Questions:\n\n{bullet}What did you do?\n{bullet}Any blocker?\n\n"
        "1. first\n2. second\n\nBye.\n"
    )


def test_a_nested_list_is_indented_under_its_item() -> None:
    shown = render("- one\n  - inner\n- two\n", "slack")
    assert shown == "• one\n   • inner\n• two\n"


# -- escaped plan text -------------------------------------------------------------------

PLAN_VALUE = r"*B* _C_ [x](https://phish.example) ![i](https://t.example/p.gif) <b>x</b> &lt; \o/"
ESCAPED = f"Hello {markdown_text(PLAN_VALUE)},\n"


def _undo_chat(shown: str, target: markup.Target) -> str:
    """Undo the target's documented escaping: the breaks, and Slack's and Telegram's entities."""
    words = shown.replace(BREAK, "")
    return html.unescape(words) if target in ("slack", "telegram") else words


@pytest.mark.parametrize("target", markup.TARGETS)
def test_escaped_plan_text_comes_out_as_the_characters_the_plan_had(target: markup.Target) -> None:
    shown = render(ESCAPED, target)
    if target in ("teams", "mattermost", "markdown"):
        # What a CommonMark reader shows: the words, no link, image, emphasis or HTML.
        assert commonmark_tokens(shown) == ["text"]
        decoded = MarkdownIt("commonmark", {"html": False}).render(shown)
        assert html.unescape(decoded.replace(BREAK, "")) == f"<p>Hello {PLAN_VALUE},</p>\n"
    elif target == "plain":
        assert shown == f"Hello {PLAN_VALUE},\n"
    elif target == "telegram":
        assert tags(shown).tags == []
        assert _undo_chat(shown, target) == f"Hello {PLAN_VALUE},\n"
    else:
        assert _undo_chat(shown, target) == f"Hello {PLAN_VALUE},\n"
        assert "\\" not in shown.replace("\\o/", "")  # no backslash escape shows up
        for mark in "*_`~":
            assert all(shown[i + 1] == BREAK for i, c in enumerate(shown) if c == mark), (
                f"{mark} works as markup in {shown!r}"
            )


def test_slack_escapes_its_three_characters() -> None:
    assert markup.text("a & b < c > d", "slack") == "a &amp; b &lt; c &gt; d"
    assert render(markdown_text("<!here> <@U123> <#C1|x>"), "slack") == (
        "&lt;!here&gt; &lt;@U123&gt; &lt;#C1|x&gt;"
    )


def test_a_backslash_in_plan_text_is_a_backslash() -> None:
    for target in ("teams", "mattermost"):
        shown = markup.text(r"C:\temp\new", target)
        assert commonmark_tokens(shown) == ["text"]
        assert MarkdownIt("commonmark").render(shown) == "<p>C:\\temp\\new</p>\n"


def test_a_value_that_would_start_a_block_stays_in_its_line() -> None:
    for value in ("# not a heading", "> not a quote", "- not a list", "1. not a list"):
        for target in ("teams", "mattermost"):
            parsed = MarkdownIt("commonmark").parse(markup.text(value, target))
            assert [token.type for token in parsed] == [
                "paragraph_open",
                "inline",
                "paragraph_close",
            ], (value, target)
    assert render(markdown_text("> not a quote"), "whatsapp") == f">{BREAK} not a quote"


def test_markdown_text_and_plain_text_are_each_others_inverse_on_one_line() -> None:
    value = "A *b* [c](d) <e> & f_g"
    assert plain_text(markdown_text(value)) == value
    own = "C:\\temp \\*x\\*"  # a plan's own backslashes are text too, never taken as escapes
    assert plain_text(markdown_text(own)) == own


# -- mentions and emoji ------------------------------------------------------------------


def test_slack_broadcast_mentions_from_text_are_stopped() -> None:
    shown = render("Hi @here and @channel, @everyone; mail ana@acme.example\n", "slack")
    assert shown == (
        f"Hi @{BREAK}here and @{BREAK}channel, @{BREAK}everyone; mail ana@acme.example\n"
    )


@pytest.mark.parametrize("target", ["mattermost", "telegram"])
def test_mentions_from_text_are_stopped_where_the_service_makes_them(
    target: markup.Target,
) -> None:
    shown = render("Hi @all and @ana.de-vries, mail ana@acme.example\n", target)
    assert f"@{BREAK}all" in shown and f"@{BREAK}ana.de-vries" in shown
    assert "ana@acme.example" in shown


@pytest.mark.parametrize("target", ["slack", "mattermost"])
def test_an_emoji_shortcode_from_text_stays_words(target: markup.Target) -> None:
    shown = render("Party :tada: at 10:00\n", target)
    assert shown == f"Party :{BREAK}tada: at 10:00\n"


@pytest.mark.parametrize("target", markup.TARGETS)
def test_real_emoji_pass_untouched(target: markup.Target) -> None:
    assert render("Done 🎉👩🏽‍💻\n", target) == "Done 🎉👩🏽‍💻\n"


# -- right-to-left text, long text, nothing ------------------------------------------------


@pytest.mark.parametrize("target", markup.TARGETS)
def test_right_to_left_text_keeps_its_characters_and_direction_marks(
    target: markup.Target,
) -> None:
    value = "שלום \u200fעולם\u200e مرحبا"
    assert render(f"**{value}**\n", target).count(value) == 1


@pytest.mark.parametrize("target", markup.TARGETS)
def test_a_very_long_text_is_rendered_whole(target: markup.Target) -> None:
    body = "\n\n".join(f"Paragraph {n} " + "word " * 200 for n in range(50))
    shown = render(body, target)
    assert shown.count("Paragraph") == 50
    assert len(shown) >= len(body) - 50 * 2  # the renderers trim only trailing spaces


@pytest.mark.parametrize("target", markup.TARGETS)
def test_an_empty_body_is_an_empty_text(target: markup.Target) -> None:
    assert render("", target) == ""
    assert render("\n", target) == ""
    assert markup.text("", target) == ""


def test_slack_cuts_a_long_text_without_leaving_half_an_entity_or_a_working_mark() -> None:
    from connectors.slack import _cut

    assert _cut("a" * 2998 + "&amp;", 3000) == "a" * 2998 + "…"
    assert _cut("a" * 2998 + "*" + BREAK + "b", 3000) == "a" * 2998 + "…"
    assert _cut("short", 3000) == "short"


@pytest.mark.parametrize("at", range(1, 4))
def test_a_whatsapp_body_cut_to_its_limit_leaves_no_half_mark(at: int) -> None:
    # A stopped mark is the mark and a BREAK after it: a cut between the two would leave
    # a working "*" before the "…" (found by test_literal_plan_text's examples).
    from connectors.twilio import MAX_BODY, _fit

    words = markup.text("*x*", "whatsapp")
    head = "a" * (MAX_BODY - 1 - at) + words
    fitted = _fit(head + "tail", None)
    assert len(fitted) <= MAX_BODY and fitted.endswith("…")
    body = fitted[:-1]
    assert not body.endswith(("*", "_", "~", "`", " ")), repr(body[-4:])
