"""General words and text helpers that many messages share, in Dutch and English.

Kept apart from the i18n machinery in ``worker.messages`` (which renders and formats):
this module holds the word tables (``WORDS``, the field ``LABELS``) and the helpers around
them, English msgids marked with ``NP_`` whose Dutch lives in the catalog (no Python table
per language), so a feature's drafts import words without importing the runbook, the composer or
another feature. ``md`` and its siblings keep plan text from becoming markup: every piece
of plan text a Markdown message shows passes through one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from config.notation import WEEKDAY_CODES, Duration, Period, Reachable
from config.plan import Checkins
from worker.messages import NP_, ByLanguage, Prepared, escape, locale, ngettext_in, pgettext_in
from worker.timeline import checkin_rule

LABEL = "message label"  # the catalog context of the field labels (docs/glossary.md)
LABELS = {
    "checkin": NP_("message label", "Check in now"),
    "when": NP_("message label", "When"),
    "where": NP_("message label", "Where"),
    "due": NP_("message label", "Due"),
    "owner": NP_("message label", "Owner"),
    "footer": NP_(
        "message label", "Sent by pactkeeper for {title}. Questions? Reply to this message."
    ),
    "privacy": NP_("message label", "How pactkeeper keeps your data"),
}


def label(lang: str, name: str) -> str:
    return pgettext_in(lang, LABEL, LABELS[name])


LINK = "message link"  # the catalog context of link labels (docs/glossary.md)
STATUS_LINK = NP_("message link", "See where things stand")
PRIVACY_LINK = NP_("message link", "Privacy")


def status_link_label(lang: str) -> str:
    """The label of a link to the plan's status page, in ``lang``."""
    return pgettext_in(lang, LINK, STATUS_LINK)


def privacy_link_label(lang: str) -> str:
    """The one word before the privacy notice's link on every message's last line."""
    return pgettext_in(lang, LINK, PRIVACY_LINK)


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


_URL = re.compile(r"https?://[^\s<>|`\\\[\]]+")


def md(text: str, inline: bool = False) -> Prepared:
    """Plan text as one line of Markdown that shows exactly that text (a ``Prepared``).

    Line breaks become spaces (a value sits inside a sentence, list item or
    table cell); characters that would start emphasis, code, links, HTML or a
    table cell are escaped, and so is a mark that would start a heading, quote
    or list at the beginning of a line (unless the caller puts the value
    ``inline``, never at the start of a line or list item). The message templates
    show the result as it is (``worker.messages.Prepared``).
    """
    return escape(text, inline)


def maybe(text: str | None) -> Prepared | None:
    return md(text) if text else None


def email_link(address: str) -> Prepared:
    return Prepared(f"<{address}>") if _EMAIL.fullmatch(address) else md(address)


def place(location: str) -> Prepared:
    """A place as text, or a video link as a link."""
    return Prepared(f"<{location}>") if _URL.fullmatch(location) else md(location)


def code(text: str) -> Prepared:
    """A command or file name in a code span; a ``|`` would split a table cell even there."""
    return md(text) if "`" in text or "|" in text else Prepared(f"`{text}`")


@dataclass(frozen=True)
class Words:
    """What the runbook says in one language outside its templates' sentences."""

    day_range: str
    hours: str
    all_day: str
    every_day: str
    no_hours: str
    channels: dict[str, str]
    only: str
    first: str
    then: str
    cadence: dict[str, str]
    barriers: dict[str, str]
    kinds: dict[str, str]
    labels: dict[str, str]
    rungs: dict[str, str]
    nobody: str
    rhythm: dict[str, str]
    ordinals: dict[int, str]


RUNBOOK = "runbook"  # the catalog context of these words (docs/glossary.md)

