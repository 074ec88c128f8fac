"""Reading a check-in answer out of the text a person wrote: the status, the note, opt-out.

Pure: no store, no settings. ``read_answer`` never raises and reads every channel's text
the same way (an e-mail's new text, an SMS, a WhatsApp or Telegram message). The rules,
and the keyword table below, are documented in docs/replies.md (a test keeps the two the
same):

- A leading number 1-4 names the status (1 on_track, 2 need_help, 3 blocked, 4 stopping);
  the rest of the text, after a separator such as ``-``, ``:`` or ``.``, is the note. A
  number followed by a unit ("3 dagen", "2 weeks") is a quantity, not a status.
- Otherwise a keyword names it. *Opening words* count only as the first word of the
  text, standing alone before a punctuation mark, an emoji or the end of the line
  ("ok!", "hulp", "👍"; not "Good morning"); *phrases* count anywhere in the first
  ``KEYWORD_WINDOW`` characters, unless a negation comes just before, or a "niet" just
  after ("geen hulp nodig", "not on track", "ik stop niet").
  When phrases of several statuses occur, the gravest wins (stopping, blocked,
  need_help, on_track). The note is then the whole text, or "" when the text is only
  the keyword.
- A text that is only an opt-out word (STOP, STOPP, UNSUBSCRIBE, AFMELDEN,
  UITSCHRIJVEN; or START, AANMELDEN to switch back on) is an opt-out, never a status:
  the check-in status ``stopping`` is a different thing (docs/architecture.md §13).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

KEYWORD_WINDOW = 2000  # characters of the text searched for keywords: the answer opens it
NUMBERS = {"1": "on_track", "2": "need_help", "3": "blocked", "4": "stopping"}
GRAVITY = ("stopping", "blocked", "need_help", "on_track")

OPTOUT_WORDS = {
    "stop": ("stop", "stopp", "unsubscribe", "afmelden", "uitschrijven"),
    "start": ("start", "aanmelden"),
}

# The keyword table: one home (docs/replies.md shows it; tests/unit/test_reply_reading.py
# checks the two agree). Per status: (opening words, phrases).
KEYWORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "on_track": (
        (
            "ok",
            "oké",
            "oke",
            "okay",
            "goed",
            "prima",
            "top",
            "fine",
            "good",
            "great",
            "👍",
            "👌",
            "✅",
            "🙂",
            "😊",
        ),
        (
            "op schema",
            "op koers",
            "gaat goed",
            "loopt goed",
            "alles goed",
            "alles prima",
            "alles ok",
            "alles loopt",
            "loopt prima",
            "geen problemen",
            "on track",
            "on schedule",
            "all good",
            "going well",
            "going fine",
            "no problems",
            "all fine",
        ),
    ),
    "need_help": (
        ("help", "hulp", "sos", "🆘", "🙋"),
        (
            "hulp nodig",
            "help nodig",
            "hulp gebruiken",
            "hulp graag",
            "wil graag hulp",
            "need help",
            "needs help",
            "need some help",
            "use some help",
            "could use help",
            "help needed",
            "help please",
        ),
    ),
    "blocked": (
        ("vast", "🚧", "⛔"),
        (
            "zit vast",
            "zitten vast",
            "zit ik vast",
            "zitten we vast",
            "loop ik vast",
            "loop vast",
            "lopen vast",
            "vastgelopen",
            "geblokkeerd",
            "kan niet verder",
            "kunnen niet verder",
            "blocked",
            "stuck",
            "can't continue",
            "cannot continue",
            "can't move forward",
        ),
    ),
    "stopping": (
        ("quit",),
        (
            "ik stop",
            "ik moet stoppen",
            "ik ga stoppen",
            "ik wil stoppen",
            "moet stoppen",
            "moeten stoppen",
            "moet ik stoppen",
            "ga ik stoppen",
            "ik haak af",
            "ik stop ermee",
            "stop ermee",
            "stoppen ermee",
            "i have to stop",
            "have to stop",
            "need to stop",
            "i must stop",
            "i'm quitting",
            "i am quitting",
            "i quit",
            "i'm stopping",
            "i am stopping",
            "dropping out",
        ),
    ),
}

NEGATIONS = frozenset(
    ("niet", "geen", "nooit", "not", "no", "never", "don't", "dont", "doesn't", "isn't")
)
UNITS = frozenset(
    (
        "dag",
        "dagen",
        "week",
        "weken",
        "maand",
        "maanden",
        "uur",
        "uren",
        "min",
        "minuten",
        "keer",
        "x",
        "day",
        "days",
        "weeks",
        "month",
        "months",
        "hour",
        "hours",
        "minutes",
        "times",
        "jan",
        "feb",
        "mrt",
        "mar",
        "apr",
        "mei",
        "may",
        "jun",
        "jul",
        "aug",
        "sep",
        "okt",
        "oct",
        "nov",
        "dec",
        "januari",
        "februari",
        "maart",
        "april",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
        "january",
        "february",
        "march",
        "june",
        "july",
        "august",
        "october",
        "pm",
        "am",
        "personen",
        "people",
        "mensen",
    )
)

_LEADING_NUMBER = re.compile(r"\s*([1-4])(?:\ufe0f?\u20e3)?(?![\d.,:/]\d)(?=$|[\s.:)\-–—,!;/])")
_SEPARATORS = " \t\n.:)-–—,!;/=>"
_WORD = re.compile(r"[\w'’]+|[^\w\s]", re.UNICODE)
_DECORATION = re.compile(r"[\ufe0f\u200d\U0001F3FB-\U0001F3FF]")


@dataclass(frozen=True)
class Reading:
    status: str | None  # on_track | need_help | blocked | stopping | None (unclear)
    note: str  # the rest of the text, whitespace tidied (may be "")
    optout: str | None  # "stop" (the text is only an opt-out word) | "start" | None


def read_answer(text: str) -> Reading:
    """The status, note and opt-out the text names (see the module docstring)."""
    tidy = tidy_text(text)
    optout = optout_word(tidy)
    if optout:
        return Reading(None, "", optout)
    numbered = _by_number(tidy)
    if numbered:
        return numbered
    status, alone = _by_keyword(tidy)
    return Reading(status, "" if alone else tidy, None)


def tidy_text(text: str) -> str:
    """NFC, lines stripped, runs of spaces made one, at most one blank line in a row."""
    lines = [" ".join(line.split()) for line in unicodedata.normalize("NFC", text).splitlines()]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()


def optout_word(text: str) -> str | None:
    """``"stop"``/``"start"`` when the text is only such a word, else None."""
    bare = "".join(ch for ch in text.casefold() if ch.isalnum())
    for what, words in OPTOUT_WORDS.items():
        if bare in words:
            return what
    return None


def _by_number(text: str) -> Reading | None:
    match = _LEADING_NUMBER.match(text)
    if not match:
        return None
    rest = text[match.end() :].lstrip(_SEPARATORS)
    first = _words(rest)[:1]
    if first and first[0] in UNITS:
        return None
    return Reading(NUMBERS[match.group(1)], tidy_text(rest), None)


def _words(text: str) -> list[str]:
    plain = _DECORATION.sub("", text.casefold().replace("’", "'"))
    return _WORD.findall(plain)


def _by_keyword(text: str) -> tuple[str | None, bool]:
    """The status the keywords name, and whether the text is nothing but that keyword."""
    tokens = _words(text[:KEYWORD_WINDOW])
    words = [token for token in tokens if not _is_punctuation(token)]
    found = {status for status in GRAVITY if _has_phrase(tokens, status)}
    if found:
        status = next(s for s in GRAVITY if s in found)
        return status, _only(words, status)
    opener = _opening_word(text)
    for status in GRAVITY:
        if opener in KEYWORDS[status][0]:
            return status, _only(words, status)
    return None, False


def _opening_word(text: str) -> str | None:
    """The first word when it stands alone: at the end of its line or before a punctuation
    mark or an emoji ("Ok!", "Prima, ..."), not before another word ("Good morning")."""
    first = _words(text.split("\n", 1)[0])
    if not first or (len(first) > 1 and first[1][0].isalnum()):
        return None
    return first[0]


def _is_punctuation(token: str) -> bool:
    return all(unicodedata.category(ch).startswith("P") for ch in token)


def _has_phrase(tokens: list[str], status: str) -> bool:
    present = set(tokens)
    for wanted in _PHRASE_TOKENS[status]:
        if wanted[0] not in present:
            continue
        size = len(wanted)
        for at in range(len(tokens) - size + 1):
            if tokens[at : at + size] == wanted and not _negated(tokens, at, size):
                return True
    return False


def _negated(tokens: list[str], at: int, size: int) -> bool:
    """A negation in the two words before the phrase, or a Dutch "niet" just after it."""
    if any(token in NEGATIONS for token in tokens[max(0, at - 2) : at]):
        return True
    return tokens[at + size : at + size + 1] == ["niet"]


def _only(words: list[str], status: str) -> bool:
    if len(words) == 1 and words[0] in KEYWORDS[status][0]:
        return True
    return words in _PHRASE_TOKENS[status]


_PHRASE_TOKENS = {
    status: [_words(phrase) for phrase in phrases] for status, (_, phrases) in KEYWORDS.items()
}
