"""The timeline picture of the handover report: an SVG drawn by hand, no library.

One picture of the whole partnership, from the start to the end date:

- month ticks along the top (and faint Mondays for plans of a few months);
- the milestones on one line, a diamond for a deadline and a circle for a
  meeting, coloured by outcome (done, overdue, past, still open), their titles
  staggered over a few rows so that neighbours do not overlap;
- one row per person who checks in, one cell per check-in window, coloured by
  what happened to it (answered, late, missed, excused, still open);
- the handover moment as a dashed line through everything, with its label.

Pure and deterministic: the same facts give the same bytes (coordinates are
written with one decimal). Every piece of plan text is XML-escaped, and each
mark carries a ``<title>`` (a tooltip, and what a screen reader says) and
``data-`` attributes that name what it shows, so tests can read the picture
from the DOM.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

WIDTH = 960.0
LEFT = 150.0  # room for the names of the check-in rows
RIGHT = 24.0
ROW = 16.0  # height of one check-in row
LABEL_ROW = 15.0  # height of one row of milestone titles
LABEL_ROWS = 4
CHAR = 6.1  # the width of one character at 11px, a generous estimate
TITLE_CHARS = 30

COLOURS = {
    # check-in windows
    "answered": "#2da44e",
    "late": "#d4a72c",
    "missed": "#cf222e",
    "excused": "#d0d7de",
    "pending": "#ffffff",
    "untracked": "#eaeef2",
    # milestones
    "done": "#2da44e",
    "overdue": "#cf222e",
    "past": "#8c959f",
    "open": "#ffffff",
}

STYLE = (
    "text{font:11px system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;fill:#1f2328}"
    ".axis{stroke:#8c959f;stroke-width:1}.week{stroke:#eaeef2;stroke-width:1}"
    ".month{stroke:#d0d7de;stroke-width:1}.muted{fill:#57606a}"
    ".mark{stroke:#1f2328;stroke-width:1}.cell{stroke:#8c959f;stroke-width:.5}"
    ".handover line{stroke:#0969da;stroke-width:2;stroke-dasharray:6 4}"
    ".handover text{fill:#0969da;font-weight:600}"
    ".as-of line{stroke:#57606a;stroke-width:1;stroke-dasharray:2 3}"
)


@dataclass(frozen=True)
class Point:
    """One milestone on the line."""

    id: str
    title: str
    at: datetime  # the meeting's start or the deadline's anchor, in the plan's zone
    meeting: bool
    state: str  # done | overdue | past | open
    tooltip: str  # the full sentence: title, when, outcome


@dataclass(frozen=True)
class Cell:
    day: date
    state: str  # answered | late | missed | excused | pending | untracked
    tooltip: str


@dataclass(frozen=True)
class Lane:
    """One person's check-in windows."""

    person: str  # id
    name: str
    cells: Sequence[Cell]


@dataclass(frozen=True)
class Words:
    """The few words the picture writes itself, in the report's language."""

    label: str  # the picture's accessible name
    milestones: str
    checkins: str
    handover: str
    as_of: str
    legend: Sequence[tuple[str, str]]  # (state, words)
    months: Sequence[str]  # the twelve short month names


@dataclass(frozen=True)
class Picture:
    start: date
    end: date
    points: Sequence[Point]
    lanes: Sequence[Lane]
    handover: datetime | None
    handover_tooltip: str
    as_of: datetime | None  # drawn only while the plan is still running
    words: Words


class Scale:
    """Days since the start -> x, across the width between the margins."""

    def __init__(self, start: date, end: date) -> None:
        self.start = start
        self.days = max(1, (end - start).days + 1)
        self.per_day = (WIDTH - LEFT - RIGHT) / self.days

    def day(self, day: date) -> float:
        return LEFT + (day - self.start).days * self.per_day

    def moment(self, moment: datetime) -> float:
        since_midnight = moment.hour * 3600 + moment.minute * 60 + moment.second
        return self.day(moment.date()) + since_midnight / 86400 * self.per_day


def _n(value: float) -> str:
    return f"{value:.1f}"


