"""``POST /inbound/twilio`` on a real uvicorn, with posts signed as Twilio signs them.

The server and the test share one SQLite store; the server's clock stands on Tuesday
12 January 2027, noon in Amsterdam, with the check-in window of Monday 11 January open
and its request sent to Tom by SMS and to Wendy on WhatsApp. A signed "2 wacht op
cijfers" from Tom's number records ``need_help`` with the note; every bad input (forged,
replayed, oversized, wrong content type, non-UTF-8, an unknown sender) is answered
without a 5xx and changes nothing, which each test checks through the store.
``serve_inbound`` is shared with ``test_inbound_telegram`` and ``bench/bench_inbound.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from config.plan import Plan
from config.settings import Settings
from tests.engine import moment, run_until
from tests.servers import free_port, wait_for_port, web_env
from tests.support import minimal_data, plan_from
from worker.engine import Engine
from worker.inbound.replies import Outcome
from worker.inbound.twilio import HEADER, signature
from worker.plans.register import register
from worker.store import records
from worker.store.sqlite import SqliteStore

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-signing-key"
AUTH_TOKEN = "twilio-auth-token-for-tests"
BASE_URL = "https://pactkeeper.example"
NOW = "2027-01-12 12:00"
WINDOW = "2027-01-11"
TOM = "+31612345678"
WENDY = "+31687654321"
STRANGER = "+31699999999"


def inbound_plan() -> Plan:
    data = minimal_data()
    data["language"] = "nl"
    data["people"] += [
        {"id": "tom", "name": "Tom", "side": "team", "phone": TOM, "channels": ["sms"]},
        {"id": "wendy", "name": "Wendy", "side": "team", "phone": WENDY, "channels": ["whatsapp"]},
    ]
    for person in data["people"][-2:]:
        person["consent"] = "2027-01-01"  # they agreed to SMS and WhatsApp before the start
    data["communication"]["channels"].update({"sms": {}, "whatsapp": {}})
    data["checkins"] = {"every": "weekly", "on": "monday", "grace": "2d", "who": ["tom", "wendy"]}
    return plan_from(data)


@dataclass
class Served:
    base: str
    engine: Engine
    plan: Plan
    offset: float
    log: Path

    def now(self) -> float:
        return time.time() + self.offset

    def rows(self) -> dict[str, dict[str, Any]]:
        return self.engine.store.records(records.checkin_rows(self.plan.id))

    def row(self, person: str) -> dict[str, Any]:
        return self.rows()[records.checkin_row_id(person, WINDOW)]

    def state(self) -> tuple[Any, ...]:
        """Everything a reply could change: the check-ins, the ledger, what was seen."""
        store = self.engine.store
        seen = store.records(records.INBOUND_SEEN)
        return (self.rows(), store.counts(self.plan.id), seen)


def server_env(data_dir: Path, offset: float, **extra: str) -> dict[str, str]:
    settings = {"base_url": BASE_URL, "twilio_auth_token": AUTH_TOKEN}
    env = web_env(data_dir, offset, KEY, **settings)
    env.update(extra)
    return env


@contextmanager
def serve_inbound(
    tmp: Path, plan: Plan, at: str = NOW, env: dict[str, str] | None = None, **settings: Any
) -> Iterator[Served]:
    """Register ``plan``, play it up to ``at`` (the requests go out), then start uvicorn
    with its clock there; ``env`` and ``settings`` reach the server and the test's engine."""
    data_dir = tmp / "data"
    chosen = Settings(
        data_dir=data_dir,
        redis_url=None,
        smtp_host=None,
        plans_dir=None,
        secret_key=KEY,
        base_url=BASE_URL,
        twilio_auth_token=AUTH_TOKEN,  # type: ignore[arg-type]
        **settings,
    )
    engine = Engine(chosen, SqliteStore(data_dir / "pactkeeper.sqlite3"), True)
    register(engine, plan, moment("2027-01-01 00:00"))
    run_until(engine, moment(at))
    offset = moment(at) - time.time()
    port = free_port()
    log = tmp / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "web.app:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-access-log"]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            env=server_env(data_dir, offset, **(env or {})),
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, timeout=30)
        yield Served(f"http://127.0.0.1:{port}", engine, plan, offset, log)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        engine.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # Wendy's request goes out on WhatsApp before she ever wrote: as an approved template.
    templates = {"checkin_request": "HX0123456789abcdef0123456789abcdef"}
    tmp = tmp_path_factory.mktemp("twilio")
    with serve_inbound(tmp, inbound_plan(), twilio_content_sids=templates) as found:
        yield found


PATH = "/inbound/twilio"


def form(sender: str, body: str, sid: str) -> dict[str, str]:
    """The fields Twilio posts for an inbound message (the ones that matter, and a few more)."""
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": sender,
        "To": "+3197010200300",
        "Body": body,
        "NumMedia": "0",
    }


def post(
    served: Served,
    fields: dict[str, str],
    *,
    signed: str | None = None,
    token: str = AUTH_TOKEN,
    query: str = "",
    data: bytes | None = None,
    content_type: str = "application/x-www-form-urlencoded",
    header: str | None = "sign",
) -> requests.Response:
    """POST as Twilio would: signed over the public URL (``signed``: another URL to sign)."""
    url = f"{BASE_URL}{PATH}{'?' + query if query else ''}"
    headers = {"Content-Type": content_type}
    if header == "sign":
        headers[HEADER] = signature(signed or url, fields, token)
    elif header is not None:
        headers[HEADER] = header
    body = data if data is not None else urlencode(fields).encode()
    target = f"{served.base}{PATH}{'?' + query if query else ''}"
    return requests.post(target, data=body, headers=headers, timeout=30)


