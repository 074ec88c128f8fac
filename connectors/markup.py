"""Each channel's own markup, made from the one Markdown body a message is drafted in.

A message body is CommonMark in which every value from a plan or a person was escaped
when its template was rendered (``markdown_text``): the markup in it is the template's
own. ``render(body, target)`` parses that body once (markdown-it, CommonMark, raw HTML
off) and writes it again in the target's markup:

- ``slack``: mrkdwn: ``*bold*``, ``_italic_``, ``<url|label>``, lists as ``• ``;
- ``whatsapp``: ``*bold*``, ``_italic_``, links as ``label: url``, lists as ``- ``;
- ``telegram``: Telegram's HTML: ``<b>``, ``<i>``, ``<code>``, ``<a href>``, lists as ``• ``;
- ``teams``: the Markdown subset of an Adaptive Card TextBlock (bold, italic, lists, links);
- ``mattermost``: CommonMark, with mentions and emoji shortcodes from text stopped;
- ``markdown``: CommonMark for a receiver that renders it (Apprise);
- ``plain``: no markup at all (SMS), links as ``label: url``.

The contract: a text node is always written as literal text escaped for the target, so
what a plan says (``*``, ``[x](y)``, ``<https://...>``, ``@channel``, ``<!here>``,
``&lt;``, ``:tada:``) is shown as exactly those characters, never as a link, image,
mention, emoji, bold or heading. Where a service has no escape for it (formatting on
Slack and WhatsApp, mentions on Slack, Mattermost and Telegram, emoji shortcodes on
Slack and Mattermost) a zero-width space (``BREAK``, U+200B) follows the character that
would start it; the reader sees the characters and nothing happens. Only the links a
connector names as its own (``links``: the check-in, status or bundle link the message
carries) are written whole and unescaped where they stand in the text, so the service
makes them clickable; every other address is escaped like any text.
``text(value, target)`` escapes one plain-text value (a subject, a fact) the same way.
docs/channels.md lists what each channel gets.

This module formats and does nothing else: it imports only the standard library and
markdown-it, never ``worker`` or ``web`` (docs/architecture.md §6).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

Target = Literal["slack", "whatsapp", "telegram", "teams", "mattermost", "markdown", "plain"]
TARGETS: tuple[Target, ...] = (
    "slack",
    "whatsapp",
    "telegram",
    "teams",
    "mattermost",
    "markdown",
    "plain",
)
BREAK = "\u200b"  # ZERO WIDTH SPACE: stops a formatting character from working

# -- escaping one value as CommonMark (the message templates' escape) -------------------

# Every character that starts inline markup (a backslash too), or an entity's &.
_INLINE = re.compile(r"[\\`*_\[\]<|]|&(?=#?[0-9A-Za-z]+;)")
_BLOCK_MARK = re.compile(r"^([#>+=~-])")
_LIST_NUMBER = re.compile(r"^(\d+)([.)])")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def markdown_text(text: str, inline: bool = False) -> str:
    """Text as Markdown that shows exactly that text, on one line: the one escape.

    Every character that could start markup is escaped (a backslash too, so a plan's own
    ``C:\\temp`` keeps it), and so is a mark that would start a heading, quote or list if
    the value began a line (not with ``inline``: the value never starts one). Whitespace
    runs become one space. ``worker.messages`` applies it to every value a message
    template shows that is not already Markdown made on purpose.
    """
    flat = " ".join(text.split())
    escaped = _INLINE.sub(r"\\\g<0>", flat)
    if not inline:
        escaped = _BLOCK_MARK.sub(r"\\\1", _LIST_NUMBER.sub(r"\1\\\2", escaped))
    return escaped


def plain_text(text: str) -> str:
    """Markdown-escaped text back as it was written (for a subject line)."""
    return _ESCAPE.sub(r"\1", text)


# -- escaping a text node for each target -----------------------------------------------

# CommonMark: every character that can start inline markup, whatever it is next to
# (the text node is already unescaped, so a backslash is a backslash). An underscore
# inside a word cannot open or close emphasis and is left alone.
_CM_INLINE = re.compile(r"[\\`*\[\]<|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|&(?=#?\w+;)")
_CM_LINE_START = re.compile(r"^([ \t]*)([#>+=~-]|\d+[.)])", re.MULTILINE)
# mrkdwn and WhatsApp: bold, strike, code, and italic (not an underscore inside a word)
_CHAT_MARKS = re.compile(r"[*~`]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_SLACK_MENTION = re.compile(r"(?<![\w@])@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@(?=[\w.-])")  # @name on Mattermost and Telegram
_SHORTCODE = re.compile(r":(?=[\w+-]+:)")  # :tada: becomes an emoji on Slack, Mattermost
_QUOTE_START = re.compile(r"^>", re.MULTILINE)  # WhatsApp quotes a line that starts with >


def _commonmark(text: str) -> str:
    escaped = _CM_INLINE.sub(lambda found: "\\" + found[0], text)
    return _CM_LINE_START.sub(lambda found: found[1] + _escape_mark(found[2]), escaped)


def _escape_mark(mark: str) -> str:
    return mark[:-1] + "\\" + mark[-1] if mark[-1] in ".)" else "\\" + mark


def _after(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda found: found[0] + BREAK, text)


def _slack(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _after(_SHORTCODE, _after(_SLACK_MENTION, _after(_CHAT_MARKS, escaped)))


def _whatsapp(text: str) -> str:
    return _after(_QUOTE_START, _after(_CHAT_MARKS, text))


def _telegram(text: str) -> str:
    return html.escape(_after(_MENTION, text))


def _mattermost(text: str) -> str:
    return _commonmark(_after(_SHORTCODE, _after(_MENTION, text)))


def _plain(text: str) -> str:
    return text


# -- the targets ------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """How one target writes text, emphasis, links, code and list items."""

    escape: Callable[[str], str]
    bold: tuple[str, str]
    italic: tuple[str, str]
    code: Callable[[str], str]
    link: Callable[[str, str], str]  # (escaped label, url) -> markup
    bullet: str
    heading: Callable[[str, int], str]
    url: Callable[[str], str] = field(default=lambda url: url)  # a trusted link in the text


def _label_colon_url(label: str, url: str) -> str:
    return url if label == url else f"{label}: {url}"


def _slack_url(url: str) -> str:
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def _markdown_url(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def _bold_heading(bold: tuple[str, str]) -> Callable[[str, int], str]:
    return lambda text, level: f"{bold[0]}{text}{bold[1]}"


def _fenced(code: str) -> str:
    """Inline code in CommonMark: fenced by one backtick more than the longest run in it."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", code)), default=0) + 1)
    return (
        f"{fence} {code} {fence}"
        if code.startswith("`") or code.endswith("`")
        else fence + code + fence
    )


