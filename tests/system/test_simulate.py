"""``simulate`` of the Dutch example: every message the timeline promised, in Dutch, on time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import DUTCH, ENGLISH

pytestmark = pytest.mark.system

MESSAGE_KINDS = ("kickoff", "reminder", "checkin_open")
OPENINGS = {
    "nl": {
        "kickoff": "begint vandaag",
        "reminder": "Herinnering:",
        "checkin_open": "Check-in voor",
    },
    "en": {"kickoff": "starts today", "reminder": "Reminder:", "checkin_open": "Check-in for"},
}


# Approved WhatsApp templates for every kind that reaches Ana: without them, WhatsApp may
# carry a message only inside her 24-hour session, and her e-mail would take them.
TEMPLATES = {
    "PACTKEEPER_TWILIO_CONTENT_SIDS": json.dumps(
        {kind: f"HX{n:032d}" for n, kind in enumerate(("kickoff", "reminder", "warning"))}
    )
}


def cli(*arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "worker.run.cli", *arguments],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **TEMPLATES},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result.stdout


def simulated(plan: Path, until: str, out: Path) -> list[dict[str, Any]]:
    cli("simulate", str(plan), "--until", until, "--out", str(out))
    lines = (out / "log.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    ("plan", "until", "lang"), [(DUTCH, "2027-04-30", "nl"), (ENGLISH, "2027-06-30", "en")]
)
def test_every_promised_message_at_its_time(
    tmp_path: Path, plan: Path, until: str, lang: str
) -> None:
    promised = [
        item
        for item in json.loads(cli("timeline", str(plan), "--json"))
        if item["kind"] in MESSAGE_KINDS
    ]
    log = {line["key"]: line for line in simulated(plan, until, tmp_path / "sim")}
    assert promised
    for item in promised:
        line = log.get(item["key"])
        assert line is not None, item
        assert (line["kind"], line["at"], line["recipient"], line["channel"]) == (
            item["kind"],
            item["at"],
            item["recipient"],
            item["channel"],
        )
        assert OPENINGS[lang][item["kind"]] in line["subject"], line["subject"]
    # One file per message in the outbox, named after its key.
    names = [p.name for p in (tmp_path / "sim" / "outbox").iterdir()]
    for item in promised:
        assert sum(item["key"][:12] in name for name in names) == 1, item


def test_outbox_files_are_what_the_services_would_get(tmp_path: Path) -> None:
    log = simulated(DUTCH, "2027-01-12", tmp_path / "sim")
    outbox = tmp_path / "sim" / "outbox"
    kickoff_dirk = next(p for p in outbox.iterdir() if "_kickoff_dirk_email_" in p.name)
    from email import message_from_bytes, policy

    mail = message_from_bytes(kickoff_dirk.read_bytes(), policy=policy.default)
    assert (
        str(mail["Subject"]) == "Online aanmelden voor vrijwilligers begint vandaag: het draaiboek"
    )
    attachments = {part.get_filename() for part in mail.iter_attachments()}
    assert attachments == {"draaiboek-voedselbank-aanmelden.html", "voedselbank-aanmelden-dirk.ics"}
    whatsapp = next(p for p in outbox.iterdir() if "_kickoff_ana_whatsapp_" in p.name)
    payload = json.loads(whatsapp.read_text())
    assert payload["To"] == "whatsapp:+31612345678"
    assert {line["kind"] for line in log} <= {
        "kickoff",
        "reminder",
        "checkin_open",
        "warning",
        "invite",
        "cancel",
        "handover",
        "notice",
    }


def test_simulate_rejects_bad_input_cleanly(tmp_path: Path) -> None:
    bad_csv = tmp_path / "checkins.csv"
    bad_csv.write_text("person,at,status,note\nnobody,2027-01-12 10:00,on_track,hi\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "worker.run.cli",
            "simulate",
            str(DUTCH),
            "--until",
            "2027-01-20",
            "--out",
            str(tmp_path / "sim"),
            "--checkins",
            str(bad_csv),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert f"{bad_csv}:2: no person 'nobody' in the plan" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "sim").exists()  # nothing ran, nothing written
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "worker.run.cli",
            "simulate",
            str(DUTCH),
            "--until",
            "30-04-2027",
            "--out",
            str(tmp_path / "sim"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "--until" in result.stderr
