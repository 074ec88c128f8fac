"""The IMAP poller against a real Dovecot (issue 12, Must show 3).

A plan of 200 volunteers is registered and its check-in requests are sent (to the
outbox, as real .eml files). Each volunteer replies to their own request as a mail
client does: to the message's Reply-To (``reply+<token>@``), with In-Reply-To its
Message-ID. The replies are delivered into a Dovecot mailbox the test started, and
``worker.inbound.imap.poll`` reads them through ``take_mail``.

Each Dovecot user is a mailbox of its own, so every test has an empty one.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest

from tests.dovecot import PASSWORD, Dovecot
from tests.engine import make_engine, moment, registered
from tests.processes import stop, wait_until
from tests.servers import free_port
from tests.support import ROOT, dump, minimal_data, plan_from
from worker.delivery import dispatch
from worker.engine import Engine
from worker.inbound import imap
from worker.store import Store, records

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


def replies_of(engine: Engine, count: int) -> list[bytes]:
    requests = sent_requests(engine, count)
    return [reply_to(requests[person], "1 all fine") for person in volunteers(count)]


def poller(engine: Engine, now: float, stall_after: int = 0) -> subprocess.Popen[str]:
    """``tests.imap_poller`` on the engine's settings and store, in its own process."""
    settings = engine.settings
    env = {key: value for key, value in os.environ.items() if not key.startswith("PACTKEEPER_")}
    env.update(
        PYTHONPATH=str(ROOT),
        PACTKEEPER_DATA_DIR=str(settings.data_dir),
        PACTKEEPER_SECRET_KEY="test-signing-key",
        PACTKEEPER_REPLY_ADDRESS=REPLY_ADDRESS,
        PACTKEEPER_IMAP_URL=str(settings.imap_url),
        PACTKEEPER_IMAP_PASSWORD=PASSWORD,
        PACTKEEPER_IMAP_CA_FILE=str(settings.imap_ca_file),
    )
    store = settings.data_dir / "store.sqlite3"
    command = [sys.executable, "-m", "tests.imap_poller", str(store), str(now), str(stall_after)]
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )


def finished(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_a_poller_killed_mid_batch_and_restarted_loses_nothing_and_repeats_nothing(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    user = "killed@org.example"
    engine = engine_for(tmp_path, dovecot, user)
    dovecot.deliver(replies_of(engine, 60), user=user)
    read_at = moment(READ_AT)

    # Killed after 35 messages were handled: the first batch of 25 moved, 10 more not yet.
    assert imap.BATCH == 25
    process = poller(engine, read_at, stall_after=35)
    assert wait_until(lambda: len(engine.store.records(records.INBOUND_SEEN)) == 35, timeout=60)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    left, moved = dovecot.count("INBOX", user), dovecot.count(DONE, user)
    assert (left, moved) == (35, 25)

    # The dead poller's lease holds until it ends: a poll before then does nothing.
    assert finished(poller(engine, read_at + 1))["busy"] is True
    assert dovecot.count("INBOX", user) == left
    # Renewed at the latest POLL_SECONDS after it began, it has ended LEASE_SECONDS later.
    again = finished(poller(engine, read_at + imap.POLL_SECONDS + imap.LEASE_SECONDS))

    assert (again["busy"], again["problem"]) == (False, "")
    # Handled before the kill but not moved yet: read again, answered once (duplicates).
    assert again["outcomes"] == {"duplicate": 10, "answered": 25}
    counts = [dovecot.count(folder, user) for folder in ("INBOX", DONE, REFUSED)]
    assert counts == [0, 60, 0]
    answered = [row for row in rows(engine).values() if row.get("status")]
    assert len(answered) == 60
    assert all(row["status"] == "on_track" and row["revision"] == 0 for row in answered)
    assert len(engine.store.records(records.INBOUND_SEEN)) == 60


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The poller's own warnings."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "pactkeeper.inbound" and r.levelno >= logging.WARNING
    ]


def test_bad_password_untrusted_certificate_missing_folder_or_settings_change_nothing(
    tmp_path: Path, dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    user = "trouble@org.example"
    engine = engine_for(tmp_path, dovecot, user)
    dovecot.deliver(replies_of(engine, 3), user=user)
    wrong = "not-the-password-3f9a"
    cases = {
        "refused the login of the user in PACTKEEPER_IMAP_URL": {"imap_password": wrong},
        "PACTKEEPER_IMAP_PASSWORD (or PACTKEEPER_IMAP_PASSWORD_FILE) is not set": {
            "imap_password": None
        },
        "PACTKEEPER_IMAP_FOLDER_DONE is inbox, the folder being read": {
            "imap_folder_done": "inbox"
        },
        "no trusted TLS connection to 127.0.0.1": {"imap_ca_file": None},
        "PACTKEEPER_IMAP_CA_FILE=/nonexistent/ca.pem cannot be used: No such file": {
            "imap_ca_file": Path("/nonexistent/ca.pem")
        },
        "the folder Replies cannot be opened": {
            "imap_url": dovecot.url(folder="Replies", user=user)
        },
    }
    for expected, settings in cases.items():
        caplog.clear()
        troubled = engine_for(tmp_path, dovecot, user, **settings)
        result = imap.poll(troubled, moment(READ_AT))
        assert expected in result.problem
        assert result.handled == 0
        lines = warnings_of(caplog)
        assert len(lines) == 1 and expected in lines[0] and "next poll tries again" in lines[0]
        assert not any(
            wrong in r.getMessage() or PASSWORD in r.getMessage() for r in caplog.records
        )
        assert [dovecot.count(f, user) for f in ("INBOX", DONE, REFUSED)] == [3, 0, 0]
        assert rows(engine) == {}

    assert imap.poll(engine, moment(READ_AT)).outcomes == {"answered": 3}  # and then it works


def test_a_server_that_is_down_is_tried_again_at_the_next_poll(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = Dovecot(tmp_path / "dovecot").start()
    try:
        engine = engine_for(tmp_path, server, "down@org.example")
        server.deliver(replies_of(engine, 3), user="down@org.example")
        server.stop()

        down = imap.poll(engine, moment(READ_AT))
        assert down.problem.startswith(f"cannot reach 127.0.0.1:{server.tls_port}")
        assert len(warnings_of(caplog)) == 1

        server.start()
        up = imap.poll(engine, moment(READ_AT) + 60)
        assert (up.problem, up.outcomes, up.done) == ("", {"answered": 3}, 3)
    finally:
        server.remove()


def test_imap_with_starttls_reads_over_tls(tmp_path: Path, dovecot: Dovecot) -> None:
    user = "starttls@org.example"
    engine = engine_for(tmp_path, dovecot, user, imap_url=dovecot.url(tls=False, user=user))
    dovecot.deliver(replies_of(engine, 3), user=user)
    assert imap.poll(engine, moment(READ_AT)).outcomes == {"answered": 3}
    logins = [line for line in dovecot.log.read_text().splitlines() if f"user=<{user}>" in line]
    poller_login = [line for line in logins if "lip=127.0.0.1" in line and "Login:" in line]
    assert poller_login and all(", TLS," in line for line in poller_login)


def test_without_move_the_poller_copies_flags_and_expunges(tmp_path: Path) -> None:
    server = Dovecot(tmp_path / "dovecot", without_move=True).start()
    try:
        user = "nomove@org.example"
        engine = engine_for(tmp_path, server, user)
        requests = sent_requests(engine, 3)
        mails = [reply_to(requests[person], "1 fine") for person in volunteers(3)]
        stranger = reply_to(requests["v001"], "1 fine", sender="someone@elsewhere.example")
        server.deliver([*mails, stranger], user=user)
        client = server.client(user)
        capabilities = client.capability()[1][0].split()
        client.logout()
        assert b"MOVE" not in capabilities

        result = imap.poll(engine, moment(READ_AT))
        assert (result.done, result.refused) == (3, 1)
        assert [server.count(f, user) for f in ("INBOX", DONE, REFUSED)] == [0, 3, 1]
    finally:
        server.remove()


def test_a_message_over_the_cap_is_refused_unread(tmp_path: Path, dovecot: Dovecot) -> None:
    user = "large@org.example"
    engine = engine_for(tmp_path, dovecot, user)
    requests = sent_requests(engine, 1)
    large = reply_to(requests["v001"], "1 fine\n\n" + ("x" * 76 + "\n") * 15_000)
    assert len(large) > imap.SIZE_LIMIT
    dovecot.deliver([large], user=user)
    result = imap.poll(engine, moment(READ_AT))
    assert (result.outcomes, result.refused) == ({"refused": 1}, 1)
    assert rows(engine) == {}
    assert [dovecot.count(f, user) for f in ("INBOX", DONE, REFUSED)] == [0, 0, 1]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "imaps://reply%40org.example@mail.example/INBOX",
            ("imaps", "mail.example", 993, "reply@org.example", "INBOX"),
        ),
        ("imap://reply@mail.example:1143", ("imap", "mail.example", 1143, "reply", "INBOX")),
        (
            "imaps://reply@org.example@mail.example/Replies%20in",
            ("imaps", "mail.example", 993, "reply@org.example", "Replies in"),
        ),
    ],
)
def test_the_url_names_the_mailbox(url: str, expected: tuple[object, ...]) -> None:
    box = imap.Mailbox.parse(url)
    assert ("imaps" if box.tls else "imap", box.host, box.port, box.user, box.folder) == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("imaps://reply:hunter2@mail.example/INBOX", "holds a password"),
        ("pop3://reply@mail.example/", "must start with imaps:// or imap://"),
        ("imaps://mail.example/INBOX", "needs a user and a host"),
        ("imaps://reply@mail.example:99999/INBOX", "is not a URL"),
    ],
)
def test_a_bad_url_is_one_line(tmp_path: Path, url: str, problem: str) -> None:
    engine = make_engine(tmp_path, imap_url=url, imap_password="x")
    result = imap.poll(engine, moment(READ_AT))
    assert problem in result.problem and "hunter2" not in result.problem