_TEAMS = Style(
    _commonmark,
    ("**", "**"),
    ("_", "_"),
    _commonmark,  # TextBlocks show no code: the words, as text
    lambda label, url: f"[{label}]({_markdown_url(url)})",
    "- ",
    _bold_heading(("**", "**")),
)

STYLES: dict[Target, Style] = {
    "slack": Style(
        _slack,
        ("*", "*"),
        ("_", "_"),
        lambda code: f"`{_slack(code).replace(BREAK, '')}`",
        lambda label, url: f"<{_slack_url(url)}|{label}>",
        "• ",
        _bold_heading(("*", "*")),
        _slack_url,
    ),
    "whatsapp": Style(
        _whatsapp,
        ("*", "*"),
        ("_", "_"),
        lambda code: f"```{code}```",
        _label_colon_url,
        "- ",
        _bold_heading(("*", "*")),
    ),
    "telegram": Style(
        _telegram,
        ("<b>", "</b>"),
        ("<i>", "</i>"),
        lambda code: f"<code>{html.escape(code)}</code>",
        lambda label, url: f'<a href="{html.escape(url)}">{label}</a>',
        "• ",
        _bold_heading(("<b>", "</b>")),
        html.escape,
    ),
    "teams": _TEAMS,
    "markdown": _TEAMS,
    "mattermost": Style(
        _mattermost,
        ("**", "**"),
        ("_", "_"),
        _fenced,
        lambda label, url: f"[{label}]({_markdown_url(url)})",
        "- ",
        lambda text, level: f"{'#' * level} {text}",
    ),
    "plain": Style(
        _plain,
        ("", ""),
        ("", ""),
        _plain,
        _label_colon_url,
        "- ",
        lambda text, level: text,
    ),
}