def _text(x: float, y: float, text: str, extra: str = "") -> str:
    return f'<text x="{_n(x)}" y="{_n(y)}"{extra}>{escape(text)}</text>'


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>"


def render(picture: Picture) -> str:
    """The picture as one ``<svg>`` element (standalone, or inline in HTML)."""
    scale = Scale(picture.start, picture.end)
    words = picture.words
    label_rows = _label_rows(picture.points, scale)
    rows_used = max(label_rows.values(), default=-1) + 1
    axis_y = 34.0
    line_y = axis_y + 22 + rows_used * LABEL_ROW + 8
    lanes_top = line_y + 34
    bottom = lanes_top + len(picture.lanes) * ROW
    height = bottom + 46
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(WIDTH)} {_n(height)}" '
        f'width="{_n(WIDTH)}" height="{_n(height)}" role="img" '
        f'aria-label={quoteattr(words.label)} class="timeline">',
        _title(words.label),
        f"<style>{STYLE}</style>",
        *_axis(picture, scale, axis_y, bottom),
        _text(8, line_y + 4, words.milestones, ' class="muted"'),
        f'<line class="axis" x1="{_n(LEFT)}" y1="{_n(line_y)}" '
        f'x2="{_n(WIDTH - RIGHT)}" y2="{_n(line_y)}"/>',
        *_points(picture.points, scale, label_rows, axis_y + 22, line_y),
    ]
    if picture.lanes:
        parts.append(_text(8, lanes_top - 8, words.checkins, ' class="muted"'))
        parts.extend(_lanes(picture, scale, lanes_top))
    parts.extend(_moments(picture, scale, axis_y + 8, bottom))
    parts.extend(_legend(words, bottom + 22))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _axis(picture: Picture, scale: Scale, y: float, bottom: float) -> list[str]:
    parts = ['<g class="months">']
    if scale.days <= 200:
        monday = picture.start + timedelta(days=-picture.start.weekday() % 7)
        while monday <= picture.end:
            week = _n(scale.day(monday))
            parts.append(
                f'<line class="week" x1="{week}" y1="{_n(y + 6)}" x2="{week}" y2="{_n(bottom)}"/>'
            )
            monday += timedelta(days=7)
    month = picture.start.replace(day=1)
    long_plan = (picture.end.year, picture.end.month) != (picture.start.year, picture.start.month)
    while month <= picture.end:
        shown = max(month, picture.start)
        x = scale.day(shown)
        name = picture.words.months[month.month - 1]
        if month.month == 1 or shown == picture.start or not long_plan:
            name = f"{name} {month.year}"
        parts.append(
            f'<line class="month" x1="{_n(x)}" y1="{_n(y - 12)}" x2="{_n(x)}" y2="{_n(bottom)}"/>'
        )
        if WIDTH - RIGHT - x > 24:
            parts.append(_text(x + 3, y, name, ' class="muted"'))
        month = (month + timedelta(days=32)).replace(day=1)
    parts.append("</g>")
    return parts


def _label_rows(points: Sequence[Point], scale: Scale) -> dict[str, int]:
    """The row of each milestone's title: the first row where it does not touch its neighbour."""
    ends = [float("-inf")] * LABEL_ROWS
    rows: dict[str, int] = {}
    for point in sorted(points, key=lambda p: (p.at, p.id)):
        x = scale.moment(point.at)
        width = len(_short(point.title)) * CHAR
        left = min(max(x - 4, LEFT - 60), WIDTH - RIGHT - width)
        free = [row for row in range(LABEL_ROWS) if ends[row] + 6 <= left]
        row = free[0] if free else min(range(LABEL_ROWS), key=lambda r: ends[r])
        ends[row] = left + width
        rows[point.id] = row
    return rows


def _short(title: str) -> str:
    flat = " ".join(title.split())
    return flat if len(flat) <= TITLE_CHARS else flat[: TITLE_CHARS - 1].rstrip() + "…"


