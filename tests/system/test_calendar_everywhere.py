"""The lint over every calendar the project produces, taken where it comes out.

For both example plans (Dutch and English), the calendars as a user meets them:

- ``pactkeeper ics`` for the plan and ``--for`` each person (the command's output);
- every calendar in every e-mail a real aiosmtpd received: the ``text/calendar``
  part and the ``invite.ics`` attachment of invitations, updates and cancellations,
  and the ``.ics`` attached to the kickoff e-mails;
- every body the CalDAV push writes to a real Radicale, before and after a change;
- every feed (the plan's and each person's) as uvicorn serves it.

The lint itself (``tests/calendar_lint.py``) checks DTSTAMP and UNTIL in UTC, a
VTIMEZONE for every TZID and no comma RDATE lists, RECURRENCE-ID of DTSTART's
type, CRLF line ends and 75-octet folding.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import time
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

from config.load import load_plan, load_text
from config.plan import Plan
from tests.calendar_lint import lint_calendar
from tests.engine import make_engine, run_due, run_until
from tests.servers import free_port, wait_for_port
from tests.smtp_sink import start_smtp
from tests.support import DUTCH, ENGLISH
from tests.system.test_calendar_caldav import PASSWORD, USER, Radicale
from worker import timeline
from worker.calendar.push import resources
from worker.engine import Engine
from worker.links import feed_url
from worker.plans.register import register
from worker.store.sqlite import SqliteStore

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-signing-key"
# One meeting moved and another meeting removed, per example: updates and cancellations.
EDITS = {
    DUTCH: [
        ("at: 2027-01-11 10:00", "at: 2027-01-11 10:30"),
        ("  - id: evaluatie\n", "  - id: evaluatie-weg\n"),
    ],
    ENGLISH: [('at: "2027-03-01 12:00"', 'at: "2027-03-01 12:30"')],
}


def edited(path: Path) -> Plan:
    text = path.read_text(encoding="utf-8")
    for old, new in EDITS[path]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return load_text(text, str(path), base=path.parent, path=path)


def calendars_in(mail: EmailMessage) -> list[tuple[str, bytes]]:
    found = []
    for part in mail.walk():
        name = part.get_filename() or ""
        if part.get_content_type() == "text/calendar" or name.endswith(".ics"):
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            found.append((f"{mail['Subject']} / {name or part.get_content_type()}", data))
    return found


@pytest.fixture
def feeds_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data_dir, port = tmp_path / "data", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    env.update(PACTKEEPER_DATA_DIR=str(data_dir), PACTKEEPER_SECRET_KEY=KEY, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "uvicorn", "tests.system.test_calendar_feeds:feed_app"]
    command += ["--factory", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    with (tmp_path / "uvicorn.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}", data_dir
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


def command_calendars(path: Path) -> list[tuple[str, bytes]]:
    found = []
    for person in [None, *(p.id for p in load_plan(path).people)]:
        command = [sys.executable, "-m", "worker.run.cli", "ics", str(path)]
        command += ["--for", person] if person else []
        output = subprocess.run(command, cwd=ROOT, capture_output=True, check=True).stdout
        found.append((f"pactkeeper ics {path.name} {person or ''}", output))
    return found


def feed_calendars(base: str, engine: Engine, plan: Plan) -> list[tuple[str, bytes]]:
    found = []
    for person in [None, *(p.id for p in plan.people)]:
        url = feed_url(engine.settings, plan.id, person).replace(engine.settings.base_url, base)
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 200, url
        found.append((f"feed {plan.id} {person or ''}", answer.content))
    return found


@pytest.mark.parametrize("path", [DUTCH, ENGLISH], ids=["nl", "en"])
def test_every_calendar_we_produce_passes_the_lint(
    tmp_path: Path, feeds_server: tuple[str, Path], path: Path
) -> None:
    base, data_dir = feeds_server
    smtp = start_smtp(tmp_path / "smtp")
    radicale = Radicale(tmp_path / "radicale").start()
    try:
        engine = make_engine(
            tmp_path,
            store=SqliteStore(data_dir / "pactkeeper.sqlite3"),
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_tls="none",
            caldav_url=radicale.calendar("plan"),
            caldav_user=USER,
            caldav_password=PASSWORD,
        )
        plan, changed = load_plan(path), edited(path)
        start = timeline.local_moment(plan.start, time(0), plan.zone).timestamp()
        register(engine, plan, start)
        # Invitations at once; kickoffs from 09:00 (Dirk's at 19:00, when he is reachable).
        run_until(engine, start + 22 * 3600)
        found = command_calendars(path) + feed_calendars(base, engine, plan)
        found += [(f"caldav {r.item}", r.body) for r in resources(engine, plan, start)]
        register(engine, changed, start + 23 * 3600)
        run_due(engine, start + 23 * 3600)
        found += feed_calendars(base, engine, changed)
        found += [(f"caldav {r.item} (changed)", r.body) for r in resources(engine, changed, start)]
        mails = smtp.messages()
        for mail in mails:
            found += calendars_in(mail)
        kinds = {str(m["X-Pactkeeper-Kind"]) for m in mails if calendars_in(m)}
        assert {"invite", "kickoff"} <= kinds
        if path == DUTCH:
            assert "cancel" in kinds
        methods = {m for _, data in found for m in re.findall(rb"METHOD:(\w+)", data)}
        expected = {b"PUBLISH", b"REQUEST"} | ({b"CANCEL"} if path == DUTCH else set())
        assert methods == expected
        assert len(found) > 30
        problems = {name: lint_calendar(data) for name, data in found}
        assert {name: found for name, found in problems.items() if found} == {}
    finally:
        radicale.stop()
        smtp.stop()
