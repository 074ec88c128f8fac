"""The IMAP poller against a real Dovecot (issue 12, Must show 3).

A plan of 200 volunteers is registered and its check-in requests are sent (to the
outbox, as real .eml files). Each volunteer replies to their own request as a mail
client does: to the message's Reply-To (``reply+<token>@``), with In-Reply-To its
Message-ID. The replies are delivered into a Dovecot mailbox the test started, and
``worker.inbound.imap.poll`` reads them through ``take_mail``.

Each Dovecot user is a mailbox of its own, so every test has an empty one.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.dovecot import PASSWORD, Dovecot
from tests.engine import make_engine, moment, registered
from tests.processes import wait_until
from tests.support import ROOT, minimal_data, plan_from
from worker.delivery import dispatch
from worker.engine import Engine
from worker.inbound import imap
from worker.store import records

pytestmark = pytest.mark.system

PLAN = "test-plan"
REPLY_ADDRESS = "reply@org.example"
OPENS = "2027-01-04 10:00"  # the first check-in window (a Monday), open two days
READ_AT = "2027-01-04 18:00"
DONE, REFUSED = "pactkeeper.done", "pactkeeper.refused"  # Dovecot's maildir separator is "."


def volunteers(count: int) -> list[str]:
    return [f"v{number:03d}" for number in range(1, count + 1)]


def plan_data(count: int) -> dict[str, Any]:
    data = minimal_data()
    data["end"] = "2027-01-31"
    for person in volunteers(count):
        data["people"].append(
            {
                "id": person,
                "name": person.upper(),
                "side": "team",
                "email": f"{person}@team.example",
            }
        )
    data["checkins"] = {
        "every": "weekly",
        "on": "monday",
        "at": "10:00",
        "grace": "2d",
        "who": "team",
    }
    return data


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    server = Dovecot(tmp_path_factory.mktemp("dovecot")).start()
    yield server
    server.remove()


def engine_for(tmp: Path, server: Dovecot, user: str, **settings: Any) -> Engine:
    options: dict[str, Any] = {
        "reply_address": REPLY_ADDRESS,
        "imap_url": server.url(user=user),
        "imap_password": PASSWORD,
        "imap_ca_file": server.cert,
    }
    options.update(settings)
    return make_engine(tmp, **options)


def sent_requests(engine: Engine, count: int) -> dict[str, EmailMessage]:
    """Register the plan of ``count`` volunteers and send its first check-in requests:
    each volunteer's request as it lies in the outbox. Only the requests: the kickoff,
    due too, would render a runbook of 200 people 200 times."""
    registered(engine, plan_from(plan_data(count)), moment("2027-01-04 09:30"))
    for claim in dispatch.sweep(engine, moment(OPENS), limit=10_000):
        if claim.kind == "checkin_open":
            dispatch.deliver(engine, claim, moment(OPENS))
    requests = {}
    for path in sorted(engine.settings.outbox_dir.glob("*_checkin_request_*_email_*.eml")):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(mail, EmailMessage)
        requests[str(mail["To"].addresses[0].username)] = mail
    return requests


def reply_to(request: EmailMessage, text: str, sender: str | None = None) -> bytes:
    """A reply as a mail client writes it: bottom-quoted, to the request's Reply-To."""
    reply = EmailMessage()
    reply["From"] = sender or str(request["To"])
    reply["To"] = str(request["Reply-To"])
    reply["Subject"] = f"Re: {request['Subject']}"
    reply["Date"] = format_datetime(datetime(2027, 1, 4, 12, 0, tzinfo=UTC))
    reply["Message-ID"] = make_msgid(domain="team.example")
    reply["In-Reply-To"] = str(request["Message-ID"])
    reply["References"] = str(request["Message-ID"])
    quoted = "\n".join(
        f"> {line}" for line in request.get_body(("plain",)).get_content().splitlines()[:5]
    )
    reply.set_content(f"{text}\n\nOn Mon, 4 Jan 2027 at 10:00, pactkeeper wrote:\n{quoted}\n")
    return bytes(reply)


def text_for(number: int) -> tuple[str, str]:
    """What volunteer ``number`` answers, and the status it reads as."""
    if number % 10 == 0:
        return "2 - waiting for the figures from the partner", "need_help"
    return "1 all fine, thanks", "on_track"


def rows(engine: Engine) -> dict[str, dict[str, Any]]:
    return engine.store.records(records.checkin_rows(PLAN))


def test_200_replies_20_twice_10_strangers_each_answered_once(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    engine = engine_for(tmp_path, dovecot, "reply200@org.example")
    requests = sent_requests(engine, 200)
    assert len(requests) >= 200
    expected = {}
    mails = []
    for number, person in enumerate(volunteers(200), start=1):
        text, status = text_for(number)
        expected[person] = status
        mails.append(reply_to(requests[person], text))
    twice = mails[::10]  # 20 of them reach the mailbox a second time (the same Message-ID)
    strangers = [
        reply_to(requests[f"v{n:03d}"], "1 fine", sender=f"someone{n}@elsewhere.example")
        for n in range(1, 11)
    ]
    dovecot.deliver(mails + twice + strangers, user="reply200@org.example")

    result = imap.poll(engine, moment(READ_AT))

    assert result.problem == ""
    assert result.outcomes == {"answered": 200, "duplicate": 20, "refused": 10}
    assert (result.done, result.refused) == (220, 10)
    answered = {row["person"]: row for row in rows(engine).values() if row.get("status")}
    assert {person: row["status"] for person, row in answered.items()} == expected
    assert all(row["state"] == "answered" and row["revision"] == 0 for row in answered.values())
    user = "reply200@org.example"
    counts = [dovecot.count(folder, user) for folder in ("INBOX", DONE, REFUSED)]
    assert counts == [0, 220, 10]
    senders = {message_from_bytes(raw)["From"] for raw in dovecot.messages(REFUSED, user)}
    assert senders == {f"someone{n}@elsewhere.example" for n in range(1, 11)}
    assert imap.poll(engine, moment(READ_AT) + 60).handled == 0  # nothing is read twice
