"""``pactkeeper run`` as a user runs it: the embedded default, a plan folder, edits on the fly.

The clock is set with ``--as-of`` (a rehearsal: it then runs at normal speed, in
its own folder DATA_DIR/rehearsal), so reminders fall due seconds after the start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.processes import ROOT, wait_until
from tests.support import dump, minimal_data

pytestmark = [pytest.mark.system, pytest.mark.slow]


def outbox(data_dir: Path) -> list[str]:
    folder = data_dir / "outbox"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def start_run(cwd: Path, *arguments: str, **extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    env.update(
        PACTKEEPER_SWEEP_INTERVAL="1", PACTKEEPER_WEB_PORT=str(_free_port()), PYTHONPATH=str(cwd)
    )
    env.update(extra)
    log = (cwd / "run.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "worker.run.cli", "run", *arguments],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _free_port() -> int:
    from tests.servers import free_port

    return free_port()


def stop_run(process: subprocess.Popen[bytes]) -> int:
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole group
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise


def meeting(ident: str, at: str) -> dict[str, Any]:
    return {
        "id": ident,
        "title": f"Meeting {ident}",
        "at": at,
        "duration": "30m",
        "attendees": ["tim"],
        "remind": ["2h"],
    }


def test_editing_a_plan_while_run_is_running(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    data = minimal_data()
    data["start"] = "2027-03-10"
    data["milestones"] = [
        meeting("a", "2027-03-10 12:00"),
        meeting("b", "2027-03-10 12:01"),
        meeting("c", "2027-03-10 12:02"),
    ]
    plan_file = plans / "plan.yaml"
    plan_file.write_text(dump(data))
    # 09:59:50 in Amsterdam: a's 2h reminder is due in 10 s, b's in 70 s, c's in 130 s.
    process = start_run(tmp_path, str(plans), "--as-of", "2027-03-10T08:59:50Z")
    data_dir = tmp_path / "pactkeeper-data" / "rehearsal"
    try:
        assert wait_until(lambda: any("_reminder_" in n for n in outbox(data_dir)), 60), (
            tmp_path / "run.log"
        ).read_text()[-3000:]
        # Move b by one minute and remove c, while run is running.
        data["milestones"] = [meeting("a", "2027-03-10 12:00"), meeting("b", "2027-03-10 12:02")]
        plan_file.write_text(dump(data))
        time.sleep(140)
    finally:
        code = stop_run(process)
    log = (tmp_path / "run.log").read_text()
    assert code == 0, log[-3000:]
    assert "re-synced" in log and "pactkeeper: stopped" in log

    from worker.store.sqlite import SqliteStore

    store = SqliteStore(data_dir / "pactkeeper.sqlite3")
    reminders = [i for i in store.items("test-plan") if i.kind == "reminder"]
    by_ref: dict[str, list[str]] = {}
    for item in reminders:
        by_ref.setdefault(item.ref, []).append(item.state)
    assert sorted(by_ref["a"]) == ["sent"]  # sent once, before and after the edit
    assert sorted(by_ref["b"]) == ["cancelled", "sent"]  # the old time never went out
    assert sorted(by_ref["c"]) == ["cancelled"]  # removed: never sent
    sent_b = next(i for i in reminders if i.ref == "b" and i.state == "sent")
    assert sent_b.sent_at is not None and sent_b.sent_at >= sent_b.due
    files = [n for n in outbox(data_dir) if "_reminder_" in n]
    assert len(files) == 2  # a and the moved b, one file each


def test_readme_first_command_on_a_fresh_clone(tmp_path: Path) -> None:
    """The README's first command, exactly as written, in a fresh clone and a fresh venv:
    it installs from the lock and shows messages landing in the rehearsal's outbox."""
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "pactkeeper run examples" in line)
    install, run = command.rsplit("&& ", 1)
    assert install.startswith("python3 -m pip install -r requirements/run.txt")
    assert run.split()[:3] == ["pactkeeper", "run", "examples"]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACTKEEPER_", "PYTHON"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PACTKEEPER_WEB_PORT=str(_free_port()),  # not 8000: the machine may have it in use
    )
    log = (clone / "run.log").open("ab")
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # The team's Slack has no secret here: its payload lands as JSON. Ana's first channel,
    # WhatsApp, has no template and she never wrote (no 24-hour session): her e-mail.
    wanted = ("_kickoff_ana_email_", "_checkin_request_bram_slack_")

    def arrived() -> bool:
        names = outbox(clone / "pactkeeper-data" / "rehearsal")
        return all(any(part in n for n in names) for part in wanted)

    try:
        # The install from the lock comes first (a minute or two on a cold cache).
        assert wait_until(arrived, 420), (clone / "run.log").read_text()[-3000:]
    finally:
        stop_run(process)
    names = outbox(clone / "pactkeeper-data" / "rehearsal")
    assert any("_invite_" in n and n.endswith(".eml") for n in names)  # meetings, on the sync
    log = (clone / "run.log").read_text()
    assert "goes to its outbox" in log and "sent kickoff" in log
    assert not (clone / "pactkeeper-data" / "outbox").exists()  # real time's is untouched
