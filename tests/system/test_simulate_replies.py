"""``simulate --replies`` on the Dutch example: replies by WhatsApp, SMS, e-mail and Telegram,
each built as its channel delivers it and taken by the real inbound code.

examples/voedselbank-replies.csv: Ana writes on WhatsApp (no check-in of hers: the lead
hears of it), Chris answers "2 - wacht op cijfers" by SMS, Dirk replies to an e-mail that
asked nothing, Eva ends her silence on Telegram, Ana sends STOP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from worker.store import records
from worker.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
DUTCH = ROOT / "examples" / "voedselbank.yaml"
REPLIES = ROOT / "examples" / "voedselbank-replies.csv"
PLAN = "voedselbank-aanmelden"
UNTIL = "2027-02-15"
# Approved templates, so that Ana's first channel, WhatsApp, carries her messages until
# she sends STOP (without them, her closed 24-hour session would pass it over anyway).
TEMPLATES = json.dumps({"kickoff": "HX1", "reminder": "HX2", "warning": "HX3"})


def simulate(out: Path, *extra: str) -> list[dict[str, Any]]:
    command = ["simulate", str(DUTCH), "--until", UNTIL, "--out", str(out), *extra]
    result = subprocess.run(
        [sys.executable, "-m", "worker.run.cli", *command],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PACTKEEPER_TWILIO_CONTENT_SIDS": TEMPLATES},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = (out / "log.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[dict[str, Any]]]]:
    quiet = tmp_path_factory.mktemp("quiet")
    answered = tmp_path_factory.mktemp("replies")
    return {
        "quiet": (quiet, simulate(quiet)),
        "replies": (answered, simulate(answered, "--replies", str(REPLIES))),
    }


def replies(log: list[dict[str, Any]]) -> list[tuple[str, str, str | None, bool, str]]:
    return [
        (line["person"], line["via"], line["status"], line["answered"], line["result"])
        for line in log
        if line["kind"] == "reply"
    ]


def test_every_reply_is_logged_with_what_it_became(runs: dict[str, Any]) -> None:
    _, log = runs["replies"]
    assert replies(log) == [
        ("ana", "whatsapp", None, False, "notice"),
        ("chris", "sms", "need_help", True, "answered"),
        ("dirk", "email", None, False, "notice"),
        ("eva", "telegram", "on_track", True, "answered"),
        ("ana", "whatsapp", None, False, "optout"),
        ("eva", "telegram", "on_track", True, "answered"),
    ]
    for line in (line for line in log if line["kind"] == "reply"):
        assert set(line) >= {"kind", "person", "at", "via", "status", "answered"}


def test_the_answers_are_recorded_in_their_windows(runs: dict[str, Any]) -> None:
    out, _ = runs["replies"]
    store = SqliteStore(out / "simulation.sqlite3")
    rows = store.records(records.checkin_rows(PLAN))
    store.close()
    chris = rows["chris/2027-01-11"]
    assert (chris["state"], chris["status"], chris["source"]) == ("answered", "need_help", "sms")
    assert chris["note"] == "wacht op cijfers van de voedselbank"
    # Eva's reply of 26 January answers the request of 25 January, by Telegram.
    eva = rows["eva/2027-01-25"]
    assert (eva["state"], eva["status"], eva["source"]) == ("answered", "on_track", "telegram")
    assert eva["note"] == "weer aan de slag na een week ziek"


def warnings_about(log: list[dict[str, Any]], person: str) -> list[tuple[str, str, int]]:
    return [
        (line["at"], line["recipient"], line["level"])
        for line in log
        if line["kind"] == "warning" and line.get("about") == person
    ]


def test_silence_ends_and_the_ladder_stops(runs: dict[str, Any]) -> None:
    _, quiet = runs["quiet"]
    _, answered = runs["replies"]
    # Without replies Eva's silence climbs to the dropout warning on 27 January.
    assert any(level == 3 for _, _, level in warnings_about(quiet, "eva"))
    # Her Telegram reply on 26 January answers her third window: the streak ends at two,
    # no dropout warning goes out, and what follows starts from the first step again.
    reached = warnings_about(answered, "eva")
    assert [level for at, _, level in reached if at < "2027-01-27"] == [1, 2, 2]
    assert not any(level == 3 for _, _, level in reached)


def test_need_help_by_sms_reaches_the_lead_at_once(runs: dict[str, Any]) -> None:
    out, log = runs["replies"]
    help_lines = [
        line
        for line in log
        if line["kind"] == "warning" and line.get("about") == "chris" and line["level"] == 0
    ]
    assert [(line["recipient"], line["at"]) for line in help_lines] == [
        ("bram", "2027-01-12T10:00:00Z")
    ]
    (sent,) = (out / "outbox").glob(f"*_warning_bram_slack_{help_lines[0]['key'][:12]}.json")
    text = sent.read_text(encoding="utf-8")
    assert "Chris Smit vraagt om hulp" in text
    assert "wacht op cijfers van de voedselbank" in text


def test_stop_moves_ana_to_her_next_channel_and_the_lead_is_told_once(
    runs: dict[str, Any],
) -> None:
    _, log = runs["replies"]
    (optout,) = [line for line in log if line["kind"] == "optout"]
    assert (optout["person"], optout["via"], optout["off"]) == ("ana", "whatsapp", True)
    to_ana = [
        (line["at"], line["channel"])
        for line in log
        if line.get("recipient") == "ana" and line["kind"] in ("reminder", "warning", "kickoff")
    ]
    before = {channel for at, channel in to_ana if at < optout["at"]}
    after = {channel for at, channel in to_ana if at > optout["at"]}
    assert before == {"whatsapp"}
    assert after == {"email"}
    told = [
        line
        for line in log
        if line["kind"] == "inbound_notice" and line["subject"].endswith("zette WhatsApp uit")
    ]
    assert [(line["recipient"], line["about"]) for line in told] == [("bram", "ana")]


def test_a_reply_to_a_message_that_asked_nothing_reaches_the_lead(runs: dict[str, Any]) -> None:
    out, log = runs["replies"]
    (notice,) = [
        line for line in log if line["kind"] == "inbound_notice" and line.get("about") == "dirk"
    ]
    assert notice["recipient"] == "bram"
    (sent,) = (out / "outbox").glob(f"*_inbound_notice_bram_slack_{notice['key'][:12]}.json")
    text = sent.read_text(encoding="utf-8")
    assert "Kunnen we de overdracht een week later doen?" in text
    # The reply the simulation built is an e-mail to the reply address of Dirk's last one.
    dirk_mails = sorted((out / "outbox").glob("*_dirk_email_*.eml"))
    assert dirk_mails
    mail = message_from_bytes(dirk_mails[0].read_bytes(), policy=policy.default)
    assert str(mail["Reply-To"]).startswith("reply+")


@pytest.mark.parametrize(
    ("csv_text", "says"),
    [
        ("person,at,text\nana,2027-01-12 10:00,hoi\n", "the header needs person,at,via,text"),
        ("person,at,via,text\nzoe,2027-01-12 10:00,sms,1\n", "no person 'zoe' in the plan"),
        ("person,at,via,text\nana,2027-01-12 10:00,pigeon,1\n", "via 'pigeon' is not one of"),
        ("person,at,via,text\ndirk,2027-01-12 10:00,sms,1\n", "Dirk Jansen has no phone number"),
        ("person,at,via,text\nana,12 januari,sms,1\n", ":2: "),
    ],
)
def test_a_bad_replies_file_is_one_line_and_nothing_runs(
    tmp_path: Path, csv_text: str, says: str
) -> None:
    replies = tmp_path / "replies.csv"
    replies.write_text(csv_text, encoding="utf-8")
    out = tmp_path / "sim"
    command = ["simulate", str(DUTCH), "--until", UNTIL, "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-m", "worker.run.cli", *command, "--replies", str(replies)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert says in result.stderr
    assert not (out / "log.jsonl").exists()
