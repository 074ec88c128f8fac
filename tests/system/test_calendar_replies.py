"""Calendar replies end to end: invitations out through a real SMTP server, the clients'
replies in through the mail path, notices out again, answers on the status page.

The invitation each person got is read back from aiosmtpd, and the reply is built from
the fixture of its client with that invitation's UID, SEQUENCE and Message-ID, so the
reply answers exactly what pactkeeper sent. Then the whole ``.eml`` goes through
``worker.inbound.mailin.take_mail``, as ``pactkeeper mail-in`` and the IMAP poller hand it on.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from tests.engine import make_engine, run_due, run_until
from tests.smtp_sink import SmtpSink, start_smtp
from tests.support import plan_from, run_cli
from tests.system.test_calendar_invites import Mailbox, to
from tests.system.test_web import KEY, serve
from tests.unit.test_itip_replies import ANSWERED, REGISTERED, fill, plan_data, render
from worker.engine import Engine
from worker.inbound.mailin import take_mail
from worker.inbound.replies import Outcome
from worker.plans.register import register
from worker.store import records
from worker.store.sqlite import SqliteStore

pytestmark = pytest.mark.system

DAY = 86400.0


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = start_smtp(tmp_path / "smtp")
    yield sink
    sink.stop()


def invitation(mail: EmailMessage) -> dict[str, str]:
    """The UID, SEQUENCE and Message-ID of one invitation as it arrived."""
    part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    (event,) = Calendar.from_ical(data).walk("VEVENT")
    return {
        "uid": str(event["UID"]),
        "sequence": str(int(event["SEQUENCE"])),
        "in_reply_to": str(mail["Message-ID"]).strip("<>"),
    }


class Sent:
    """The plan registered and its invitations delivered to the SMTP server."""

    def __init__(self, tmp_path: Path, smtp: SmtpSink) -> None:
        self.engine = make_engine(
            tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls="none"
        )
        self.plan = plan_from(plan_data())
        self.mailbox = Mailbox(smtp)
        register(self.engine, self.plan, REGISTERED)
        assert {d.state for d in run_due(self.engine, REGISTERED)} == {"sent"}
        self.invitations = {to(mail): invitation(mail) for mail in self.mailbox.new()}

    def reply(self, client: str, person: str, **values: Any) -> bytes:
        address = self.plan.person(person).email
        assert address is not None
        sent = self.invitations[address]
        filled = fill(self.plan, self.engine, person, **{**sent, **values})
        return render(client, filled)


@pytest.fixture
def sent(tmp_path: Path, smtp: SmtpSink) -> Sent:
    return Sent(tmp_path, smtp)


def about_meetings(mailbox: Mailbox) -> list[EmailMessage]:
    """What arrived since the last look, without the plan's own reminders and kickoff."""
    return [m for m in mailbox.new() if "Design review" in str(m["Subject"])]


def attendance(engine: Engine, plan_id: str) -> dict[str, str]:
    rows = engine.store.records(records.attendance(plan_id)).values()
    return {str(row["person"]): str(row["partstat"]) for row in rows}


@pytest.mark.parametrize(
    ("client", "person", "partstat"),
    [
        ("outlook_accepted", "pia", "ACCEPTED"),
        ("outlookcom_accepted", "pia", "ACCEPTED"),
        ("gmail_accepted", "tim", "ACCEPTED"),
        ("apple_tentative", "tom", "TENTATIVE"),
        ("thunderbird_tentative", "ria", "TENTATIVE"),
        ("thunderbird_delegated", "ria", "DELEGATED"),
        ("apple_declined", "ria", "DECLINED"),
    ],
)
def test_each_clients_whole_reply_is_recorded_through_the_mail_path(
    sent: Sent, client: str, person: str, partstat: str
) -> None:
    assert len(sent.invitations) == 4
    outcome = take_mail(sent.engine, sent.reply(client, person), ANSWERED)
    assert (outcome.result, outcome.person) == ("answered", person), outcome
    assert attendance(sent.engine, sent.plan.id) == {person: partstat}


def test_a_decline_from_the_partner_contact_reaches_the_lead_once(sent: Sent) -> None:
    engine, plan = sent.engine, sent.plan
    comment = "Sorry, that week I am at the food bank's national day."
    raw = sent.reply("outlook_declined", "pia", comment=comment)
    first = take_mail(engine, raw, ANSWERED)
    assert (first.result, first.status) == ("answered", "declined")
    again = take_mail(engine, raw, ANSWERED + 60)  # the poller read it twice
    # The same answer from another copy (Gmail's invite.ics, a forwarded copy): a new
    # Message-ID, the same reply.
    copy = take_mail(engine, sent.reply("gmail_declined", "pia", message_id="x@y"), ANSWERED)
    assert again.result == "duplicate"
    assert copy.result in ("answered", "duplicate")
    delivered = run_until(engine, ANSWERED + 2 * DAY)
    notices = [d for d in delivered if d.item.kind == "inbound_notice"]
    assert [(d.item.recipient, d.state) for d in notices] == [("tim", "sent")]
    (mail,) = about_meetings(sent.mailbox)
    assert to(mail) == "tim@team.example"
    assert str(mail["Subject"]) == "Test plan: Pia declined Design review"
    body = mail.get_body(("plain",))
    assert body is not None
    text = " ".join(body.get_content().split())
    assert "Pia, the partner's contact, declined the meeting" in text
    assert "Wednesday 10 March 2027 at 14:00 (CET)" in text
    assert comment in text
    assert take_mail(engine, raw, ANSWERED + DAY).result == "duplicate"
    run_until(engine, ANSWERED + 4 * DAY)
    assert about_meetings(sent.mailbox) == []
    assert attendance(engine, plan.id) == {"pia": "DECLINED"}


