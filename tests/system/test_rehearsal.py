"""A rehearsal (``run --as-of``) stays apart from real time.

It keeps to DATA_DIR/rehearsal, so a later real-time ``run`` on the default folder
still sends every delivery once, on real time. A folder says which clock it
belongs to, and a process of the other clock refuses it with one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.processes import ROOT, wait_until
from tests.support import dump, minimal_data
from tests.system.test_run import start_run, stop_run
from worker.store.sqlite import SqliteStore

pytestmark = [pytest.mark.system, pytest.mark.slow]

PEOPLE = ("pia", "tim")


def plan_starting(at: datetime) -> str:
    """A plan whose kickoffs and first check-in requests fall due at ``at`` (UTC)."""
    data = minimal_data()
    data["timezone"] = "UTC"
    data["start"] = at.date().isoformat()
    data["end"] = (at.date() + timedelta(days=60)).isoformat()
    data["communication"]["deadline_time"] = at.strftime("%H:%M")
    data["checkins"] = {"every": "daily", "at": at.strftime("%H:%M"), "who": "team"}
    return dump(data)


def outbox(folder: Path) -> list[str]:
    """The messages in an outbox folder (not its .sent/ record of names)."""
    if not folder.is_dir():
        return []
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def kickoffs(names: list[str]) -> int:
    return sum(any(f"_kickoff_{p}_" in n for n in names) for p in PEOPLE)


def run_log(folder: Path) -> str:
    return (folder / "run.log").read_text()


def test_a_rehearsal_then_real_time_sends_every_real_delivery_once_on_real_time(
    tmp_path: Path,
) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    due = (datetime.now(UTC) + timedelta(seconds=80)).replace(second=0, microsecond=0)
    due += timedelta(minutes=1)
    (plans / "plan.yaml").write_text(plan_starting(due))
    data = tmp_path / "pactkeeper-data"
    rehearsal = data / "rehearsal"

    # The rehearsal: its clock starts 15 s before the kickoffs, whatever real time says.
    process = start_run(tmp_path, str(plans), "--as-of", (due - timedelta(seconds=15)).isoformat())
    try:
        assert wait_until(lambda: kickoffs(outbox(rehearsal / "outbox")) == 2, 90), run_log(
            tmp_path
        )[-3000:]
    finally:
        assert stop_run(process) == 0
    assert not (data / "outbox").exists() and not (data / "pactkeeper.sqlite3").exists()

    # Real time on the default folder: the same deliveries, at their real time.
    process = start_run(tmp_path, str(plans))
    try:
        wanted = 2 * len(PEOPLE) - 1  # kickoffs to both, the check-in request to the team
        assert wait_until(lambda: _real_sent(data) >= wanted, 240), run_log(tmp_path)[-3000:]
        time.sleep(5)  # a second send of any of them would show now
    finally:
        assert stop_run(process) == 0
    stopped = time.time()

    store = SqliteStore(data / "pactkeeper.sqlite3")
    kinds = ("kickoff", "checkin_open")
    sent = [i for i in store.items("test-plan") if i.kind in kinds and i.due <= stopped]
    assert len(sent) == wanted
    for item in sent:
        assert item.state == "sent", item
        assert item.sent_at is not None and item.due <= item.sent_at <= stopped  # real time
    files = Counter(name.rsplit("_", 1)[1].split(".")[0] for name in outbox(data / "outbox"))
    keys = {item.key[:12] for item in sent}
    assert {key: files[key] for key in keys} == dict.fromkeys(keys, 1)  # each key once
    # Written on real time: not before its real due moment (the rehearsal's came ~a minute early).
    due_of = {item.key[:12]: item.due for item in sent}
    for name in outbox(data / "outbox"):
        key = name.rsplit("_", 1)[1].split(".")[0]
        if key in due_of:
            assert (data / "outbox" / name).stat().st_mtime >= due_of[key], name
    assert (data / "clock").read_text().strip() == "real"
    assert (rehearsal / "clock").read_text().strip() == "virtual"


def _real_sent(data: Path) -> int:
    path = data / "pactkeeper.sqlite3"
    if not path.exists():
        return 0
    store = SqliteStore(path)
    try:
        return sum(1 for i in store.items("test-plan", ("sent",)) if i.kind != "invite")
    finally:
        store.close()


def pactkeeper(cwd: Path, *arguments: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    env.update(PYTHONPATH=str(ROOT), **env_extra)
    command = [sys.executable, "-m", "worker.run.cli", *arguments]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120
    )


def test_a_folder_of_one_clock_is_refused_by_the_other(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_starting(datetime(2027, 1, 11, 8, 0, tzinfo=UTC)))
    assert pactkeeper(tmp_path, "sync", str(plan)).returncode == 0  # real time's folder
    assert (tmp_path / "pactkeeper-data" / "clock").read_text() == "real\n"
    sim = tmp_path / "sim"
    assert pactkeeper(tmp_path, "simulate", str(plan), "--until", "2027-01-20", "--out", str(sim))
    assert (sim / "clock").read_text() == "virtual\n"

    # A real-time command on a simulation's folder, and the other way round.
    for arguments in (("status",), ("sync", str(plan)), ("run",)):
        refused = pactkeeper(tmp_path, *arguments, PACTKEEPER_DATA_DIR=str(sim))
        assert refused.returncode in (1, 2), arguments  # a refusal, not an internal error (70)
        lines = refused.stderr.splitlines()
        assert len(lines) == 1 and "belongs to a rehearsal or a simulation" in lines[0], lines
        assert "internal error" not in lines[0]
    real = tmp_path / "pactkeeper-data"
    refused = pactkeeper(
        tmp_path, "simulate", str(plan), "--until", "2027-01-20", "--out", str(real)
    )
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"pactkeeper: --out: {real} holds real-time data; a rehearsal or simulation needs a "
        "folder of its own and leaves this one alone"
    ]
    assert (real / "pactkeeper.sqlite3").exists()  # nothing of it was wiped
    # A real-time folder named as a rehearsal's folder is refused, not reset.
    (real / "rehearsal").mkdir()
    (real / "rehearsal" / "clock").write_text("real\n")
    refused = pactkeeper(tmp_path, "run", "--as-of", "2027-01-11T07:59:30Z")
    assert refused.returncode == 2 and "holds real-time data" in refused.stderr
    assert (real / "rehearsal" / "clock").exists()


def test_real_time_warns_of_deliveries_an_old_rehearsal_used_up(tmp_path: Path) -> None:
    """A folder a rehearsal wrote into before rehearsals kept apart: run says what is lost."""
    from config.load import load_text
    from tests.engine import make_engine, registered, run_due

    data = tmp_path / "pactkeeper-data"
    data.mkdir()
    (data / "secret_key").write_text("test-signing-key")  # the key make_engine signs with
    store = SqliteStore(data / "pactkeeper.sqlite3")
    engine = registered(
        make_engine(tmp_path, store, data_dir=data),
        load_text(plan_starting(datetime(2027, 1, 11, 8, 0, tzinfo=UTC))),
        datetime(2027, 1, 11, 7, 59, tzinfo=UTC).timestamp(),
    )
    assert run_due(engine, datetime(2027, 1, 11, 8, 0, tzinfo=UTC).timestamp())
    engine.close()
    process = start_run(tmp_path)
    try:
        assert wait_until(lambda: "press Ctrl-C" in run_log(tmp_path), 60), run_log(tmp_path)
    finally:
        assert stop_run(process) == 0
    warning = [line for line in run_log(tmp_path).splitlines() if "after now" in line]
    assert len(warning) == 1 and "up to 2027-01-11 08:00:00Z" in warning[0], warning


def test_a_worker_on_real_time_refuses_a_virtual_folder(tmp_path: Path) -> None:
    from tests import processes

    folder = tmp_path / "sim"
    folder.mkdir()
    (folder / "clock").write_text("virtual\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    env.update(PACTKEEPER_DATA_DIR=str(folder), PYTHONPATH=str(ROOT))
    log = tmp_path / "worker.log"
    worker = processes.worker(env, "refusing", log)
    try:
        code = worker.wait(timeout=60)
    finally:
        processes.stop(worker)
    assert code != 0
    lines = [line for line in log.read_text().splitlines() if "belongs to a rehearsal" in line]
    assert lines == [
        f"pactkeeper: {folder} belongs to a rehearsal or a simulation (a virtual clock); "
        "a real-time command does not use it: set PACTKEEPER_DATA_DIR to the real data folder"
    ]
    assert "Traceback" not in log.read_text()