# English msgids; ``WORDS[lang]`` is this table in ``lang`` (the catalog has the Dutch).
EN = Words(
    day_range=NP_("runbook", "{first} to {last}"),
    hours=NP_("runbook", "from {start} to {end}"),
    all_day=NP_("runbook", "all day"),
    every_day=NP_("runbook", "every day"),
    no_hours=NP_("runbook", "no fixed hours agreed"),
    channels={
        "email": NP_("runbook", "e-mail"),
        "sms": NP_("runbook", "SMS"),
        "whatsapp": NP_("runbook", "WhatsApp"),
        "slack": NP_("runbook", "Slack"),
        "teams": NP_("runbook", "Microsoft Teams"),
        "mattermost": NP_("runbook", "Mattermost"),
        "telegram": NP_("runbook", "Telegram"),
        "webhook": NP_("runbook", "their own system (webhook)"),
        "apprise": NP_("runbook", "their own notification service (Apprise)"),
    },
    only=NP_("runbook", "{} only"),
    first=NP_("runbook", "{} first"),
    then=NP_("runbook", ", then {}"),
    cadence={
        "daily": NP_("runbook", "every day"),
        "weekly": NP_("runbook", "every week"),
        "biweekly": NP_("runbook", "every other week"),
        "monthly": NP_("runbook", "every month"),
    },
    barriers={
        "time": NP_("runbook", "time"),
        "money": NP_("runbook", "money"),
        "skills": NP_("runbook", "skills"),
        "other": NP_("runbook", "other"),
    },
    kinds={
        "result": NP_("runbook", "a lasting result"),
        "activity": NP_("runbook", "a one-off activity"),
    },
    labels={
        "contact": NP_("runbook", "main contact"),
        "deputy": NP_("runbook", "deputy contact"),
        "lead": NP_("runbook", "team lead"),
        "successor": NP_("runbook", "successor"),
    },
    rungs={
        "self": NP_("runbook", "you"),
        "lead": NP_("runbook", "the team lead ({name})"),
        "contact": NP_("runbook", "the contact at {partner} ({name})"),
        "deputy": NP_("runbook", "the deputy contact ({name})"),
        "successor": NP_("runbook", "the successor ({name})"),
    },
    nobody=NP_("runbook", "nobody (the plan names no deputy or successor for this step)"),
    rhythm={
        "daily": NP_("runbook", "every day"),
        "days": NP_("runbook", "every {n} days"),
        "weekly": NP_("runbook", "every {days}"),
        "biweekly": NP_("runbook", "every other {days}"),
        "weeks": NP_("runbook", "every {n} weeks on {days}"),
        "nth": NP_("runbook", "on the {nth} {day} of the month"),
        "monthday": NP_("runbook", "on the {n} of the month"),
        "lastday": NP_("runbook", "on the last day of the month"),
        "monthly": NP_("runbook", "{when}"),
        "months": NP_("runbook", "{when}, every {n} months"),
        "other": NP_("runbook", "on a schedule of its own"),
    },
    ordinals={
        1: NP_("runbook", "first"),
        2: NP_("runbook", "second"),
        3: NP_("runbook", "third"),
        4: NP_("runbook", "fourth"),
        5: NP_("runbook", "fifth"),
        -1: NP_("runbook", "last"),
    },
)


WORDS = ByLanguage(RUNBOOK, EN)


def listed(items: list[str], lang: str) -> str:
    """``a, b en c`` / ``a, b and c``."""
    from babel.lists import format_list

    return str(format_list(items, locale=locale(lang))) if items else ""


def day_name(weekday: int, lang: str) -> str:
    """``maandag`` / ``Monday`` (0 = Monday)."""
    from babel.dates import get_day_names

    return str(get_day_names("wide", locale=locale(lang))[weekday])


def counted(amount: int, unit: str, lang: str) -> str:
    """``1 dag``, ``3 weeks``: the catalog's plural forms of each unit."""
    return _UNITS[unit](lang, amount) % {"num": amount}