def test_a_reply_to_an_older_sequence_changes_nothing_through_the_mail_path(
    sent: Sent,
) -> None:
    engine = sent.engine
    old = sent.reply("gmail_declined", "pia")
    data = plan_data()
    data["milestones"][0]["at"] = "2027-03-11 14:00"
    register(engine, plan_from(data), REGISTERED + 3600)
    run_due(engine, REGISTERED + 3600)
    updates = {to(mail): invitation(mail) for mail in sent.mailbox.new()}
    assert {u["sequence"] for u in updates.values()} == {"1"}
    outcome = take_mail(engine, old, ANSWERED)
    assert (outcome.result, outcome.reason) == ("refused", "old_sequence")
    assert attendance(engine, sent.plan.id) == {}
    run_until(engine, ANSWERED + 2 * DAY)
    assert about_meetings(sent.mailbox) == []


def test_a_counter_reaches_the_lead_with_the_proposed_time(sent: Sent) -> None:
    raw = sent.reply("outlook_counter", "pia", comment="Would the 17th work?")
    outcome: Outcome = take_mail(sent.engine, raw, ANSWERED)
    assert outcome.result == "notice"
    run_until(sent.engine, ANSWERED + 2 * DAY)
    (mail,) = about_meetings(sent.mailbox)
    assert to(mail) == "tim@team.example"
    assert str(mail["Subject"]) == "Test plan: Pia proposes another time for Design review"
    body = mail.get_body(("plain",))
    assert body is not None
    text = " ".join(body.get_content().split())
    assert "from Wednesday 17 March 2027 at 10:00 (CET) until" in text
    assert "Would the 17th work?" in text


def fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode("utf-8")


def test_status_json_and_the_page_show_who_accepted_and_the_risk(tmp_path: Path) -> None:
    plan = plan_from(plan_data())
    with serve(tmp_path, plan, "2027-03-08 15:00") as served:
        engine = served.engine
        uid_values = {"in_reply_to": "invite@pactkeeper.local"}
        for client, person in (("gmail_accepted", "tim"), ("apple_declined", "tom")):
            raw = render(client, fill(plan, engine, person, **uid_values))
            assert take_mail(engine, raw, ANSWERED).result == "answered"
        raw = render("thunderbird_tentative", fill(plan, engine, "pia", **uid_values))
        assert take_mail(engine, raw, ANSWERED).status == "tentative"
        token = served.status_token()
        status, text = fetch(f"{served.base}/api/status/{plan.id}/{token}")
        assert status == 200
        report = json.loads(text)
        status, page = fetch(f"{served.base}/status/{plan.id}/{token}")
        assert status == 200
        done = run_cli(
            "status",
            plan.id,
            "--json",
            PACTKEEPER_DATA_DIR=str(tmp_path / "data"),
            PACTKEEPER_SECRET_KEY=KEY,
            PACTKEEPER_CLOCK_OFFSET=repr(served.offset),
        )
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)
    for found in (report, cli):
        (meeting,) = found["meetings"]
        answers = {a["person"]: a["answer"] for a in meeting["attendees"]}
        assert answers == {
            "pia": "tentative",
            "tim": "accepted",
            "tom": "declined",
            "ria": "needs-action",
        }
        texts = [r["text"] for r in found["risk"]["reasons"]]
        assert "Tom Vos declined “Design review” (10 March)." in texts
        assert "The partner contact Pia has not accepted “Design review” (10 March) yet." in texts
    assert 'data-person="tom" data-answer="declined"' in page
    assert "Tom Vos: declined" in page and "Pia: tentative" in page and "Ria Bos: no answer" in page
    assert "Tom Vos declined “Design review” (10 March)." in page


def test_pactkeeper_mail_in_takes_a_calendar_reply_and_refuses_a_stale_one(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    engine = make_engine(tmp_path, store=SqliteStore(data_dir / "pactkeeper.sqlite3"))
    plan = plan_from(plan_data())
    register(engine, plan, REGISTERED)
    moved = plan_data()
    moved["milestones"][0]["at"] = "2027-03-11 14:00"  # SEQUENCE 1 goes out
    register(engine, plan_from(moved), REGISTERED + 3600)
    current, stale = tmp_path / "current.eml", tmp_path / "stale.eml"
    current.write_bytes(render("apple_declined", fill(plan, engine, "pia", sequence=1)))
    stale.write_bytes(render("apple_declined", fill(plan, engine, "tim", sequence=0)))
    env = {"PACTKEEPER_DATA_DIR": str(data_dir), "PACTKEEPER_SECRET_KEY": KEY}
    taken = run_cli("mail-in", str(current), **env)
    refused = run_cli("mail-in", str(stale), **env)
    assert taken.returncode == 0, taken.stderr
    assert taken.stdout.split()[:3] == ["answered", "test-plan/pia", "declined"]
    assert refused.returncode == 1
    assert "refused (old_sequence)" in refused.stderr and "Traceback" not in refused.stderr
    assert attendance(engine, plan.id) == {"pia": "DECLINED"}
