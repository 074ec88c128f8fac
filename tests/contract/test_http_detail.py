"""What a receiver's error body may add to a failure: plain words, never the request.

Many servers answer with the request's path (Express: "Cannot POST /services/...")
and for a webhook that path is the secret. The sink below answers 404 with the
path echoed, the way such a receiver would.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from config.load import load_plan
from connectors import http
from connectors.base import ConnectorError
from tests.engine import make_engine, moment, registered, run_until
from tests.http_sink import start_sink
from tests.support import DUTCH
from worker.status import plan_status

SECRET = "SUPERSECRETPATH"
HOOK_PATH = f"/services/T000/B000/{SECRET}"

ECHOES = [
    # body, what the error may still say
    (f"no_service {HOOK_PATH}", "Slack: HTTP 404 (no_service)"),
    (f"Cannot POST {HOOK_PATH}", "Slack: HTTP 404 (Cannot POST)"),
    (SECRET, "Slack: HTTP 404"),
    (f"no_such_hook: {SECRET}", "Slack: HTTP 404 (no_such_hook:)"),
    ("Cannot%20POST%20%2Fservices%2FT000%2FB000%2F" + SECRET, "Slack: HTTP 404"),
    ({"error": "Cannot POST " + HOOK_PATH}, "Slack: HTTP 404 (Cannot POST)"),
    ({"message": f"hook {SECRET[:12]} unknown"}, "Slack: HTTP 404 (hook unknown)"),
    (f"token xoxb-1234567890-{SECRET.lower()} revoked", "Slack: HTTP 404 (token revoked)"),
]


@pytest.mark.parametrize(("body", "said"), ECHOES)
def test_an_echoed_request_never_reaches_the_error_text(
    body: str | dict[str, str], said: str, tmp_path: Path
) -> None:
    sink = start_sink(tmp_path)
    try:
        sink.script(404, body=body)
        with pytest.raises(ConnectorError) as caught:
            http.post(f"{sink.url}{HOOK_PATH}", service="Slack", json={"text": "hi"})
    finally:
        sink.stop()
    assert (caught.value.kind, str(caught.value.detail)) == ("permanent", said)


def test_a_webhook_secret_path_echoed_in_an_error_body_never_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = start_sink(tmp_path / "sink")
    try:
        sink.script(404, body=f"no_service {HOOK_PATH}")
        monkeypatch.setenv("ACME_SLACK_WEBHOOK", f"{sink.url}{HOOK_PATH}")
        plan = load_plan(DUTCH)
        engine = registered(make_engine(tmp_path), plan, moment("2027-01-11 00:00"))
        deliveries = run_until(engine, moment("2027-01-20 00:00"))
        assert sink.requests() and all(r["path"] == HOOK_PATH for r in sink.requests())
        report = json.dumps(plan_status(engine, plan.id), ensure_ascii=False)
    finally:
        sink.stop()
    notices = [d.item for d in deliveries if d.item.kind == "notice"]
    assert notices and all("Slack: HTTP 404 (no_service)" in n.data["detail"] for n in notices)
    assert "Slack: HTTP 404 (no_service)" in report  # disabled_channels still say why
    files = [path for path in (tmp_path / "data").rglob("*") if path.is_file()]
    outbox = [path.read_text(errors="replace") for path in files]
    assert outbox, "the notices went to the outbox"
    for text in (caplog.text, report, *(json.dumps(n.data) for n in notices), *outbox):
        assert SECRET not in text
