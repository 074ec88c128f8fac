"""The log of ``pactkeeper run`` is for a person: start-up lines, one line per delivery,
warnings. Celery's banner and its lines about every task come back with -v
(``PACTKEEPER_VERBOSE=1``)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.processes import wait_until
from tests.support import dump, minimal_data
from tests.system.test_run import outbox, start_run, stop_run
from worker.store.sqlite import SqliteStore

pytestmark = [pytest.mark.system, pytest.mark.slow]

NOISE = (
    "No hostname was supplied",
    "SecurityWarning",
    "superuser privileges",
    " received",
    "succeeded in",
    "[tasks]",
    "[config]",
    "Scheduler: Sending due task",
    "Connected to",
    "Uvicorn running",
    "Started server process",
)
# Every line of the log is one of these (blank lines: Celery's own shutdown lines).
LINE = re.compile(
    r"^(pactkeeper: .*"
    r"|\S+\.yaml: \d+ scheduled, \d+ unchanged, \d+ cancelled"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ (sent |warning: |error: ).*"
    r"|worker: (Warm shutdown|Hitting Ctrl\+C).*"
    r"|)$"
)


def plan_data() -> dict[str, Any]:
    data = minimal_data()
    data["milestones"] = [
        {"id": f"m{n}", "title": f"Meeting {n}", "at": f"2027-02-0{n} 10:00", "duration": "1h"}
        for n in (1, 2)
    ]
    return data


def run_for(tmp_path: Path, seconds: float, **env: str) -> str:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "plan.yaml").write_text(dump(plan_data()))
    process = start_run(tmp_path, str(plans), **env)
    try:
        data = tmp_path / "pactkeeper-data"
        assert wait_until(lambda: len(outbox(data)) >= 4, 60), (tmp_path / "run.log").read_text()
        time.sleep(seconds)
    finally:
        assert stop_run(process) == 0
    return (tmp_path / "run.log").read_text()


def test_the_run_log_has_start_up_lines_one_line_per_delivery_and_warnings(
    tmp_path: Path,
) -> None:
    log = run_for(tmp_path, 20)
    lines = log.splitlines()
    for start in ("store SQLite in", "watching", "web app on http://127.0.0.1:", "press Ctrl-C"):
        assert any(line.startswith(f"pactkeeper: {start}") for line in lines), start
    assert "plan.yaml: " in log
    store = SqliteStore(tmp_path / "pactkeeper-data" / "pactkeeper.sqlite3")
    sent = store.items("test-plan", ("sent",))
    assert len(sent) == 4  # two meetings, two people: the invitations
    for item in sent:
        delivered = [line for line in lines if f" key={item.key}" in line]
        assert len(delivered) == 1 and " sent invite " in delivered[0], delivered
    for noise in NOISE:
        assert noise not in log, noise
    assert [line for line in lines if not LINE.match(line)] == []
    assert "pactkeeper: stopped" in log


def test_verbose_brings_celerys_lines_back(tmp_path: Path) -> None:
    log = run_for(tmp_path, 3, PACTKEEPER_VERBOSE="1")
    assert "[tasks]" in log and "succeeded in" in log