def _points(
    points: Sequence[Point], scale: Scale, rows: dict[str, int], top: float, line_y: float
) -> list[str]:
    parts = ['<g class="milestones">']
    for point in sorted(points, key=lambda p: (p.at, p.id)):
        x = scale.moment(point.at)
        width = len(_short(point.title)) * CHAR
        left = min(max(x - 4, LEFT - 60), WIDTH - RIGHT - width)
        label_y = top + rows[point.id] * LABEL_ROW + 10
        fill = COLOURS.get(point.state, "#ffffff")
        if point.meeting:
            mark = f'<circle class="mark" cx="{_n(x)}" cy="{_n(line_y)}" r="6" fill="{fill}"/>'
        else:
            corners = (
                f"{_n(x)},{_n(line_y - 7)} {_n(x + 7)},{_n(line_y)} "
                f"{_n(x)},{_n(line_y + 7)} {_n(x - 7)},{_n(line_y)}"
            )
            mark = f'<polygon class="mark" points="{corners}" fill="{fill}"/>'
        parts.append(
            f'<g class="milestone" data-milestone={quoteattr(point.id)} '
            f'data-state="{point.state}" data-kind="{"meeting" if point.meeting else "deadline"}">'
            f"{_title(point.tooltip)}"
            f'<line class="week" x1="{_n(x)}" y1="{_n(label_y + 3)}" x2="{_n(x)}" '
            f'y2="{_n(line_y - 7)}"/>'
            f"{mark}{_text(left, label_y, _short(point.title))}</g>"
        )
    parts.append("</g>")
    return parts


def _lanes(picture: Picture, scale: Scale, top: float) -> list[str]:
    parts = ['<g class="checkins">']
    for index, lane in enumerate(picture.lanes):
        y = top + index * ROW
        parts.append(f'<g class="lane" data-person={quoteattr(lane.person)}>')
        parts.append(_text(8, y + 11, _short(lane.name)))
        days = sorted(cell.day for cell in lane.cells)
        gaps = [(b - a).days for a, b in itertools.pairwise(days) if b > a]
        span = min(gaps, default=7)
        width = max(2.0, min(span, 7) * scale.per_day - 1.5)
        for cell in lane.cells:
            x = scale.day(cell.day)
            parts.append(
                f'<rect class="cell" data-state="{cell.state}" data-day="{cell.day.isoformat()}" '
                f'x="{_n(x)}" y="{_n(y + 2)}" width="{_n(width)}" height="{_n(ROW - 4)}" '
                f'fill="{COLOURS.get(cell.state, "#ffffff")}">{_title(cell.tooltip)}</rect>'
            )
        parts.append("</g>")
    parts.append("</g>")
    return parts


def _moments(picture: Picture, scale: Scale, top: float, bottom: float) -> list[str]:
    parts = []
    if picture.as_of is not None and picture.start <= picture.as_of.date() <= picture.end:
        now = _n(scale.moment(picture.as_of))
        parts.append(
            f'<g class="as-of">{_title(picture.words.as_of)}'
            f'<line x1="{now}" y1="{_n(top)}" x2="{now}" y2="{_n(bottom)}"/></g>'
        )
    if picture.handover is not None:
        x = scale.moment(picture.handover)
        label = picture.words.handover
        anchor = ' text-anchor="end"' if x + len(label) * CHAR > WIDTH - RIGHT else ""
        shift = -4 if anchor else 4
        parts.append(
            f'<g class="handover" data-at="{picture.handover.isoformat()}">'
            f"{_title(picture.handover_tooltip)}"
            f'<line x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" y2="{_n(bottom + 6)}"/>'
            f"{_text(x + shift, bottom + 16 - 4, label, anchor)}</g>"
        )
    return parts


def _legend(words: Words, y: float) -> list[str]:
    parts = ['<g class="legend">']
    x = 8.0
    for state, text in words.legend:
        parts.append(
            f'<rect class="cell" x="{_n(x)}" y="{_n(y)}" width="10" height="10" '
            f'fill="{COLOURS.get(state, "#ffffff")}"/>'
        )
        parts.append(_text(x + 14, y + 9, text, ' class="muted"'))
        x += 14 + len(text) * CHAR + 16
    parts.append("</g>")
    return parts