def test_a_signed_sms_records_need_help_and_answers_in_dutch(served: Served) -> None:
    answer = post(served, form(TOM, "2 wacht op cijfers", "SM" + "a" * 32))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/xml")
    thanks = Outcome("answered", language="nl").confirmation()
    assert thanks and thanks != Outcome("answered").confirmation()
    assert answer.text == (
        f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{thanks}</Message></Response>'
    )
    row = served.row("tom")
    assert (row["state"], row["status"], row["note"], row["source"]) == (
        "answered",
        "need_help",
        "wacht op cijfers",
        "sms",
    )


def test_a_replayed_post_answers_once(served: Served) -> None:
    fields = form(TOM, "1", "SM" + "b" * 32)
    first = post(served, fields)
    assert first.status_code == 200
    after_first = served.state()
    again = post(served, fields)
    assert again.status_code == 200
    assert again.text.endswith("<Response/>")
    assert served.state() == after_first
    assert served.row("tom")["status"] == "on_track"


def test_whatsapp_records_and_opens_the_session(served: Served) -> None:
    answer = post(served, form(f"whatsapp:{WENDY}", "3 de sleutel is kwijt", "SM" + "c" * 32))
    assert answer.status_code == 200
    assert "<Message>" in answer.text
    row = served.row("wendy")
    assert (row["status"], row["note"], row["source"]) == (
        "blocked",
        "de sleutel is kwijt",
        "whatsapp",
    )
    session = served.engine.store.get_record(records.WHATSAPP_SESSIONS, WENDY)
    assert session is not None


def test_the_query_string_is_part_of_what_is_signed(served: Served) -> None:
    fields = form(TOM, "1 alles goed", "SM" + "d" * 32)
    answer = post(served, fields, query="plan=test-plan")
    assert answer.status_code == 200
    assert served.row("tom")["note"] == "alles goed"


def unsorted(fields: dict[str, str]) -> str:
    import base64
    import hashlib
    import hmac

    signed = f"{BASE_URL}{PATH}" + "".join(k + v for k, v in fields.items())
    mac = hmac.new(AUTH_TOKEN.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def refused_posts(served: Served) -> list[tuple[str, int, dict[str, Any]]]:
    """(name, expected status, arguments of ``post``) for every way a post can be wrong."""
    fields = form(TOM, "4 ik moet stoppen", "SM" + "e" * 32)
    return [
        ("forged: another token", 403, {"fields": fields, "token": "not-the-token"}),
        ("forged: no signature", 403, {"fields": fields, "header": None}),
        ("forged: empty signature", 403, {"fields": fields, "header": ""}),
        ("forged: garbage signature", 403, {"fields": fields, "header": "x" * 28}),
        (
            "altered body",
            403,
            {
                "fields": fields,
                "header": signature(f"{BASE_URL}{PATH}", {**fields, "Body": "1"}, AUTH_TOKEN),
            },
        ),
        ("altered URL", 403, {"fields": fields, "signed": f"{BASE_URL}/inbound/other"}),
        ("other host", 403, {"fields": fields, "signed": f"https://evil.example{PATH}"}),
        (
            "query left out of the signature",
            403,
            {"fields": fields, "query": "a=1", "signed": f"{BASE_URL}{PATH}"},
        ),
        ("parameter order", 403, {"fields": fields, "header": unsorted(fields)}),
        (
            "wrong content type: JSON",
            415,
            {"fields": fields, "content_type": "application/json", "data": b'{"Body": "4"}'},
        ),
        (
            "wrong content type: none",
            415,
            {"fields": fields, "content_type": "", "data": urlencode(fields).encode()},
        ),
        (
            "wrong content type: multipart",
            415,
            {"fields": fields, "content_type": "multipart/form-data; boundary=x"},
        ),
        ("non-UTF-8 body", 400, {"fields": fields, "data": b"From=%2B31612345678&Body=\xff\xfe"}),
        ("non-UTF-8 escape", 400, {"fields": fields, "data": b"From=%2B31612345678&Body=%FF%FE"}),
        ("oversized", 413, {"fields": fields, "data": b"Body=" + b"4" * (1024 * 1024 + 1)}),
    ]


def test_every_bad_post_is_refused_and_changes_nothing(served: Served) -> None:
    before = served.state()
    for name, status, arguments in refused_posts(served):
        answer = post(served, **arguments)
        assert answer.status_code == status, name
        assert answer.status_code < 500, name
        assert "Traceback" not in answer.text, name
    assert served.state() == before
    assert served.rows().get(records.checkin_row_id("tom", WINDOW), {}).get("status") != "stopping"


def test_an_unknown_sender_is_refused_without_an_answer_or_its_body_in_the_log(
    served: Served,
) -> None:
    before = served.state()
    secret = "mijn-geheime-tekst-die-niet-gelogd-mag-worden"
    answer = post(served, form(STRANGER, f"4 {secret}", "SM" + "f" * 32))
    assert answer.status_code == 200
    assert answer.text.endswith("<Response/>")  # no backscatter
    rows, counts, _ = served.state()
    assert (rows, counts) == before[:2]
    log = served.log.read_text(encoding="utf-8", errors="replace")
    assert secret not in log
    assert STRANGER not in log


def test_the_signature_check_comes_before_the_sender(served: Served) -> None:
    before = served.state()
    answer = post(served, form(STRANGER, "1", "SM" + "g" * 32), token="forged")
    assert answer.status_code == 403
    assert served.state() == before
