"""``pactkeeper mail-in [FILE]``: one e-mail reply from a file or standard input, in its own
process, on the deployment's store. Exit 0 when taken, 1 when refused with the reason on
stderr, never a traceback; a refused or repeated message changes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest

from config.settings import SQLITE_STORE
from tests.engine import make_engine, moment, registered
from tests.support import ROOT, minimal_data, plan_from
from worker.delivery import dispatch
from worker.store import records
from worker.store.sqlite import SqliteStore

pytestmark = pytest.mark.system

PLAN = "test-plan"
KEY = "mail-in-test-signing-key"
REPLY_ADDRESS = "reply@org.example"
OPENS, NOW = "2027-01-04 10:00", "2027-01-04 12:00"


def plan_data() -> dict[str, Any]:
    data = minimal_data()
    data["people"].append(
        {"id": "vera", "name": "Vera Visser", "side": "team", "email": "vera@team.example"}
    )
    data["checkins"] = {"every": "weekly", "on": "monday", "at": "10:00", "grace": "2d"}
    return data


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Path, dict[str, str], EmailMessage]:
    """A data folder whose store sent Vera her first check-in request; the environment of
    the deployment's processes (its clock stands at NOW); the request as it was sent."""
    offset = moment(NOW) - time.time()
    settings = {"reply_address": REPLY_ADDRESS, "secret_key": KEY, "clock_offset": offset}
    data = tmp_path / "data"
    engine = make_engine(tmp_path, SqliteStore(data / SQLITE_STORE), **settings)
    registered(engine, plan_from(plan_data()), moment("2027-01-04 09:30"))
    for claim in dispatch.sweep(engine, moment(OPENS)):
        if claim.kind == "checkin_open":
            dispatch.deliver(engine, claim, moment(OPENS))
    engine.close()
    (sent,) = engine.settings.outbox_dir.glob("*_checkin_request_vera_email_*.eml")
    request = message_from_bytes(sent.read_bytes(), policy=policy.default)
    assert isinstance(request, EmailMessage)
    env = {
        "PACTKEEPER_DATA_DIR": str(data),
        "PACTKEEPER_SECRET_KEY": KEY,
        "PACTKEEPER_REPLY_ADDRESS": REPLY_ADDRESS,
        "PACTKEEPER_CLOCK_OFFSET": str(offset),
    }
    return data, env, request


def reply(request: EmailMessage, text: str, **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = headers.get("From", "Vera Visser <vera@team.example>")
    mail["To"] = headers.get("To", str(request["Reply-To"]))
    mail["Subject"] = f"Re: {request['Subject']}"
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = headers.get("Message-ID", make_msgid(domain="team.example"))
    mail.set_content(f"{text}\n\nOn Mon, 4 Jan 2027, pactkeeper wrote:\n> Check-in\n")
    return bytes(mail)


def mail_in(
    env: dict[str, str], *args: str, data: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    result = subprocess.run(
        [sys.executable, "-m", "worker.run.cli", "mail-in", *args],
        input=data,
        capture_output=True,
        cwd=ROOT,
        env={**clean, **env},
        timeout=120,
        check=False,
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    return result


def state(data: Path) -> tuple[dict[str, Any], int]:
    store = SqliteStore(data / SQLITE_STORE)
    try:
        return store.records(records.checkin_rows(PLAN)), len(store.items(PLAN))
    finally:
        store.close()


def test_a_reply_from_a_file_and_the_same_from_stdin_answer_once(
    tmp_path: Path, deployment: tuple[Path, dict[str, str], EmailMessage]
) -> None:
    data, env, request = deployment
    message = reply(request, "2 - wacht op de cijfers")
    path = tmp_path / "reply.eml"
    path.write_bytes(message)
    first = mail_in(env, str(path))
    assert first.returncode == 0, first.stderr
    assert first.stdout.decode().startswith("answered test-plan/vera need_help")
    rows, _ = state(data)
    assert (rows["vera/2027-01-04"]["status"], rows["vera/2027-01-04"]["source"]) == (
        "need_help",
        "email",
    )
    before = state(data)
    again = mail_in(env, data=message)  # the same message, piped in
    assert again.returncode == 0
    assert again.stdout.decode().startswith("duplicate")
    assert state(data) == before


def refusals(request: EmailMessage) -> dict[str, tuple[bytes, str]]:
    forged = str(request["Reply-To"]).replace(".", "x", 1)
    return {
        "oversized": (reply(request, "1 " + "x" * 1_100_000), "too_large"),
        "stranger": (reply(request, "1", From="Eve <eve@elsewhere.example>"), "unknown_sender"),
        "forged token, stranger": (
            reply(request, "1", From="eve@elsewhere.example", To=forged),
            "unknown_sender",
        ),
        "not a message": (bytes(range(256)) * 10, "unreadable"),
        "empty": (b"", "unreadable"),
        "not UTF-8, no sender": (b"Subject: \xff\xfe\r\n\r\n\xff\xff\xff", "no_sender"),
    }


CASES = [
    "oversized",
    "stranger",
    "forged token, stranger",
    "not a message",
    "empty",
    "not UTF-8, no sender",
]


@pytest.mark.parametrize("case", CASES)
def test_a_refused_message_is_exit_1_with_its_reason_and_changes_nothing(
    deployment: tuple[Path, dict[str, str], EmailMessage], case: str
) -> None:
    data, env, request = deployment
    message, reason = refusals(request)[case]
    before = state(data)
    result = mail_in(env, data=message)
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert stderr.startswith("pactkeeper: the message was refused"), stderr
    assert reason in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1
    assert state(data) == before


def test_a_missing_file_is_a_usage_error(
    deployment: tuple[Path, dict[str, str], EmailMessage],
) -> None:
    _, env, _ = deployment
    result = mail_in(env, "/nonexistent/reply.eml")
    assert result.returncode == 2
    assert result.stderr.decode().startswith("pactkeeper: /nonexistent/reply.eml is not a file")


def test_a_forged_token_from_a_known_sender_names_no_message(
    deployment: tuple[Path, dict[str, str], EmailMessage],
) -> None:
    """A tampered reply address is ignored, not trusted: the reply is then read like any
    from Vera, and answers her latest request."""
    data, env, request = deployment
    forged = str(request["Reply-To"]).replace(".", "x", 1)
    result = mail_in(env, data=reply(request, "1 prima", To=forged))
    assert result.returncode == 0
    rows, _ = state(data)
    assert rows["vera/2027-01-04"]["status"] == "on_track"
