"""The small notations a plan is written in: durations, times, dates, reachable hours.

Each parser takes the text a coordinator typed and returns a value or raises
``ValueError`` with a message that says what was expected. The plan models use
them as validators; the loader turns the messages into located errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_SHORT = re.compile(r"(\d+)\s*(w|d|h|m|s)")
# No agreement needs an offset or a length of ten years; far larger numbers
# overflow Python's dates and timedeltas where the plan is scheduled.
MAX_DURATION_DAYS = 3653
# Reminders count back from the start and the close comes a day after the end:
# near year 1 or 9999 that arithmetic leaves the range of Python's dates.
MIN_YEAR, MAX_YEAR = 1900, 2999
_ISO = re.compile(
    r"P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?"
)


@dataclass(frozen=True, order=True)
class Duration:
    """A span of calendar days plus exact seconds.

    Days and weeks are nominal (the same wall-clock time N days earlier, as
    RFC 5545 counts them); hours, minutes and seconds are exact.
    """

    days: int = 0
    seconds: int = 0

    def __str__(self) -> str:
        return self.text()

    def text(self) -> str:
        parts = []
        days = self.days
        if days and days % 7 == 0:
            parts.append(f"{days // 7}w")
            days = 0
        if days:
            parts.append(f"{days}d")
        hours, rest = divmod(self.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        for amount, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")):
            if amount:
                parts.append(f"{amount}{unit}")
        return "".join(parts) or "0m"

    def ical(self) -> str:
        """The RFC 5545 duration value, e.g. ``P1DT2H``."""
        text = "P"
        if self.days % 7 == 0 and self.days and not self.seconds:
            return f"P{self.days // 7}W"
        if self.days:
            text += f"{self.days}D"
        if self.seconds or not self.days:
            hours, rest = divmod(self.seconds, 3600)
            minutes, seconds = divmod(rest, 60)
            text += "T"
            text += f"{hours}H" if hours else ""
            text += f"{minutes}M" if minutes else ""
            text += f"{seconds}S" if seconds or not (hours or minutes) else ""
        return text

    @property
    def approx(self) -> timedelta:
        """Length as a timedelta, counting a day as 24 hours (for ordering and sizes)."""
        return timedelta(days=self.days, seconds=self.seconds)

    def before(self, moment: datetime) -> datetime:
        """``moment`` minus this duration, days on the wall clock of ``moment``'s zone."""
        return _shift(moment, -self.days, -self.seconds).astimezone(moment.tzinfo)

    def after(self, moment: datetime) -> datetime:
        """``moment`` plus this duration, days on the wall clock of ``moment``'s zone."""
        return _shift(moment, self.days, self.seconds).astimezone(moment.tzinfo)

    def before_utc(self, moment: datetime) -> datetime:
        """``before`` as a UTC instant (what the timeline keeps), one conversion less."""
        return _shift(moment, -self.days, -self.seconds)

    def after_utc(self, moment: datetime) -> datetime:
        """``after`` as a UTC instant."""
        return _shift(moment, self.days, self.seconds)


def _shift(moment: datetime, days: int, seconds: int) -> datetime:
    """``moment`` moved by calendar days on its wall clock, then by exact seconds, in UTC."""
    zone = moment.tzinfo
    if zone is None:
        raise ValueError("a zone-aware datetime is needed")
    if days:
        wall = moment.replace(tzinfo=None) + timedelta(days=days)
        # Round-trip through UTC so a wall time that falls in a DST gap is normalised.
        shifted = wall.replace(tzinfo=zone).astimezone(UTC)
    else:
        shifted = moment.astimezone(UTC)
    return shifted + timedelta(seconds=seconds) if seconds else shifted


def parse_duration(text: object) -> Duration:
    """``90m``, ``2h``, ``3d``, ``1w``, ``1h30m`` or ISO 8601 ``P3D``, ``PT2H``, ``P1DT12H``."""
    if isinstance(text, Duration):
        return text
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValueError("expected a duration like 90m, 2h, 3d, 1w or P3D")
    raw = str(text).strip()
    if isinstance(text, int) or raw.isdigit():
        raise ValueError(f"'{raw}' has no unit: write {raw}m, {raw}h or {raw}d")
    duration = _parse_iso_duration(raw) if raw.upper().startswith("P") else _parse_short(raw)
    if duration.days + duration.seconds // 86400 > MAX_DURATION_DAYS:
        raise ValueError(f"'{raw}' is longer than ten years: no plan needs that long")
    return duration


