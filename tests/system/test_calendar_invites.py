"""Invitations and cancellations delivered to a real aiosmtpd and read back.

Each message is parsed with Python's ``email`` package and its calendar with
icalendar and vobject: the MIME structure (text + HTML + ``text/calendar`` as
alternatives, the same object as an ``invite.ics`` attachment), the METHOD in the
MIME header equal to the one in the body, ``mailto:`` ORGANIZER and ATTENDEE with
RSVP, the UID stable across updates, SEQUENCE rising, CANCEL with the same UID.
In both languages.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import vobject
from icalendar import Calendar, Event

from tests.calendar_lint import lint_calendar
from tests.engine import make_engine, moment, run_due
from tests.smtp_sink import SmtpSink, start_smtp
from tests.support import minimal_data, plan_from
from worker.engine import Engine
from worker.plans.register import register

pytestmark = pytest.mark.system

SUBJECTS = {
    "nl": {"invite": "Uitnodiging: ", "update": "Gewijzigd: ", "cancel": "Geannuleerd: "},
    "en": {"invite": "Invitation: ", "update": "Changed: ", "cancel": "Cancelled: "},
}
WHEN = {
    "nl": "woensdag 10 maart 2027 om 14:00 (CET)",
    "en": "Wednesday 10 March 2027 at 14:00 (CET)",
}


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = start_smtp(tmp_path / "smtp")
    yield sink
    sink.stop()


def plan_data(language: str) -> dict[str, Any]:
    data = minimal_data()
    data["language"] = language
    data["people"].append(
        {"id": "tom", "name": "Tom Vos", "side": "team", "email": "tom@t.example"}
    )
    data["milestones"] = [
        {
            "id": "review",
            "title": "Design review",
            "at": "2027-03-10 14:00",
            "duration": "1h",
            "attendees": ["pia", "tim", "tom"],
            "location": "Vaartsche Rijn 1, Utrecht",
        }
    ]
    return data


class Mailbox:
    """What arrived at the SMTP server since the last look."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink, self.seen = sink, 0

    def new(self) -> list[EmailMessage]:
        found = self.sink.messages()[self.seen :]
        self.seen += len(found)
        return found


def sync(engine: Engine, data: dict[str, Any], now: float) -> None:
    register(engine, plan_from(data), now)
    assert {d.state for d in run_due(engine, now)} <= {"sent"}


def itip(mail: EmailMessage) -> tuple[str, Event]:
    """Check one message's structure; return its METHOD and its one event."""
    assert mail.get_content_type() == "multipart/mixed"
    alternative, attachment = mail.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    part = list(alternative.iter_parts())[2]
    assert part.get_content_charset() == "utf-8"
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes) and lint_calendar(data) == []
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_payload(decode=True) == data
    calendar = Calendar.from_ical(data)
    method = str(calendar["METHOD"])
    assert part.get_param("method") == method  # the MIME header says what the body says
    (event,) = calendar.walk("VEVENT")
    assert str(event["ORGANIZER"]) == "mailto:pactkeeper@localhost"
    found = event["ATTENDEE"]
    for attendee in found if isinstance(found, list) else [found]:
        assert str(attendee).startswith("mailto:")
        if method == "REQUEST":
            assert attendee.params["RSVP"] == "TRUE"
    parsed = vobject.readOne(data.decode("utf-8"))
    assert parsed.vevent.uid.value == str(event["UID"])
    return method, event


def to(mail: EmailMessage) -> str:
    return str(mail["To"].addresses[0].addr_spec)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_invite_update_and_cancel_arrive_as_itip(
    tmp_path: Path, smtp: SmtpSink, language: str
) -> None:
    engine = make_engine(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls="none")
    mailbox, subjects = Mailbox(smtp), SUBJECTS[language]
    data = plan_data(language)
    start = moment("2027-01-04 08:00")

    sync(engine, data, start)
    first = mailbox.new()
    assert sorted(to(m) for m in first) == [
        "pia@partner.example",
        "tim@team.example",
        "tom@t.example",
    ]
    uids = set()
    for mail in first:
        method, event = itip(mail)
        assert method == "REQUEST" and int(event["SEQUENCE"]) == 0
        assert str(mail["Subject"]) == f"{subjects['invite']}Design review, {WHEN[language]}"
        assert mail["Content-Language"] == language
        assert "Vaartsche Rijn 1, Utrecht" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        uids.add(str(event["UID"]))
    (uid,) = uids

    moved = copy.deepcopy(data)
    moved["milestones"][0]["at"] = "2027-03-10 15:00"
    sync(engine, moved, start + 60)
    updates = mailbox.new()
    assert len(updates) == 3
    for mail in updates:
        method, event = itip(mail)
        assert (method, str(event["UID"]), int(event["SEQUENCE"])) == ("REQUEST", uid, 1)
        assert str(mail["Subject"]).startswith(f"{subjects['update']}Design review")
        assert event.decoded("DTSTART").hour == 15

    sync(engine, moved, start + 120)  # nothing changed: nothing sent
    assert mailbox.new() == []

    without_tom = copy.deepcopy(moved)
    without_tom["milestones"][0]["attendees"] = ["pia", "tim"]
    sync(engine, without_tom, start + 180)
    (cancel,) = mailbox.new()
    method, event = itip(cancel)
    assert to(cancel) == "tom@t.example"
    assert (method, str(event["UID"]), int(event["SEQUENCE"])) == ("CANCEL", uid, 2)
    assert str(event["ATTENDEE"]) == "mailto:tom@t.example"
    assert str(cancel["Subject"]).startswith(subjects["cancel"])

    gone = copy.deepcopy(without_tom)
    gone["milestones"] = []
    sync(engine, gone, start + 240)
    cancels = mailbox.new()
    assert sorted(to(m) for m in cancels) == ["pia@partner.example", "tim@team.example"]
    for mail in cancels:
        method, event = itip(mail)
        assert (method, str(event["UID"]), int(event["SEQUENCE"])) == ("CANCEL", uid, 3)
        assert str(event["STATUS"]) == "CANCELLED"
    # Every message was delivered once, each with its own Message-ID.
    ids = [str(m["Message-ID"]) for m in smtp.messages()]
    assert len(ids) == len(set(ids)) == 9