# One ngettext call per unit, so that pybabel finds each pair of forms.
_UNITS = {
    "week": lambda lang, n: ngettext_in(lang, "%(num)s week", "%(num)s weeks", n),
    "day": lambda lang, n: ngettext_in(lang, "%(num)s day", "%(num)s days", n),
    "hour": lambda lang, n: ngettext_in(lang, "%(num)s hour", "%(num)s hours", n),
    "minute": lambda lang, n: ngettext_in(lang, "%(num)s minute", "%(num)s minutes", n),
    "second": lambda lang, n: ngettext_in(lang, "%(num)s second", "%(num)s seconds", n),
}


def duration_words(span: Duration, lang: str) -> str:
    """``2 dagen``, ``1 week``, ``90 minuten``, ``2 hours``, ``1 day and 6 hours``."""
    parts = []
    if span.days:
        weeks, days = divmod(span.days, 7)
        parts.append(counted(weeks, "week", lang) if not days else counted(span.days, "day", lang))
    hours, rest = divmod(span.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours and (minutes or seconds) and hours < 3 and not seconds:
        hours, minutes = 0, hours * 60 + minutes  # "90 minuten" reads better than "1 uur en 30"
    for amount, unit in ((hours, "hour"), (minutes, "minute"), (seconds, "second")):
        if amount:
            parts.append(counted(amount, unit, lang))
    return listed(parts, lang) or counted(0, "minute", lang)


def offsets_words(offsets: list[Duration], lang: str) -> str:
    """``7 dagen, 1 dag en 2 uur`` (longest first)."""
    ordered = sorted(dict.fromkeys(offsets), key=lambda d: d.approx, reverse=True)
    return listed([duration_words(offset, lang) for offset in ordered], lang)


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def day_runs(days: list[int]) -> list[list[int]]:
    """Consecutive weekdays grouped: ``[0, 1, 2, 4]`` -> ``[[0, 1, 2], [4]]``."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def days_words(days: list[int], lang: str) -> str:
    """``maandag t/m donderdag``, ``maandag, woensdag en vrijdag``, ``elke dag``."""
    if len(days) == 7:
        return WORDS[lang].every_day
    pieces: list[str] = []
    for run in day_runs(days):
        names = [day_name(day, lang) for day in run]
        if len(run) >= 3:
            pieces.append(WORDS[lang].day_range.format(first=names[0], last=names[-1]))
        else:
            pieces.extend(names)
    return listed(pieces, lang)


def periods_words(periods: tuple[Period, ...], lang: str) -> str:
    if periods == (Period(0, 24 * 60),):
        return WORDS[lang].all_day
    hours = WORDS[lang].hours
    return listed([hours.format(start=clock(p.start), end=clock(p.end)) for p in periods], lang)


def reachable_words(reachable: Reachable | None, lang: str) -> str:
    """``maandag t/m donderdag van 09:00 tot 17:00; zaterdag van 10:00 tot 12:00``."""
    if reachable is None:
        return WORDS[lang].no_hours
    groups: dict[tuple[Period, ...], list[int]] = {}
    for weekday, periods in enumerate(reachable.week):
        if periods:
            groups.setdefault(periods, []).append(weekday)
    return "; ".join(
        f"{days_words(days, lang)} {periods_words(periods, lang)}"
        for periods, days in sorted(groups.items(), key=lambda group: group[1][0])
    )


def channels_words(channels: list[str], lang: str) -> str:
    """``eerst WhatsApp, dan e-mail`` / ``Slack first, then SMS, then e-mail``."""
    wording = WORDS[lang]
    named = [wording.channels[name] for name in channels]
    if len(named) == 1:
        return wording.only.format(named[0])
    return wording.first.format(named[0]) + "".join(wording.then.format(n) for n in named[1:])


def rule_parts(rule: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in rule.upper().split(";") if "=" in part)


def rhythm_words(checkins: Checkins, start: date, lang: str) -> str:
    """``elke maandag``, ``every other Thursday``, ``op de eerste maandag van de maand``."""
    parts = rule_parts(checkin_rule(checkins, start))
    interval = int(parts.pop("INTERVAL", "1"))
    parts.pop("WKST", None)
    freq = parts.pop("FREQ", "")
    wording = WORDS[lang].rhythm
    if freq == "DAILY" and not parts:
        return wording["daily"] if interval == 1 else wording["days"].format(n=interval)
    if (freq == "WEEKLY" and set(parts) <= {"BYDAY"}) or (
        freq == "DAILY" and set(parts) == {"BYDAY"} and interval == 1
    ):
        return weekly_words(parts.get("BYDAY", WEEKDAY_CODES[start.weekday()]), interval, lang)
    if freq == "MONTHLY" and len(parts) == 1:
        when = monthly_words(parts, lang)
        if when is not None:
            key = "monthly" if interval == 1 else "months"
            return wording[key].format(when=when, n=interval)
    return wording["other"]


def weekly_words(byday: str, interval: int, lang: str) -> str:
    wording = WORDS[lang].rhythm
    codes = byday.split(",")
    if not all(code in WEEKDAY_CODES for code in codes):
        return wording["other"]
    days = listed([day_name(WEEKDAY_CODES.index(code), lang) for code in codes], lang)
    if interval == 1:
        return wording["weekly"].format(days=days)
    if interval == 2:
        return wording["biweekly"].format(days=days)
    return wording["weeks"].format(days=days, n=interval)


def monthly_words(parts: dict[str, str], lang: str) -> str | None:
    """``op de eerste maandag van de maand`` / ``on the 11th of the month``, or None."""
    wording, ordinals = WORDS[lang].rhythm, WORDS[lang].ordinals
    nth = re.fullmatch(r"([+-]?\d)(MO|TU|WE|TH|FR|SA|SU)", parts.get("BYDAY", ""))
    if nth and int(nth[1]) in ordinals:
        weekday = day_name(WEEKDAY_CODES.index(nth[2]), lang)
        return wording["nth"].format(nth=ordinals[int(nth[1])], day=weekday)
    monthday = parts.get("BYMONTHDAY", "")
    if monthday == "-1":
        return wording["lastday"]
    if monthday.isdigit() and 1 <= int(monthday) <= 31:
        return wording["monthday"].format(n=day_ordinal(int(monthday), lang))
    return None


def day_ordinal(number: int, lang: str) -> str:
    """``11th`` / ``11`` (the Dutch sentence adds the ``e`` itself: "de 11e").

    The catalog holds each English ending as its own entry, so a language writes its own.
    """
    if number % 100 in (11, 12, 13) or number % 10 not in (1, 2, 3):
        pattern = pgettext_in(lang, "day of the month", "{n}th")
    elif number % 10 == 1:
        pattern = pgettext_in(lang, "day of the month", "{n}st")
    elif number % 10 == 2:
        pattern = pgettext_in(lang, "day of the month", "{n}nd")
    else:
        pattern = pgettext_in(lang, "day of the month", "{n}rd")
    return pattern.format(n=number)


def runbook_title(lang: str) -> str:
    """The runbook's name inside a sentence (``draaiboek`` / ``runbook``)."""
    return pgettext_in(lang, "runbook", "runbook")


def zone_words(zone: str, lang: str) -> str:
    """``New York (America/New_York)``: the city a reader knows, and the exact zone."""
    from babel.dates import get_timezone_location

    city = get_timezone_location(ZoneInfo(zone), locale=locale(lang), return_city=True)
    return Prepared(f"{md(str(city))} ({zone})")  # an IANA name is letters, digits and /_+-


def duration_or_none(span: Duration | None, lang: str) -> str | None:
    return duration_words(span, lang) if span is not None else None


def cadence_words(cadence: str | None, lang: str) -> str | None:
    if not cadence:
        return None
    return WORDS[lang].cadence.get(cadence.strip().lower(), md(cadence))
