"""Plans that a careless or hostile user wrote, and files that are no plan at all.

Each test is named after what went wrong before: a symlink that carried a server
file into the bundle, a padded id that made two people one, a line break in a name
that broke every e-mail, check-ins that could never open, a plan that scheduled
millions of messages, and ``validate /dev/zero`` reading until memory ran out.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.load import PlanError, load_plan, load_text
from config.plan import document_in_folder
from tests.support import DUTCH, ENGLISH, dump, minimal_data, run_cli


def write_plan(folder: Path, data: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plan.yaml"
    path.write_text(dump(data), encoding="utf-8")
    return path


def with_documents(*documents: str) -> dict[str, object]:
    data = minimal_data()
    data["handover"] = {"at": "2027-06-28 14:00", "documents": list(documents)}
    return data


def problems(path: Path) -> list[str]:
    with pytest.raises(PlanError) as raised:
        load_plan(path)
    return raised.value.report().splitlines()


# -- 1: handover documents and symlinks ---------------------------------------------------


def test_documents_never_follow_a_symlink_out_of_the_plan_folder(tmp_path: Path) -> None:
    secret = tmp_path / "server" / "shadow"
    secret.parent.mkdir()
    secret.write_text("root:*:20228:0:99999:7:::\n")
    folder = tmp_path / "plan"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "passwd.md").symlink_to(secret)
    (folder / "docs" / "etc").symlink_to(secret.parent, target_is_directory=True)
    path = write_plan(folder, with_documents("docs/passwd.md", "docs/etc/shadow"))

    lines = problems(path)

    assert len(lines) == 2, lines
    for index, name in enumerate(["docs/passwd.md", "docs/etc/shadow"]):
        assert f"handover.documents[{index}]: the document '{name}' leads outside" in lines[index]
        assert lines[index].startswith(f"{path}:")
    assert document_in_folder(folder, "docs/etc/shadow") is None


def test_a_symlink_that_stays_inside_the_plan_folder_is_a_document(tmp_path: Path) -> None:
    folder = tmp_path / "plan"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "beheer.md").write_text("# Beheer\n")
    (folder / "latest.md").symlink_to(folder / "docs" / "beheer.md")
    plan = load_plan(write_plan(folder, with_documents("latest.md")))
    assert plan.document_paths() == [(folder / "docs" / "beheer.md").resolve()]
    assert all(p.is_relative_to(plan.document_folder) for p in plan.document_paths())


def test_document_paths_give_the_real_file_so_a_later_symlink_is_seen(tmp_path: Path) -> None:
    """A symlink made after validation: the path handed to the bundle is where it leads."""
    folder = tmp_path / "plan"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "notes.md").write_text("notes\n")
    plan = load_plan(write_plan(folder, with_documents("docs/notes.md")))
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not for the partner\n")
    (folder / "docs" / "notes.md").unlink()
    (folder / "docs" / "notes.md").symlink_to(outside)
    assert plan.document_paths() == [outside.resolve()]
    assert not plan.document_paths()[0].is_relative_to(plan.document_folder)


def test_a_folder_named_as_a_document_is_not_a_regular_file(tmp_path: Path) -> None:
    folder = tmp_path / "plan"
    (folder / "docs").mkdir(parents=True)
    lines = problems(write_plan(folder, with_documents("docs")))
    assert lines == [lines[0]]
    assert "handover.documents[0]: the document 'docs' is not a regular file" in lines[0]


# -- 21: only regular files, read with a cap ------------------------------------------------


def test_validate_refuses_a_device_in_one_line_instead_of_reading_it_for_ever() -> None:
    result = run_cli("validate", "/dev/zero")
    assert result.returncode == 1
    assert result.stderr == (
        "/dev/zero:1:1: file: this is not a regular file (a device, a pipe or a socket)\n"
    )


def test_validate_refuses_a_fifo_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.yaml"
    os.mkfifo(fifo)
    result = run_cli("validate", str(fifo))
    assert result.returncode == 1
    assert result.stderr == (
        f"{fifo}:1:1: file: this is not a regular file (a device, a pipe or a socket)\n"
    )


def test_a_folder_is_still_named_a_folder(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == f"{tmp_path}:1:1: file: this is a folder, not a plan file\n"


def test_the_size_cap_holds_while_reading_a_file_that_reports_no_size() -> None:
    """/proc files report size 0 whatever they hold: the cap is on what is read."""
    kernel_symbols = Path("/proc/kallsyms")  # several MB on every Linux kernel
    assert kernel_symbols.stat().st_size == 0
    assert problems(kernel_symbols) == [
        "/proc/kallsyms:1:1: file: the file holds more than 1,048,576 bytes; "
        "a plan is at most 1024 KiB"
    ]


def load_data(data: dict[str, object]) -> list[str]:
    with pytest.raises(PlanError) as raised:
        load_text(dump(data), "plan.yaml")
    return raised.value.report().splitlines()


# -- 8: ids that differ only by spaces around them ------------------------------------------


def test_ids_that_differ_only_by_surrounding_whitespace_are_one_id() -> None:
    data = minimal_data()
    twin = {"id": "tim ", "name": "Tim Two", "side": "partner", "email": "tim2@p.example"}
    data["people"].append(twin)
    data["milestones"] = [
        {"id": "m1", "title": "Meeting", "at": "2027-01-05 10:00", "attendees": ["pia", "tim"]},
        {"id": " m1", "title": "Meeting again", "at": "2027-01-06 10:00"},
    ]
    lines = load_data(data)
    assert len(lines) == 2, lines
    report = "\n".join(lines)
    assert ": people[2].id: the person id 'tim' is used twice (written 'tim ')" in report
    assert ": milestones[1].id: the milestone id 'm1' is used twice (written ' m1')" in report


def test_a_reference_padded_with_spaces_names_the_person_as_the_models_read_it() -> None:
    data = minimal_data()
    data["milestones"] = [
        {"id": "m1", "title": "Meeting", "at": "2027-01-05 10:00", "attendees": [" pia", "tim "]},
        {"id": "handover ", "title": "Reserved", "due": "2027-02-01"},
    ]
    lines = load_data(data)
    assert len(lines) == 1, lines
    assert ": milestones[1].id: 'handover' is reserved" in lines[0]


# -- 9: line breaks and control characters in plan text -------------------------------------


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("people", 1, "name"), "Tim\r\nBcc: x@evil.example", "holds a line break (U+000D)"),
        (("people", 0, "role"), "Coordinator\u2028Boss", "holds a line break (U+2028)"),
        (("title",), "Test\x1b[31m plan", "holds the control character U+001B"),
        (("team", "name"), "Team\x07", "holds the control character U+0007"),
        (("partner", "name"), "Partner\n", None),  # a trailing newline is stripped: fine
        (("challenge", "need"), "A need\nover two lines", None),  # prose may span lines
        (("challenge", "need"), "A need\x00", "holds the control character U+0000"),
    ],
)
def test_single_line_fields_refuse_line_breaks_and_control_characters(
    where: tuple[str | int, ...], value: str, message: str | None
) -> None:
    data = minimal_data()
    node: Any = data
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    if message is None:
        assert load_text(dump(data), "plan.yaml")
        return
    lines = load_data(data)
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where).lstrip(".")
    assert len(lines) == 1 and f": {field}: {message}" in lines[0], lines
    assert "\r" not in lines[0] and "\x1b" not in lines[0]


def test_an_address_that_no_email_header_can_carry_is_refused() -> None:
    for address in ("a..b@t.example", "a(b@t.example", ".a@t.example", "ä@t.example"):
        data = minimal_data()
        data["people"][1]["email"] = address
        lines = load_data(data)
        assert f"people[1].email: '{address}' is not an e-mail address" in lines[0], lines


# -- 16: check-ins that can never open a window ---------------------------------------------


def with_checkins(**checkins: object) -> dict[str, Any]:
    data = minimal_data()
    data["checkins"] = checkins
    return data


@pytest.mark.parametrize(
    ("checkins", "away", "expected"),
    [
        (
            {"every": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"},
            None,
            "checkins.every: the rhythm gives no check-in day from 2027-01-04 to 2027-06-30",
        ),
        (
            {"every": "weekly", "pauses": [{"from": "2027-01-01", "to": "2027-06-30"}]},
            None,
            "checkins.pauses: the pauses cover every check-in day",
        ),
        (
            {"every": "weekly", "who": "everyone"},
            [
                {"from": "2027-01-01", "to": "2027-03-31"},
                {"from": "2027-03-15", "to": "2027-07-01"},
            ],
            "people[1].away: tim is away on every check-in day",
        ),
    ],
)
def test_check_ins_that_never_open_a_window_for_someone_are_refused(
    checkins: dict[str, object], away: list[dict[str, str]] | None, expected: str
) -> None:
    data = with_checkins(**checkins)
    if away:
        data["people"][1]["away"] = away
    lines = load_data(data)
    assert len(lines) == 1 and expected in lines[0], lines


def test_a_rule_that_never_fires_is_searched_for_one_calendar_cycle_not_to_year_9999() -> None:
    """Expanding such a rule ran dateutil up to the year 9999: 7 to 11 s per plan. The
    span is moved to the last 400-year cycle before 9999, where the search then ends."""
    from config.rhythm import CYCLE_YEARS, cycle_shift, series

    for end in (date(2027, 3, 31), date(2036, 12, 31), date(2999, 12, 31)):
        shift = cycle_shift(end)
        assert shift % CYCLE_YEARS == 0
        assert 0 < 9999 - (end.year + shift) <= CYCLE_YEARS
    for rule in ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=WEEKLY;BYDAY=MO;BYMONTH=2;BYSETPOS=5"):
        assert series(rule, date(2027, 1, 4), date(2036, 12, 31)) == ()


@given(
    rule=st.sampled_from(
        [
            "FREQ=DAILY",
            "FREQ=DAILY;INTERVAL=3",
            "FREQ=WEEKLY;BYDAY=MO,TH",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU",
            "FREQ=MONTHLY;BYDAY=-1FR",
            "FREQ=MONTHLY;BYMONTHDAY=29",
            "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=29",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        ]
    ),
    start=st.dates(min_value=date(1990, 1, 1), max_value=date(2990, 1, 1)),
    days=st.integers(min_value=0, max_value=3653),
)
@settings(max_examples=60, deadline=None)
def test_the_bounded_expansion_gives_the_days_dateutil_gives(
    rule: str, start: date, days: int
) -> None:
    """The span moves by whole 400-year cycles, in which the calendar repeats exactly."""
    from dateutil.rrule import rrulestr

    from config.rhythm import series

    end = start + timedelta(days=days)
    first, last = (
        datetime.combine(start, datetime.min.time()),
        datetime(end.year, end.month, end.day, 23, 59),
    )
    found = rrulestr(rule, dtstart=first).between(first, last, inc=True)
    expected = rrulestr(rule, dtstart=found[0]).between(found[0], last, inc=True) if found else []
    assert series(rule, start, end) == tuple(moment.date() for moment in expected)


@pytest.mark.parametrize(
    ("every", "message"),
    [
        ("FREQ=DAILY;BYEASTER=0", "BYEASTER is not part of an RRULE (RFC 5545)"),
        ("FREQ=DAILY;BYMONTH=13", "BYMONTH=13 is not allowed: BYMONTH takes 1 to 12"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY=0 is not allowed"),
        ("FREQ=DAILY;BYSETPOS=5", "BYSETPOS picks from the days another BY part gives"),
        ("FREQ=DAILY;BYYEARDAY=366;BYMONTH=1", "BYYEARDAY goes with FREQ=YEARLY only"),
        ("FREQ=WEEKLY;BYMONTHDAY=3", "BYMONTHDAY does not go with FREQ=WEEKLY"),
        ("FREQ=WEEKLY;BYDAY=1MO", "BYDAY=1MO: a numbered day (1MO, -1FR) goes with"),
        ("FREQ=WEEKLY;BYDAY=MO;BYDAY=TU", "BYDAY appears twice in the rule"),
        ("FREQ=DAILY\nRRULE:FREQ=MINUTELY", "holds a line break (U+000A)"),
        ("FREQ=WEEKLY;WKST=XX", "WKST=XX: expected one of MO"),
    ],
)
def test_rule_parts_outside_rfc_5545_and_invalid_values_are_refused(
    every: str, message: str
) -> None:
    lines = load_data(with_checkins(every=every))
    assert len(lines) == 1 and f"checkins.every: {message}" in lines[0], lines


def test_a_check_in_window_must_stay_open_for_a_while() -> None:
    for grace in ("0m", "0d", "PT0S"):
        lines = load_data(with_checkins(every="weekly", grace=grace))
        assert len(lines) == 1, lines
        assert "checkins.grace: must be longer than zero" in lines[0]


# -- 17: a cap on what one plan schedules --------------------------------------------------


def crowd(people: int) -> dict[str, Any]:
    data = with_checkins(every="daily")
    data["start"], data["end"] = "2027-01-04", "2036-12-31"
    data["people"] += [
        {"id": f"p{n}", "name": f"P{n}", "side": "team", "email": f"p{n}@t.example"}
        for n in range(people)
    ]
    return data


def test_a_plan_that_schedules_more_than_the_cap_is_refused_with_the_count() -> None:
    lines = load_data(crowd(100))  # 101 people checking in daily for ten years
    assert len(lines) == 1, lines
    assert "checkins: the plan schedules 737,403 reminders, check-in windows" in lines[0]
    assert "one plan may schedule at most 100,000" in lines[0]


def test_the_count_is_what_the_timeline_schedules() -> None:
    from config.rules import MAX_OCCURRENCES, scheduled
    from worker.timeline import compile

    plan = load_text(dump(crowd(12)), "plan.yaml")  # just under the cap
    assert scheduled(plan) == len(compile(plan)) <= MAX_OCCURRENCES
    for example in (DUTCH, ENGLISH):
        assert len(compile(load_plan(example))) <= scheduled(load_plan(example))
        assert scheduled(load_plan(example)) * 100 < MAX_OCCURRENCES
