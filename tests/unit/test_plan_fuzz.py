"""Random damage to the example plans: the loader gives a valid plan or clean, located errors.

Hypothesis mutates the Dutch and English examples the way people and editors
break files (a line deleted or doubled, characters swapped, indentation shifted,
a value replaced, stray bytes or characters inserted, the file cut short) and
reads the result with ``load_plan``. The only outcomes allowed are a ``Plan``
(which must then compile to a timeline) or a ``PlanError`` whose every problem is
a ``LINE:COL: field.path: message`` inside the file. Any other exception is a bug;
each one found is kept in ``tests/plans/broken/`` as a named regression file.

The run is derandomized and keeps no example database, so CI sees the same cases.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from config.load import PlanError, Problem, load_plan
from config.plan import Plan
from tests.support import DUTCH, ENGLISH, EXAMPLES
from worker.timeline import compile

SOURCES = {path.name: path.read_bytes() for path in (DUTCH, ENGLISH)}
FIELD = re.compile(r"^\S(.*\S)?$")

Mutation = Callable[[bytes], bytes]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plan folder with the examples' handover documents, so a plan can come out valid."""
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(EXAMPLES / "docs", folder / "docs")
    return folder


# -- mutations, on the bytes of the file -------------------------------------------


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def delete_line(index: int) -> Mutation:
    def apply(data: bytes) -> bytes:
        lines = _lines(data)
        del lines[index % len(lines)]
        return b"\n".join(lines)

    return apply


def duplicate_line(index: int) -> Mutation:
    def apply(data: bytes) -> bytes:
        lines = _lines(data)
        at = index % len(lines)
        return b"\n".join([*lines[: at + 1], lines[at], *lines[at + 1 :]])

    return apply


def swap_characters(position: int) -> Mutation:
    def apply(data: bytes) -> bytes:
        text = data.decode("utf-8", "surrogateescape")
        if len(text) < 2:
            return data
        at = position % (len(text) - 1)
        text = text[:at] + text[at + 1] + text[at] + text[at + 2 :]
        return text.encode("utf-8", "surrogateescape")

    return apply


def reindent(index: int, indent: bytes) -> Mutation:
    def apply(data: bytes) -> bytes:
        lines = _lines(data)
        at = index % len(lines)
        lines[at] = indent + lines[at].lstrip(b" ")
        return b"\n".join(lines)

    return apply


def replace_value(index: int, value: str) -> Mutation:
    """The value after the ``key:`` on one line (or the item after ``- ``) becomes ``value``."""

    def apply(data: bytes) -> bytes:
        lines = _lines(data)
        candidates = [n for n, line in enumerate(lines) if re.search(rb"(: |- )\S", line)]
        if not candidates:
            return data
        at = candidates[index % len(candidates)]
        lines[at] = re.sub(rb"(: |- ).*$", lambda m: m[1] + value.encode(), lines[at], count=1)
        return b"\n".join(lines)

    return apply


def replace_date(index: int, day: date) -> Mutation:
    """One of the plan's dates (start, end, a deadline, a pause) becomes ``day``."""

    def apply(data: bytes) -> bytes:
        found = list(re.finditer(rb"\d{4}-\d{2}-\d{2}", data))
        if not found:
            return data
        match = found[index % len(found)]
        return data[: match.start()] + day.isoformat().encode() + data[match.end() :]

    return apply


def insert(position: int, junk: bytes) -> Mutation:
    def apply(data: bytes) -> bytes:
        at = position % (len(data) + 1)
        return data[:at] + junk + data[at:]

    return apply


def truncate(position: int) -> Mutation:
    return lambda data: data[: position % (len(data) + 1)]


POSITION = st.integers(min_value=0, max_value=20_000)
SCALARS = st.one_of(
    st.text(max_size=30).filter(lambda text: "\n" not in text and "\r" not in text),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.lists(st.text(alphabet="abcdefgh-:0123 ", max_size=8), max_size=4).map(
        lambda items: "[" + ", ".join(items) + "]"
    ),
    st.sampled_from(
        [
            "",
            "~",
            "null",
            "yes",
            "on",
            "{}",
            "[]",
            "10:00",
            "0x1F",
            "0o17",
            "1e400",
            ".inf",
            "*anchor",
            "&a x",
            "!!binary aGVsbG8=",
            "!!python/name:os.system",
            "!!timestamp 2027-01-11",
            "2027-02-30",
            "99999-01-01",
            "0001-01-01",
            "9999-12-31 23:59",
            "P99999999D",
            "FREQ=DAILY;INTERVAL=0",
            "Europe",
            "localtime",
            "Europe/Amsterdam",
            "FREQ=YEARLY",
            "env:",
            "'",
            '"\\x00"',
            "|",
            ">-",
            "? x",
            "%YAML 1.1",
            "---",
            "...",
        ]
    ),
)
JUNK = st.one_of(
    st.binary(min_size=1, max_size=8),
    st.text(min_size=1, max_size=8).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\t", b"\x00", b"\r", b"\xef\xbb\xbf", b"\xe2\x80\xa8", b": ", b"- ", b"#"]),
)
MUTATIONS: st.SearchStrategy[Mutation] = st.one_of(
    st.builds(delete_line, POSITION),
    st.builds(duplicate_line, POSITION),
    st.builds(swap_characters, POSITION),
    st.builds(reindent, POSITION, st.sampled_from([b"", b" ", b"   ", b"      ", b"\t", b" \t"])),
    st.builds(replace_value, POSITION, SCALARS),
    st.builds(replace_date, POSITION, st.dates()),
    st.builds(insert, POSITION, JUNK),
    st.builds(truncate, POSITION),
)


@st.composite
def damaged_plans(draw: st.DrawFn) -> bytes:
    data = SOURCES[draw(st.sampled_from(sorted(SOURCES)))]
    for mutation in draw(st.lists(MUTATIONS, min_size=1, max_size=3)):
        data = mutation(data)
    return data


# -- the property ------------------------------------------------------------------


def assert_clean(error: PlanError, source: str, data: bytes) -> None:
    """Every problem is ``LINE:COL: field.path: message``, pointing inside the file."""
    assert error.problems
    lines = data.decode("utf-8", "replace").count("\n") + 1
    for problem in error.problems:
        assert isinstance(problem, Problem)
        assert 1 <= problem.line <= lines + 1, (problem, lines)
        assert problem.column >= 1, problem
        assert FIELD.match(problem.field), problem
        assert problem.message.strip(), problem
        assert "\n" not in problem.message and "\r" not in problem.message, problem
        assert problem.format(source) == (
            f"{source}:{problem.line}:{problem.column}: {problem.field}: {problem.message}"
        )
    assert "Traceback" not in error.report()


def check(folder: Path, data: bytes) -> None:
    path = folder / "plan.yaml"
    path.write_bytes(data)
    try:
        plan = load_plan(path)
    except PlanError as error:
        assert_clean(error, str(path), data)
        return
    assert isinstance(plan, Plan)
    compile(plan)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=damaged_plans())
@example(data=SOURCES["voedselbank.yaml"])
@example(data=SOURCES["reading-club.yaml"])
def test_damaged_examples_give_a_plan_or_located_errors(folder: Path, data: bytes) -> None:
    check(folder, data)


def test_the_undamaged_examples_load_and_compile(folder: Path) -> None:
    for data in SOURCES.values():
        path = folder / "plan.yaml"
        path.write_bytes(data)
        assert compile(load_plan(path))