def _parse_short(raw: str) -> Duration:
    compact = raw.replace(" ", "").lower()
    pieces = _SHORT.findall(compact)
    if not pieces or "".join(a + u for a, u in pieces) != compact:
        raise ValueError(f"'{raw}' is not a duration: use 90m, 2h, 3d, 1w or ISO 8601 like P3D")
    days = seconds = 0
    for amount, unit in pieces:
        if unit == "w":
            days += 7 * int(amount)
        elif unit == "d":
            days += int(amount)
        else:
            seconds += int(amount) * _UNIT_SECONDS[unit]
    return Duration(days, seconds)


def _parse_iso_duration(raw: str) -> Duration:
    if re.search(r"\d+[YM]", raw.upper().split("T")[0]):
        raise ValueError(f"'{raw}': months and years have no fixed length; use days or weeks")
    match = _ISO.fullmatch(raw.upper())
    if not match or raw.upper() in ("P", "PT") or raw.upper().endswith("T"):
        raise ValueError(f"'{raw}' is not an ISO 8601 duration like P3D or PT2H")
    part = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    return Duration(part["w"] * 7 + part["d"], part["h"] * 3600 + part["m"] * 60 + part["s"])


def parse_time(text: object) -> time:
    """``09:00`` or ``9:00``; ``24:00`` is not a time of day."""
    if isinstance(text, time):
        return text
    if not isinstance(text, str):
        raise ValueError("expected a time like 09:00")
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"'{text}' is not a time: use HH:MM, like 09:00")
    return time(int(match[1]), int(match[2]))


def parse_date(text: object) -> date:
    """``2027-01-11``."""
    if isinstance(text, datetime):
        raise ValueError("expected a date without a time, like 2027-01-11")
    if isinstance(text, date):
        return text
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise ValueError(f"'{text}' is not a date: use YYYY-MM-DD, like 2027-01-11")
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is not a date in the calendar") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f"'{text}' is out of range: use a year from {MIN_YEAR} to {MAX_YEAR}")
    return day


def parse_datetime(text: object) -> datetime:
    """``2027-01-11 10:00`` (or with a ``T``); naive, local to the plan's zone."""
    if isinstance(text, datetime):
        return text.replace(tzinfo=None)
    if not isinstance(text, str):
        raise ValueError("expected a date and time like 2027-01-11 10:00")
    match = re.fullmatch(r"\s*(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})\s*", text)
    if not match:
        raise ValueError(f"'{text}' is not a date and time: use YYYY-MM-DD HH:MM")
    return datetime.combine(parse_date(match[1]), parse_time(match[2]))


