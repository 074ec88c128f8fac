"""Two plan files with one id: the first registered keeps it, the second is refused by name.

A plan copied as a template with its id left unchanged must not replace the live
partnership (no "Changed:" invitations to everyone, no flipping back and forth on
every save), and the watcher says so once, not every few seconds.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.engine import make_engine, moment
from tests.processes import ROOT, wait_until
from tests.support import dump, minimal_data
from tests.system.test_run import start_run, stop_run
from worker.engine import IdTaken
from worker.plans.register import register_file

pytestmark = [pytest.mark.system]


def base_plan(title: str = "Base plan", at: str = "2027-01-05 10:00") -> dict[str, Any]:
    data = minimal_data()
    data["id"] = "base"
    data["title"] = title
    data["milestones"] = [
        {"id": "m1", "title": "Meeting", "at": at, "duration": "1h", "attendees": ["pia", "tim"]}
    ]
    return data


def subjects(outbox: Path) -> list[str]:
    found = []
    for path in sorted(outbox.glob("*.eml")):
        found.append(str(email.message_from_bytes(path.read_bytes())["Subject"]))
    return found


@pytest.mark.slow
def test_two_plan_files_with_the_same_id_in_the_plans_folder(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "partnership.yaml").write_text(dump(base_plan()))
    outbox = tmp_path / "pactkeeper-data" / "outbox"
    process = start_run(tmp_path, str(plans))
    try:
        sent = wait_until(lambda: len(subjects(outbox)) == 2, 60)
        assert sent, (tmp_path / "run.log").read_text()
        copy = base_plan("Other plan from B", "2027-01-06 11:00")
        (plans / "copy-for-new-partner.yaml").write_text(dump(copy))
        time.sleep(15)  # three watcher rounds
        (plans / "partnership.yaml").touch()
        time.sleep(12)
    finally:
        code = stop_run(process)
    log = (tmp_path / "run.log").read_text()
    assert code == 0, log[-3000:]
    # Only the two first invitations: nothing changed, nothing flipped.
    assert [s.split(",")[0] for s in subjects(outbox)] == ["Invitation: Meeting"] * 2
    refusals = [line for line in log.splitlines() if "is already registered from" in line]
    assert len(refusals) == 1, log[-3000:]
    assert "copy-for-new-partner.yaml" in refusals[0]
    assert str((plans / "partnership.yaml").resolve()) in refusals[0]
    assert "re-synced" not in log


@pytest.mark.slow
def test_two_files_with_one_id_at_the_start_of_run_are_reported_once(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "a-partnership.yaml").write_text(dump(base_plan()))
    (plans / "b-copy.yaml").write_text(dump(base_plan("Copy", "2027-01-06 11:00")))
    outbox = tmp_path / "pactkeeper-data" / "outbox"
    process = start_run(tmp_path, str(plans))
    try:
        sent = wait_until(lambda: len(subjects(outbox)) == 2, 60)
        assert sent, (tmp_path / "run.log").read_text()
        time.sleep(12)  # the watcher reads both files at least twice
    finally:
        assert stop_run(process) == 0
    log = (tmp_path / "run.log").read_text()
    refusals = [line for line in log.splitlines() if "is already registered from" in line]
    assert len(refusals) == 1 and "b-copy.yaml" in refusals[0], log[-3000:]
    assert [s.split(",")[0] for s in subjects(outbox)] == ["Invitation: Meeting"] * 2


def test_sync_of_a_second_file_with_a_registered_id_is_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "partnership.yaml", tmp_path / "copy.yaml"
    first.write_text(dump(base_plan()))
    second.write_text(dump(base_plan("Other plan from B", "2027-01-06 11:00")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    env.update(PACTKEEPER_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))

    def sync(path: Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "worker.run.cli", "sync", str(path)]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=False)

    assert sync(first).returncode == 0
    refused = sync(second)
    assert refused.returncode == 1
    line = second.read_text().splitlines().index("id: base") + 1
    assert refused.stderr.splitlines() == [
        f"{second}:{line}:1: id: the id 'base' is already registered from {first.resolve()}; "
        "give this plan its own id (this file was not registered)"
    ]
    again = sync(first)
    assert "0 scheduled, 0 cancelled" in again.stdout  # the first is still what is registered


def test_a_moved_plan_file_keeps_its_id(tmp_path: Path) -> None:
    """Renaming or moving a plan file, or changing the first file's id, frees the id."""
    engine = make_engine(tmp_path)
    first = tmp_path / "partnership.yaml"
    first.write_text(dump(base_plan()))
    now = moment("2026-12-01 10:00")
    register_file(engine, first, now)
    copy = tmp_path / "copy.yaml"
    copy.write_text(dump(base_plan("Copy")))
    with pytest.raises(IdTaken):
        register_file(engine, copy, now)
    renamed = tmp_path / "renamed.yaml"
    first.rename(renamed)
    moved = register_file(engine, renamed, now)
    assert not moved.result.changed  # the same partnership, nothing scheduled twice
    assert engine.store.plan("base").source == str(renamed.resolve())  # type: ignore[union-attr]
    other = base_plan()
    other["id"] = "another"
    renamed.write_text(dump(other))  # the id changed in the file: the copy may have it
    assert register_file(engine, copy, now).plan.title == "Copy"
    engine.close()