def text(value: str, target: Target) -> str:
    """One plain-text value (a subject, a fact) as literal text in ``target``'s markup."""
    return STYLES[target].escape(value)


# -- rendering --------------------------------------------------------------------------


@cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False})


def render(markdown: str, target: Target, links: Iterable[str | None] = ()) -> str:
    """The Markdown ``markdown`` in ``target``'s markup; ``links`` are the message's own.

    A trusted link that stands as words in the text (``Check in now: https://...``) is
    kept whole, unescaped, so the service makes it clickable; anything else that looks
    like an address is plain text, escaped like every other text.
    """
    trusted = tuple(sorted({link for link in links if link}, key=len, reverse=True))
    writer = _Writer(STYLES[target], trusted)
    blocks = writer.blocks(_parser().parse(markdown))
    rendered = "\n\n".join(block for block in blocks if block)
    return rendered + "\n" if rendered and markdown.endswith("\n") else rendered


@dataclass
class _List:
    ordered: bool
    number: int


@dataclass
class _Writer:
    """Walks markdown-it's tokens once and writes blocks in one target's style."""

    style: Style
    trusted: Sequence[str]
    lists: list[_List] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # the lines of the list being written
    marker: str | None = None  # the marker of the list item whose text comes next
    level: int = 0  # the level of the heading whose text comes next

    def blocks(self, tokens: Sequence[Any]) -> list[str]:
        out: list[str] = []
        for token in tokens:
            finished = self.token(token)
            if finished is not None:
                out.append(finished)
        return out

    def token(self, token: Any) -> str | None:
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            start = int(token.attrGet("start") or 1)
            self.lists.append(_List(kind == "ordered_list_open", start))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
            if not self.lists:
                finished, self.lines = "\n".join(self.lines), []
                return finished
        elif kind == "list_item_open":
            self.marker = self._marker()
        elif kind == "heading_open":
            self.level = int(token.tag[1:])
        elif kind == "inline":
            return self._place(self.inline(token.children or []))
        elif kind in ("fence", "code_block"):
            return self._place(self.style.code(token.content.rstrip("\n")))
        elif kind == "hr":
            return self._place("———")
        return None

    def _marker(self) -> str:
        current = self.lists[-1]
        indent = "   " * (len(self.lists) - 1)
        if not current.ordered:
            return indent + self.style.bullet
        current.number += 1
        return f"{indent}{current.number - 1}. "

    def _place(self, written: str) -> str | None:
        """A block at the top level is returned; inside a list it becomes an item's lines."""
        if self.level:
            written, self.level = self.style.heading(written, self.level), 0
        if not self.lists:
            return written
        lead = self.marker if self.marker is not None else "   " * len(self.lists)
        self.marker = None
        self.lines.append(lead + written.replace("\n", "\n" + " " * len(lead)))
        return None

    def inline(self, children: Sequence[Any]) -> str:
        parts: list[str] = []
        link: list[str] | None = None  # the parts of a link's label, while inside one
        href = ""
        for child in children:
            kind = child.type
            target = link if link is not None else parts
            if kind == "link_open":
                link, href = [], str(child.attrGet("href") or "")
            elif kind == "link_close" and link is not None:
                parts.append(self.style.link("".join(link), href))
                link = None
            elif kind == "image":
                target.append(self.words(child.content))  # an image is shown as its words
            else:
                target.append(self.child(child))
        return "".join(parts)

    def child(self, child: Any) -> str:
        kind, style = child.type, self.style
        if kind in ("softbreak", "hardbreak"):
            return "\n"
        if kind == "code_inline":
            return style.code(child.content)
        marks = {
            "strong_open": style.bold[0],
            "strong_close": style.bold[1],
            "em_open": style.italic[0],
            "em_close": style.italic[1],
        }
        if kind in marks:
            return marks[kind]
        return self.words(str(child.content))

    def words(self, content: str) -> str:
        """Literal text: the trusted links kept whole, everything else escaped."""
        for link in self.trusted:
            if link in content:
                return self.style.url(link).join(self.words(p) for p in content.split(link))
        return self.style.escape(content)
