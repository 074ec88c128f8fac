"""A lint for every calendar pactkeeper produces: feeds, invites, CalDAV bodies.

It reads the raw bytes, not a parsed object, because the faults it looks for
are the ones parsers forgive and servers do not: bare LF line ends, lines over
75 octets, DTSTAMP or UNTIL in local time, a TZID without its VTIMEZONE,
comma-separated RDATE lists (Outlook and some servers misread them), and a
RECURRENCE-ID whose value type differs from its DTSTART.

``lint_calendar(data)`` returns the problems found, one line each; an empty
list means the calendar is clean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from icalendar.parser import Contentline

MAX_OCTETS = 75
_UTC_DATETIME = re.compile(r"^\d{8}T\d{6}Z$")
_DATE = re.compile(r"^\d{8}$")


@dataclass
class Property:
    name: str
    params: dict[str, str]
    value: str
    line: int  # where the (unfolded) property starts, from 1


@dataclass
class Block:
    """One BEGIN..END component with its own properties."""

    name: str
    line: int
    properties: list[Property] = field(default_factory=list)

    def all(self, name: str) -> list[Property]:
        return [p for p in self.properties if p.name == name]

    def first(self, name: str) -> Property | None:
        found = self.all(name)
        return found[0] if found else None


def _physical_lines(data: bytes) -> tuple[list[bytes], list[str]]:
    """The lines between CRLFs, and a problem for every bare CR or LF or overlong line."""
    problems = []
    if not data.endswith(b"\r\n"):
        problems.append("the calendar does not end with CRLF")
    if re.search(rb"\r(?!\n)|(?<!\r)\n", data):
        problems.append("a bare CR or LF: every line ends with CRLF")
    # Read on as a reader that forgives bare line ends would, to find the other faults too.
    lines = re.split(rb"\r\n|\r|\n", data)
    if lines and lines[-1] == b"":
        lines.pop()
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_OCTETS:
            problems.append(f"line {number}: {len(line)} octets (at most {MAX_OCTETS})")
    return lines, problems


def _unfold(lines: list[bytes]) -> list[tuple[int, str]]:
    logical: list[tuple[int, str]] = []
    for number, raw in enumerate(lines, 1):
        text = raw.decode("utf-8", errors="replace")
        if text[:1] in (" ", "\t") and logical:
            start, previous = logical[-1]
            logical[-1] = (start, previous + text[1:])
        else:
            logical.append((number, text))
    return logical


def _blocks(data: bytes) -> tuple[list[Block], list[str]]:
    """Every component, in order of BEGIN, with the problems met while reading them."""
    lines, problems = _physical_lines(data)
    blocks: list[Block] = []
    open_blocks: list[Block] = []
    for number, text in _unfold(lines):
        try:
            name, params, value = Contentline(text).parts()
        except ValueError as error:
            problems.append(f"line {number}: cannot be read ({error})")
            continue
        name = name.upper()
        if name == "BEGIN":
            open_blocks.append(Block(value.upper(), number))
            blocks.append(open_blocks[-1])
        elif name == "END":
            if not open_blocks or open_blocks[-1].name != value.upper():
                problems.append(f"line {number}: END:{value} does not close an open component")
            else:
                open_blocks.pop()
        elif open_blocks:
            found = Property(name, {k.upper(): str(v) for k, v in params.items()}, value, number)
            open_blocks[-1].properties.append(found)
        else:
            problems.append(f"line {number}: {name} outside any component")
    problems.extend(f"line {b.line}: BEGIN:{b.name} is never closed" for b in open_blocks)
    return blocks, problems


def _check_stamps(block: Block) -> list[str]:
    return [
        f"line {p.line}: DTSTAMP {p.value} is not UTC (…Z)"
        for p in block.all("DTSTAMP")
        if not _UTC_DATETIME.match(p.value)
    ]


def _check_until(block: Block) -> list[str]:
    start = block.first("DTSTART")
    all_day = start is not None and _is_date(start)
    problems = []
    for rule in block.all("RRULE"):
        parts = dict(part.split("=", 1) for part in rule.value.split(";") if "=" in part)
        until = parts.get("UNTIL")
        if until is None:
            continue
        # RFC 5545 §3.3.10: with a DATE-TIME DTSTART that has a zone, UNTIL is in UTC.
        expected = _DATE if all_day else _UTC_DATETIME
        if not expected.match(until):
            kind = "a DATE" if all_day else "UTC (…Z)"
            problems.append(f"line {rule.line}: UNTIL={until} is not {kind}")
    return problems


def _check_rdates(block: Block) -> list[str]:
    return [
        f"line {p.line}: RDATE lists several values separated by commas"
        for p in block.all("RDATE")
        if "," in p.value
    ]


def _is_date(prop: Property) -> bool:
    return prop.params.get("VALUE", "").upper() == "DATE" or bool(_DATE.match(prop.value))


def _form(prop: Property) -> str:
    if _is_date(prop):
        return "DATE"
    if prop.value.endswith("Z"):
        return "DATE-TIME in UTC"
    return "DATE-TIME with TZID" if "TZID" in prop.params else "floating DATE-TIME"


def _check_recurrence_id(block: Block) -> list[str]:
    start = block.first("DTSTART")
    problems = []
    for recurrence in block.all("RECURRENCE-ID"):
        if start is None:
            problems.append(f"line {recurrence.line}: RECURRENCE-ID without DTSTART")
        elif _form(recurrence) != _form(start):
            problems.append(
                f"line {recurrence.line}: RECURRENCE-ID is a {_form(recurrence)}, "
                f"DTSTART a {_form(start)}"
            )
    return problems


def _check_required(block: Block) -> list[str]:
    if block.name not in ("VEVENT", "VTODO", "VJOURNAL"):
        return []
    return [
        f"line {block.line}: {block.name} has no {name}"
        for name in ("UID", "DTSTAMP")
        if block.first(name) is None
    ]


def _check_zones(blocks: list[Block]) -> list[str]:
    defined = {p.value for b in blocks if b.name == "VTIMEZONE" for p in b.all("TZID") if p.value}
    return [
        f"line {p.line}: TZID={p.params['TZID']} has no VTIMEZONE"
        for b in blocks
        for p in b.properties
        if "TZID" in p.params and p.params["TZID"] not in defined
    ]


def lint_calendar(data: bytes) -> list[str]:
    """Every problem found in one serialised calendar; ``[]`` when it is clean."""
    blocks, problems = _blocks(data)
    if not blocks or blocks[0].name != "VCALENDAR":
        problems.append("the data does not start with BEGIN:VCALENDAR")
    for block in blocks:
        problems += _check_stamps(block)
        problems += _check_until(block)
        problems += _check_rdates(block)
        problems += _check_recurrence_id(block)
        problems += _check_required(block)
    problems += _check_zones(blocks)
    return problems
