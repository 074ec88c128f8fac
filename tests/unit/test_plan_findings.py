"""Plans that a careless or hostile user wrote, and files that are no plan at all.

Each test is named after what went wrong before: a symlink that carried a server
file into the bundle, a padded id that made two people one, a line break in a name
that broke every e-mail, check-ins that could never open, a plan that scheduled
millions of messages, and ``validate /dev/zero`` reading until memory ran out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from config.load import PlanError, load_plan, load_text
from config.plan import document_in_folder
from tests.support import dump, minimal_data, run_cli


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