def test_the_beat_polls_only_when_a_mailbox_is_set_and_never_in_a_rehearsal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACTKEEPER_DATA_DIR", str(tmp_path / "app"))  # the module's own app
    from worker import datafolder
    from worker.run.app import beat_schedule

    plain = make_engine(tmp_path).settings
    url = "imaps://r@mail.example/INBOX"
    polling = make_engine(tmp_path, imap_url=url, imap_interval=90).settings
    assert "imap_poll" not in beat_schedule(plain)
    entry = beat_schedule(polling)["imap_poll"]
    assert (entry["task"], entry["schedule"]) == ("pactkeeper.imap_poll", 90)
    monkeypatch.setenv(datafolder.REHEARSAL_ENV, "1")
    assert "imap_poll" not in beat_schedule(polling)


def test_plain_imap_is_read_on_loopback_only(tmp_path: Path) -> None:
    server = Dovecot(tmp_path / "dovecot", plain=True).start()
    try:
        user = "plain@org.example"
        engine = engine_for(tmp_path, server, user, imap_url=server.url(tls=False, user=user))
        server.deliver(replies_of(engine, 2), user=user)
        client = server.client(user)
        assert "STARTTLS" not in client.capabilities
        client.logout()
        assert imap.poll(engine, moment(READ_AT)).outcomes == {"answered": 2}
    finally:
        server.remove()
    assert [imap.loopback(host) for host in ("127.0.0.1", "::1", "localhost")] == [True] * 3
    assert not any(imap.loopback(host) for host in ("192.0.2.1", "mail.example", "10.0.0.1"))


@pytest.mark.slow
def test_pactkeeper_run_polls_the_mailbox_on_its_beat(tmp_path: Path, dovecot: Dovecot) -> None:
    """The whole way: ``pactkeeper run`` (real time, embedded broker), its beat's
    ``imap_poll`` task, the password from ``PACTKEEPER_IMAP_PASSWORD_FILE``."""
    user = "run@org.example"
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "plan.yaml").write_text(dump(minimal_data()))
    lead = EmailMessage()
    lead["From"], lead["To"], lead["Subject"] = "tim@team.example", REPLY_ADDRESS, "A question"
    lead["Message-ID"] = make_msgid(domain="team.example")
    lead.set_content("Can we move the intake?")
    stranger = EmailMessage()
    stranger["From"], stranger["To"], stranger["Subject"] = (
        "x@elsewhere.example",
        REPLY_ADDRESS,
        "Hi",
    )
    stranger.set_content("1 fine")
    dovecot.deliver([bytes(lead), bytes(stranger)], user=user)
    secret = tmp_path / "imap-password"
    secret.write_text(PASSWORD + "\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PACTKEEPER_")}
    env.update(
        PYTHONPATH=str(ROOT),
        PACTKEEPER_DATA_DIR=str(tmp_path / "data"),
        PACTKEEPER_WEB_PORT=str(free_port()),
        PACTKEEPER_REPLY_ADDRESS=REPLY_ADDRESS,
        PACTKEEPER_IMAP_URL=dovecot.url(user=user),
        PACTKEEPER_IMAP_PASSWORD_FILE=str(secret),
        PACTKEEPER_IMAP_CA_FILE=str(dovecot.cert),
        PACTKEEPER_IMAP_INTERVAL="1",
    )
    log = tmp_path / "run.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "worker.run.cli", "run", str(plans)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        moved = wait_until(lambda: dovecot.count("INBOX", user) == 0, timeout=60, step=0.5)
    finally:
        stop(process, signal.SIGINT, wait=60)
    text = log.read_text()
    assert moved, text[-3000:]
    assert [dovecot.count(f, user) for f in (DONE, REFUSED)] == [1, 1]
    assert "imap: 2 messages read (1 notice, 1 refused)" in text and PASSWORD not in text


def test_the_lease_lets_one_poller_work_at_a_time(store: Store) -> None:
    """On both stores: taken once, held until it ends or is released, renewed only by
    its holder."""
    now = moment(READ_AT)
    assert imap.take_lease(store, "a", now)
    assert not imap.take_lease(store, "b", now + 1)
    assert imap.renew_lease(store, "a", now + 100)
    assert not imap.take_lease(store, "b", now + imap.LEASE_SECONDS + 1)  # renewed at +100
    assert not imap.renew_lease(store, "b", now + 101)
    assert imap.take_lease(store, "b", now + 100 + imap.LEASE_SECONDS + 1)  # a's has ended
    assert not imap.renew_lease(store, "a", now + 300)  # a was too slow: it stops
    imap.release_lease(store, "a")  # not a's to release
    assert not imap.take_lease(store, "c", now + 300)
    imap.release_lease(store, "b")
    assert imap.take_lease(store, "c", now + 300)
