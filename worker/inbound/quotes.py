"""The text a person wrote in a reply: the quoted trail and the signature taken off.

Pure. ``new_text(plain, html)`` reads the plain part when it leaves any text, else the
HTML part turned into text (blockquotes become ``>`` lines; the quote and signature containers
of Gmail, Outlook, Apple Mail and Thunderbird are dropped). It never raises.

The rules, each a linear pass over the lines (docs/replies.md "Quotes and signatures" says
why no reply-parsing library does this part):

- every ``>`` line goes (a bottom-posted or interleaved answer keeps its own lines);
- an attribution line goes (it names a date, so it has a digit): Gmail and Thunderbird
  "On ... wrote:" / "Op ... schreef ...:", also wrapped over two lines, and Apple Mail
  "Op ... heeft ... het volgende geschreven:";
- from an Outlook header block ("From:/Van:" with "Sent:/Verzonden:/Date:/Datum:" just
  below), a separator ("-----Original Message-----", a line of underscores) or a
  forwarded message's start ("Forwarded message", "Doorgestuurd bericht", "Begin
  forwarded message:") on, the rest is the trail;
- a signature goes: from a "-- " line, a "Sent from my iPhone"/"Verzonden vanaf mijn
  iPhone" line (and Outlook's "Get Outlook for"), or a closing line alone ("Met
  vriendelijke groet,", "Kind regards,") followed by a few short lines, on.
"""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser

SIGNATURE_LINES = 5  # a closing line is a signature's start when at most this many follow
SIGNATURE_WIDTH = 60  # ... and each of them is at most this long, and asks nothing
HEADER_WIDTH = 300  # an attribution line is never longer; longer lines are text

_ATTRIBUTION = re.compile(
    r"^(?=.*\d)(?:On\b.*\bwrote:|Op\b.*\bschreef\b.*:"
    r"|Op\b.*\bheeft\b.*\bhet volgende geschreven:|Le\b.*\ba écrit\s?:|Am\b.*\bschrieb\b.*:)$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^(?:On|Op)\s.*\d", re.IGNORECASE)
