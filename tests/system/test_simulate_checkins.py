"""Check-ins end to end through the real command: ``simulate``, ``checkin``, ``done``, ``status``.

The Dutch example plan with ``tests/fixtures/checkins_eva_silent_after_week3.csv``:
Bram and Chris answer every week (Chris not in his away week), Eva (New York)
answers the first three weeks and then goes silent. Her windows close on
Wednesdays at 09:00 in New York (14:00Z in winter), so the ladder runs: a nudge
to Eva on 3 February, a warning to Bram (the lead) on 10 February, the dropout
warning to Ana (the partner contact) on 17 February; then the spring pause
(22-26 February) passes in silence and resuming sends no backlog.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support import DUTCH, ROOT, run_cli

pytestmark = pytest.mark.system

CSV = ROOT / "tests" / "fixtures" / "checkins_eva_silent_after_week3.csv"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


# The command-line tests stand on the evening of the Dutch example's first day (the clock
# of a rehearsal): a check-in --at a moment after the real one is refused.
FIRST_EVENING = datetime(2027, 1, 11, 18, 0, tzinfo=UTC).timestamp()


def pactkeeper(*args: str, data: Path | None = None) -> subprocess.CompletedProcess[str]:
    if data is None:
        return run_cli(*args)
    return run_cli(
        *args,
        PACTKEEPER_DATA_DIR=str(data),
        PACTKEEPER_SECRET_KEY="cli-test-key-0123456789",
        PACTKEEPER_CLOCK_OFFSET=repr(FIRST_EVENING - time.time()),
    )


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    done = pactkeeper(
        "simulate", str(DUTCH), "--until", "2027-03-10", "--checkins", str(CSV), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    return out


def log_lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def local(line: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(line["at"].replace("Z", "+00:00")).astimezone(AMSTERDAM)


def test_silence_after_week_three_nudge_then_lead_then_partner_contact(simulated: Path) -> None:
    every = [line for line in log_lines(simulated) if line["kind"] == "warning"]
    assert [w["at"] for w in every] == sorted(w["at"] for w in every)  # logged in order
    # Chris's "need help" of 9 February went to Bram at once; it is no step of the ladder.
    (asked,) = [w for w in every if w["level"] == 0]
    assert (asked["at"], asked["recipient"], asked["about"]) == (
        "2027-02-09T10:00:00Z",
        "bram",
        "chris",
    )
    assert asked["subject"] == "Online aanmelden voor vrijwilligers: Chris Smit vraagt om hulp"
    warnings = [w for w in every if w["level"] > 0]
    warnings.sort(key=lambda w: (w["at"], w["recipient"]))
    assert [(w["at"], w["recipient"], w["about"], w["level"], w["dropout"]) for w in warnings] == [
        ("2027-02-03T14:00:00Z", "eva", "eva", 1, False),
        ("2027-02-10T14:00:00Z", "bram", "eva", 2, False),
        ("2027-02-10T14:00:00Z", "eva", "eva", 2, False),
        ("2027-02-17T14:00:00Z", "ana", "eva", 3, True),
        ("2027-02-17T14:00:00Z", "bram", "eva", 3, True),
    ]
    nudge, lead, contact = warnings[0], warnings[1], warnings[3]
    assert nudge["subject"] == "Online aanmelden voor vrijwilligers: we hebben je check-in gemist"
    assert lead["subject"] == (
        "Online aanmelden voor vrijwilligers: Eva Mulder heeft 2 check-ins op rij gemist"
    )
    assert (
        contact["subject"] == "Online aanmelden voor vrijwilligers: Eva Mulder dreigt af te haken"
    )
    # Ana's first channel is WhatsApp, but she never wrote (no 24-hour session) and no
    # template is configured: her e-mail carries the warning.
    assert (nudge["channel"], lead["channel"], contact["channel"]) == (
        "telegram",
        "slack",
        "email",
    )


def test_the_dropout_warning_to_the_contact_reads_in_dutch_with_its_reasons(
    simulated: Path,
) -> None:
    # By e-mail: Ana never opened a WhatsApp session and no template is configured.
    (payload,) = (simulated / "outbox").glob("20270217T140000Z_*_warning_ana_email_*.eml")
    mail = message_from_bytes(payload.read_bytes(), policy=policy.default)
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    body = " ".join(text.get_content().split())
    assert "Hoi Ana," in body
    assert "Eva Mulder heeft 3 keer op rij geen check-in gedaan" in body
    assert "Er zijn 3 check-ins op rij gemist, sinds 1 februari." in body
    assert "“Ontwerp goedgekeurd” moest klaar zijn op 15 februari" in body
    assert "Het plan noemt Dirk Jansen als opvolger" in body
    assert "/status/voedselbank-aanmelden/" in body


def test_nothing_is_sent_in_the_pause_week_and_no_backlog_after_it(simulated: Path) -> None:
    lines = log_lines(simulated)
    pause = [
        line
        for line in lines
        if datetime(2027, 2, 22, tzinfo=AMSTERDAM)
        <= local(line)
        < datetime(2027, 2, 27, tzinfo=AMSTERDAM)
    ]
    assert pause == []
    after = [line for line in lines if local(line) >= datetime(2027, 2, 27, tzinfo=AMSTERDAM)]
    assert [line for line in after if line["kind"] == "warning"] == []
    # Check-in requests resume: Bram and Eva on 1 March (Chris is away), all three on 8 March.
    requests = sorted(
        (line["at"][:10], line["recipient"]) for line in after if line["kind"] == "checkin_open"
    )
    assert requests == [
        ("2027-03-01", "bram"),
        ("2027-03-01", "eva"),
        ("2027-03-08", "bram"),
        ("2027-03-08", "chris"),
        ("2027-03-08", "eva"),
    ]


def test_overdue_design_is_reminded_once_to_its_owner_and_the_lead(simulated: Path) -> None:
    overdue = [line for line in log_lines(simulated) if "over de deadline" in line["subject"]]
    assert sorted((line["recipient"], line["kind"]) for line in overdue) == [
        ("bram", "reminder"),
        ("eva", "reminder"),
    ]


# -- the command line --------------------------------------------------------------------


def test_checkin_done_and_status_on_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert pactkeeper("sync", str(DUTCH), data=data).returncode == 0
    answered = pactkeeper(
        "checkin",
        str(DUTCH),
        "eva",
        "--status",
        "blocked",
        "--note",
        "Geen toegang",
        "--at",
        "2027-01-11 16:00",
        data=data,
    )
    assert answered.returncode == 0, answered.stderr
    assert (
        answered.stdout.strip() == "eva: check-in for the window of 2027-01-11 recorded (blocked); "
        "request for help sent to 2 people"
    )
    again = pactkeeper(
        "checkin",
        str(DUTCH),
        "eva",
        "--status",
        "blocked",
        "--note",
        "Geen toegang",
        "--at",
        "2027-01-11 17:00",
        data=data,
    )
    assert "was already recorded" in again.stdout
    done = pactkeeper("done", str(DUTCH), "intake", "--at", "2027-01-11 12:00", data=data)
    assert done.stdout.strip() == "intake: done"
    twice = pactkeeper("done", str(DUTCH), "intake", data=data)
    assert twice.stdout.strip() == "intake was already done"

    report = json.loads(pactkeeper("status", "voedselbank-aanmelden", "--json", data=data).stdout)
    assert report["checkins"]["eva"][0]["status"] == "blocked"
    assert report["risk"]["people"]["eva"]["level"] == "at_risk"
    assert report["risk"]["reasons"][0]["text"] == (
        "Eva Mulder: Bij de laatste check-in (11 januari) werd gemeld dat het werk vastzit: "
        "“Geen toegang”."
    )
    assert next(m for m in report["milestones"] if m["id"] == "intake")["done"] is not None
    table = pactkeeper("status", "voedselbank-aanmelden", data=data).stdout
    assert "risk: at_risk" in table and "eva (at_risk)" in table
    link = pactkeeper("status", "voedselbank-aanmelden", "--link", data=data).stdout.strip()
    assert link.startswith("http://localhost:8000/status/voedselbank-aanmelden/")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["checkin", str(DUTCH), "eva", "--status", "fine"], "'fine' is not a check-in status"),
        (["checkin", str(DUTCH), "ana"], "Ana de Vries does not check in"),
        (
            ["checkin", str(DUTCH), "eva", "--at", "2027-01-01 10:00"],
            "no check-in window has opened",
        ),
        (["checkin", str(DUTCH), "nobody"], "no person 'nobody'"),
        # hostile-use #23: a moment after the real one answers nothing ahead of time
        (["checkin", str(DUTCH), "eva", "--at", "2027-01-18 10:00"], "lies in the future"),
        (["done", str(DUTCH), "nothing"], "no milestone 'nothing'"),
    ],
)
def test_bad_command_line_input_is_one_clear_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    data = tmp_path / "data"
    assert pactkeeper("sync", str(DUTCH), data=data).returncode == 0
    result = pactkeeper(*args, data=data)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    report = json.loads(pactkeeper("status", "voedselbank-aanmelden", "--json", data=data).stdout)
    assert not any(w.get("status") for rows in report["checkins"].values() for w in rows)


def test_a_csv_checkin_the_plan_cannot_take_is_skipped_with_one_clear_line(tmp_path: Path) -> None:
    """A row after the close (as the web form and the CLI refuse it): said, not a crash."""
    rows = tmp_path / "late.csv"
    rows.write_text("person,at,status,note\nbram,2027-06-01 10:00,stopping,too late\n")
    out = tmp_path / "sim"
    done = pactkeeper(
        "simulate", str(DUTCH), "--until", "2027-06-10", "--checkins", str(rows), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"pactkeeper: {rows}, line 2: the plan 'voedselbank-aanmelden' was closed on 2027-05-01: "
        "check-ins are no longer recorded; row skipped"
    ]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert not [line for line in log if line["at"] >= "2027-06-01"]  # nothing raised by it
    assert (out / "handover.zip").exists()