def parse_zone(text: object) -> str:
    """An IANA time zone name such as ``Europe/Amsterdam``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected an IANA time zone like Europe/Amsterdam")
    name = text.strip()
    if name.startswith(("/", ".")) or ".." in name or _machine_zone(name):
        raise ValueError(f"'{name}' is not an IANA time zone: use a name like Europe/Amsterdam")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # A folder of zones ('Europe') is found by tzdata and then cannot be read as one.
        raise ValueError(
            f"unknown time zone '{name}': use an IANA name like Europe/Amsterdam"
        ) from None
    return name


def _machine_zone(name: str) -> bool:
    """Files in the zone folder that are not zone names: what they mean differs per machine."""
    return name in ("localtime", "posixrules") or name.startswith(("posix/", "right/"))


# Reachable hours -------------------------------------------------------------

DAY_NAMES: dict[str, int] = {}
for _index, _names in enumerate(
    (
        ("mon", "monday", "ma", "maandag"),
        ("tue", "tuesday", "di", "dinsdag"),
        ("wed", "wednesday", "wo", "woensdag"),
        ("thu", "thursday", "do", "donderdag"),
        ("fri", "friday", "vr", "vrijdag"),
        ("sat", "saturday", "za", "zaterdag"),
        ("sun", "sunday", "zo", "zondag"),
    )
):
    for _name in _names:
        DAY_NAMES[_name] = _index
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class Period:
    """Reachable from ``start`` to ``end`` minutes after midnight (end included)."""

    start: int
    end: int


@dataclass(frozen=True)
class Reachable:
    """Reachable hours per weekday (0 = Monday), as written in the plan."""

    text: str
    week: tuple[tuple[Period, ...], ...]

    def on(self, weekday: int) -> tuple[Period, ...]:
        return self.week[weekday]


def parse_weekday(text: object) -> int:
    """``monday``, ``mon``, ``maandag`` or ``ma`` -> 0."""
    if not isinstance(text, str) or text.strip().lower() not in DAY_NAMES:
        raise ValueError(f"'{text}' is not a day: use mon..sun or ma..zo")
    return DAY_NAMES[text.strip().lower()]


def _parse_days(text: str) -> set[int]:
    days: set[int] = set()
    for piece in text.split(","):
        if "-" in piece:
            first, last = (parse_weekday(p) for p in piece.split("-", 1))
            day = first
            days.add(day)
            while day != last:
                day = (day + 1) % 7
                days.add(day)
        else:
            days.add(parse_weekday(piece))
    return days


def _parse_minutes(text: str) -> int:
    if text.strip() == "24:00":
        return 24 * 60
    clock = parse_time(text)
    return clock.hour * 60 + clock.minute


def _parse_ranges(text: str) -> tuple[Period, ...]:
    periods = []
    for piece in text.split(","):
        bounds = piece.split("-")
        if len(bounds) != 2:
            raise ValueError(f"'{piece}' is not a time range like 09:00-17:00")
        start, end = (_parse_minutes(b) for b in bounds)
        if end <= start:
            raise ValueError(f"'{piece}': the end must come after the start")
        periods.append(Period(start, end))
    return tuple(sorted(periods, key=lambda p: p.start))


def parse_reachable(text: object) -> Reachable:
    """Reachable hours: ``mon-thu 09:00-17:00; fri 09:00-12:00``.

    Groups are separated by ``;``. A group is days (``mon-fri``, ``ma,wo,vr``,
    English or Dutch) and/or time ranges (``09:00-12:00,13:00-17:00``). Days
    without times mean the whole day; times without days mean every day.
    """
    if isinstance(text, Reachable):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected reachable hours like 'mon-fri 09:00-17:00'")
    week: list[list[Period]] = [[] for _ in range(7)]
    for group in text.split(";"):
        days, periods = _parse_group(group.strip().lower(), text)
        for day in days:
            week[day].extend(periods)
    return Reachable(text.strip(), tuple(_merged(day) for day in week))


def _parse_group(group: str, whole: str) -> tuple[set[int], tuple[Period, ...]]:
    words = group.split()
    if not words or len(words) > 2:
        raise ValueError(
            f"'{whole}' is not reachable hours: write days and times, like "
            "'mon-fri 09:00-17:00' or 'ma-do 09:00-17:00; vr 09:00-12:00'"
        )
    try:
        if len(words) == 2:
            return _parse_days(words[0]), _parse_ranges(words[1])
        if re.match(r"\d", words[0]):
            return set(range(7)), _parse_ranges(words[0])
        return _parse_days(words[0]), (Period(0, 24 * 60),)
    except ValueError as error:
        raise ValueError(f"'{whole}': {error}") from None


def _merged(periods: list[Period]) -> tuple[Period, ...]:
    merged: list[Period] = []
    for period in sorted(periods, key=lambda p: p.start):
        if merged and period.start <= merged[-1].end:
            merged[-1] = Period(merged[-1].start, max(merged[-1].end, period.end))
        else:
            merged.append(period)
    return tuple(merged)


# -- check-in rules (RRULE, RFC 5545 section 3.3.10) ---------------------------------------

# The parts RFC 5545 defines. dateutil reads more (BYEASTER, BYWEEKDAY); calendar
# apps do not, so a feed carrying them would repeat differently from the engine.
RULE_PARTS = (
    "FREQ",
    "UNTIL",
    "COUNT",
    "INTERVAL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
)
_RULE_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY")
_NUMBER = re.compile(r"[+-]?\d{1,3}")
_BYDAY = re.compile(rf"(?P<n>[+-]?\d{{1,2}})?(?P<day>{'|'.join(WEEKDAY_CODES)})")
# Each BYxxx list: its allowed magnitudes, and whether a negative value counts back.
_RANGES = {"BYMONTH": (1, 12, False), "BYMONTHDAY": (1, 31, True), "BYSETPOS": (1, 366, True)}


def check_rule(rule: str) -> dict[str, str]:
    """The parts of an RRULE for check-ins, or ``ValueError`` saying what is wrong.

    Beyond RFC 5545's grammar: check-ins end with the plan (no UNTIL, COUNT) and
    open at ``at`` (no BYHOUR, BYMINUTE, BYSECOND); FREQ is DAILY, WEEKLY or MONTHLY.
    """
    parts = _rule_parts(rule)
    if "UNTIL" in parts or "COUNT" in parts:
        raise ValueError("leave UNTIL and COUNT out of the rule: check-ins end with the plan")
    if parts.get("FREQ") not in _RULE_FREQUENCIES:
        raise ValueError("the rule's FREQ must be DAILY, WEEKLY or MONTHLY")
    # The rule picks days; 'at' is the time. BYMINUTE=0,...,59 would open a window a minute.
    timed = [part for part in ("BYHOUR", "BYMINUTE", "BYSECOND") if part in parts]
    if timed:
        raise ValueError(f"leave {' and '.join(timed)} out of the rule: 'at' sets the time")
    # dateutil loops for ever on INTERVAL=0 when the rule is expanded.
    if "INTERVAL" in parts and not (parts["INTERVAL"].isdigit() and int(parts["INTERVAL"]) >= 1):
        raise ValueError("the rule's INTERVAL must be a whole number of at least 1")
    _check_frequency_parts(parts)
    for name, value in parts.items():
        _check_values(name, value, parts["FREQ"])
    return parts


def _rule_parts(rule: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in rule.split(";"):
        if not part:
            raise ValueError("the rule has an empty part: a ';' at the end or two in a row")
        name, equals, value = part.partition("=")
        if not (equals and name and value):
            raise ValueError(f"'{part}' is not a rule part: write NAME=VALUE, like BYDAY=MO")
        if name not in RULE_PARTS:
            raise ValueError(
                f"{name} is not part of an RRULE (RFC 5545): calendar apps would not "
                "repeat the check-ins as pactkeeper does"
            )
        if name in parts:
            raise ValueError(f"{name} appears twice in the rule")
        parts[name] = value
    return parts


def _check_frequency_parts(parts: dict[str, str]) -> None:
    """The combinations RFC 5545 forbids for DAILY, WEEKLY and MONTHLY rules."""
    freq = parts["FREQ"]
    if "BYWEEKNO" in parts or "BYYEARDAY" in parts:
        name = "BYWEEKNO" if "BYWEEKNO" in parts else "BYYEARDAY"
        raise ValueError(f"{name} goes with FREQ=YEARLY only (RFC 5545), not FREQ={freq}")
    if freq == "WEEKLY" and "BYMONTHDAY" in parts:
        raise ValueError("BYMONTHDAY does not go with FREQ=WEEKLY (RFC 5545)")
    if "BYSETPOS" in parts and not any(p in parts for p in ("BYDAY", "BYMONTHDAY", "BYMONTH")):
        raise ValueError("BYSETPOS picks from the days another BY part gives (RFC 5545)")


def _check_values(name: str, value: str, freq: str) -> None:
    if name == "WKST" and value not in WEEKDAY_CODES:
        raise ValueError(f"WKST={value}: expected one of {', '.join(WEEKDAY_CODES)}")
    for item in value.split(",") if name.startswith("BY") else ():
        if name == "BYDAY":
            _check_byday(item, freq)
        elif not _in_range(name, item):
            low, high, signed = _RANGES[name]
            allowed = f"{low} to {high}" + (f" or -{high} to -{low}" if signed else "")
            raise ValueError(f"{name}={item} is not allowed: {name} takes {allowed}")


def _in_range(name: str, item: str) -> bool:
    low, high, signed = _RANGES[name]
    if not _NUMBER.fullmatch(item):
        return False
    number = int(item)
    return low <= abs(number) <= high and (signed or number > 0)


def _check_byday(item: str, freq: str) -> None:
    match = _BYDAY.fullmatch(item)
    if match is None:
        raise ValueError(f"BYDAY={item}: expected a day such as MO, or 1MO for the first Monday")
    if match["n"] is None:
        return
    if freq != "MONTHLY":
        raise ValueError(f"BYDAY={item}: a numbered day (1MO, -1FR) goes with FREQ=MONTHLY")
    if not 1 <= abs(int(match["n"])) <= 5:
        raise ValueError(f"BYDAY={item}: a month has at most five of each day (1 to 5, -1 to -5)")