_HEADER = re.compile(r"^\*?(?:From|Van|Von)\s?:\*?\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\*?(?:Sent|Date|Verzonden|Datum|Gesendet|To|Aan|Subject|Onderwerp)\s?:", re.IGNORECASE
)
_SEPARATOR = re.compile(
    r"^(?:-{2,}\s*(?:Original Message|Oorspronkelijk bericht|Origineel bericht"
    r"|Forwarded message|Doorgestuurd bericht)\s*-{2,}|_{10,}|-{10,}"
    r"|Begin (?:forwarded message|doorgestuurd bericht):)\s*$",
    re.IGNORECASE,
)
_SENT_FROM = re.compile(
    r"^(?:Sent from (?:my |Mail |Outlook|Yahoo)|Sent with |Get Outlook for "
    r"|(?:Verzonden|Verstuurd) (?:vanaf|vanuit|met|via) "
    r"|Outlook voor \w+ downloaden|Download Outlook voor )",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^(?:(?:met )?(?:vriendelijke|hartelijke|warme|sportieve) groet(?:en)?|groet(?:en|jes)?"
    r"|mvg|vr\.? gr\.?|hartelijk dank|alvast bedankt|dank je wel|bedankt"
    r"|(?:kind|best|warm|many) (?:regards|wishes|thanks)|regards|best|cheers|thanks"
    r"|thank you|all the best)[\s,.!]*$",
    re.IGNORECASE,
)


def new_text(plain: str | None, html: str | None) -> str:
    """What the person wrote themselves; "" when nothing is left. The HTML part is read
    when the plain part leaves nothing (a client that wrote its answer in HTML only)."""
    found = _strip(_lines(plain or ""))
    if not found and html:
        found = _strip(_lines(html_text(html)))
    return found


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")


def _strip(text: str) -> str:
    lines = _without_trail(text.split("\n"))
    lines = _without_signature(lines)
    return "\n".join(line.rstrip() for line in lines).strip()


def _without_trail(lines: list[str]) -> list[str]:
    kept: list[str] = []
    skip_next = False
    for at, line in enumerate(lines):
        bare = line.strip()
        if skip_next:
            skip_next = False
            continue
        if bare.startswith(">"):
            continue
        if _SEPARATOR.match(bare) or _is_header_block(lines, at):
            break
        if len(bare) <= HEADER_WIDTH and _ATTRIBUTION.match(bare):
            continue
        if _wrapped_attribution(lines, at):
            skip_next = True
            continue
        kept.append(line)
    return kept


def _is_header_block(lines: list[str], at: int) -> bool:
    if not _HEADER.match(lines[at].strip()):
        return False
    return any(_HEADER_NEXT.match(line.strip()) for line in lines[at + 1 : at + 4])


def _wrapped_attribution(lines: list[str], at: int) -> bool:
    """Gmail wraps a long "On ..., Name <x@y> wrote:" over two lines."""
    if at + 1 >= len(lines) or not _ATTRIBUTION_START.match(lines[at].strip()):
        return False
    joined = f"{lines[at].strip()} {lines[at + 1].strip()}"
    return len(joined) <= HEADER_WIDTH and bool(_ATTRIBUTION.match(joined))


def _without_signature(lines: list[str]) -> list[str]:
    below = len([line for line in lines if line.strip()])  # text lines after this one
    for at, line in enumerate(lines):
        bare = line.strip()
        below -= bool(bare)
        if line.rstrip() == "--" or line == "-- " or _SENT_FROM.match(bare):
            return lines[:at]
        closing = at and below <= SIGNATURE_LINES and _CLOSING.match(bare)
        if closing and _signature_below(lines[at + 1 :]):
            return lines[:at]
    return lines


def _signature_below(lines: list[str]) -> bool:
    rest = [line.strip() for line in lines if line.strip()]
    return all(len(line) <= SIGNATURE_WIDTH and not line.endswith("?") for line in rest)


def html_text(html: str) -> str:
    """The text of an HTML body: blocks on their own lines, blockquotes as ``>`` lines.

    HTML that the parser gives up on part-way (a broken declaration, a stray ``<!``) still
    yields the text read up to there: a reply is read as far as it can be, never refused
    for its markup."""
    reader = _HTMLText()
    with contextlib.suppress(AssertionError, ValueError):
        reader.feed(html)
        reader.close()
    return reader.text()


_SPACE = re.compile(r"\s+")
_BLOCKS = frozenset(
    ("p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "pre", "hr")
)
_IGNORED = frozenset(("head", "style", "script", "title"))
_VOID = frozenset(("br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"))
_SKIPPED_CLASSES = frozenset(("gmail_attr", "moz-cite-prefix", "gmail_signature", "moz-signature"))
_SKIPPED_IDS = frozenset(("signature", "applemailsignature", "ms-outlook-mobile-signature"))
_TRAIL_IDS = frozenset(("appendonsend", "divrplyfwdmsg", "outlookmessageheader"))


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.open: list[str] = []  # what each open element does: "" | quote | skip
        self.depth = {"quote": 0, "skip": 0}
        self.trail = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: (value or "") for name, value in attrs}
        classes = set(found.get("class", "").split())
        if tag == "hr" or found.get("id", "").lower() in _TRAIL_IDS:
            self.trail = True
        if tag == "br":
            self.lines.append("")
        elif tag in _BLOCKS:
            self._break()
        if tag in _VOID:
            return
        role = ""
        skipped = classes & _SKIPPED_CLASSES or found.get("id", "").lower() in _SKIPPED_IDS
        if tag in _IGNORED or skipped:
            role = "skip"
        elif tag == "blockquote":
            role = "quote"
        self.open.append(role)
        if role:
            self.depth[role] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if self.open:
            role = self.open.pop()
            if role:
                self.depth[role] -= 1
        if tag in _BLOCKS or tag == "blockquote":
            self._break()

    def _break(self) -> None:
        if self.lines[-1]:
            self.lines.append("")

    def handle_data(self, data: str) -> None:
        if self.trail or self.depth["skip"]:
            return
        text = _SPACE.sub(" ", data)
        line = self.lines[-1]
        if not line:
            text = text.lstrip()
            if text:
                self.lines[-1] = "> " * self.depth["quote"]
        elif line.endswith(" "):
            text = text.lstrip()
        self.lines[-1] += text

    def text(self) -> str:
        return "\n".join(line.strip() for line in self.lines)
