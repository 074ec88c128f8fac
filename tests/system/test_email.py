"""E-mail through the engine to a real aiosmtpd on loopback (plain, STARTTLS, implicit TLS).

Each delivery is one message to one person, so per-recipient results fall out of
the ledger: the accepted recipient is sent once, a 451 is retried for that
recipient only, a 550 fails that recipient permanently and the team lead is told.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.engine import make_engine, moment, registered, run_due, run_until
from tests.smtp_sink import SmtpSink, start_smtp
from tests.support import minimal_data, plan_from

pytestmark = pytest.mark.system

MEETING = "2027-03-10 12:00"


def plan_data(language: str = "en", **extra_people: str) -> dict[str, Any]:
    data = minimal_data()
    data["language"] = language
    data["people"][0]["email"] = "pia@partner.example"
    for person_id, address in extra_people.items():
        data["people"].append(
            {"id": person_id, "name": person_id.title(), "side": "team", "email": address}
        )
    data["milestones"] = [
        {
            "id": "m",
            "title": "Planning session",
            "at": MEETING,
            "duration": "1h",
            "location": "Utrecht",
            "remind": ["1d"],
        }
    ]
    return data


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = start_smtp(tmp_path / "smtp")
    yield sink
    sink.stop()


def by_recipient(messages: list[EmailMessage]) -> Counter[str]:
    return Counter(str(m["To"].addresses[0].addr_spec) for m in messages)


def test_mixed_recipients_accepted_once_tempfail_retried_reject_reported(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    plan = plan_from(plan_data(tom="tempfail-tom@team.example", rita="reject-rita@team.example"))
    engine = registered(
        make_engine(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls="none"),
        plan,
        moment("2027-01-04 00:00"),
    )
    run_until(engine, moment("2027-03-09 15:00"))  # retries back off for about an hour

    received = by_recipient(smtp.messages())
    # Kickoff, invitation and reminder for Pia and Tim, each exactly once, plus Tim's
    # notices as lead.
    assert received["pia@partner.example"] == 3
    assert received["tempfail-tom@team.example"] == 0
    assert received["reject-rita@team.example"] == 0
    ids = [str(m["Message-ID"]) for m in smtp.messages()]
    assert len(ids) == len(set(ids))

    items = {(i.kind, i.recipient): i for i in engine.store.items(plan.id)}
    tom = items[("reminder", "tom")]
    assert tom.state == "failed" and tom.attempts == 7 and "451" in tom.detail
    rita = items[("reminder", "rita")]
    assert rita.state == "failed" and "no working channel left (email: " in rita.detail
    assert "550" in rita.detail
    assert engine.store.get_record(f"targets:{plan.id}", "rita/email") is not None
    notices = [m for m in smtp.messages() if "may not have arrived" in str(m["Subject"])]
    assert notices and all(m["To"].addresses[0].addr_spec == "tim@team.example" for m in notices)
    bodies = " ".join(m.get_body(("plain",)).get_content() for m in notices)  # type: ignore[union-attr]
    assert "Tom" in bodies and "Rita" in bodies


def test_headers_and_parts(tmp_path: Path, smtp: SmtpSink) -> None:
    plan = plan_from(plan_data())
    engine = registered(
        make_engine(
            tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_tls="none",
            uid_domain="pk.test",
        ),
        plan,
        moment("2027-03-01 00:00"),
    )
    deliveries = run_due(engine, moment("2027-03-09 12:00"))
    (reminder,) = [d for d in deliveries if d.item.recipient == "pia" and d.item.kind == "reminder"]
    (mail,) = [
        m
        for m in smtp.messages()
        if "Planning session" in str(m["Subject"])
        and m["X-Pactkeeper-Kind"] == "reminder"
        and m["To"].addresses[0].addr_spec == "pia@partner.example"
    ]
    assert mail["Message-ID"] == f"<{reminder.item.key}@pk.test>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert str(mail["List-Unsubscribe"]).strip().startswith("<mailto:")
    assert mail["Date"] and mail["Content-Language"] == "en"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content_charset() == "utf-8"
    assert "Wednesday 10 March 2027 at 12:00 (CET)" in text.get_content()
    assert "<strong>Planning session</strong>" in html.get_content()


def test_dutch_plan_sends_dutch_mail(tmp_path: Path, smtp: SmtpSink) -> None:
    plan = plan_from(plan_data(language="nl"))
    engine = registered(
        make_engine(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls="none"),
        plan,
        moment("2027-03-01 00:00"),
    )
    run_due(engine, moment("2027-03-09 12:00"))
    reminders = [m for m in smtp.messages() if m["X-Pactkeeper-Kind"] == "reminder"]
    (mail,) = [m for m in reminders if "Planning session" in str(m["Subject"])][:1]
    assert str(mail["Subject"]).startswith("Herinnering: Planning session")
    content = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "woensdag 10 maart 2027 om 12:00" in content and "Hoi" in content
    assert mail["Content-Language"] == "nl"


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_tls_with_authentication(tmp_path: Path, tls: str) -> None:
    sink = start_smtp(tmp_path / "smtp", tls=tls, auth="pactkeeper:s3cret-Pw")
    try:
        plan = plan_from(plan_data())
        engine = registered(
            make_engine(
                tmp_path,
                smtp_host="127.0.0.1",
                smtp_port=sink.port,
                smtp_tls=tls,
                smtp_user="pactkeeper",
                smtp_password="s3cret-Pw",
                smtp_ca_file=sink.cert,
            ),
            plan,
            moment("2027-03-01 00:00"),
        )
        deliveries = run_due(engine, moment("2027-03-09 12:00"))
        assert {d.state for d in deliveries} == {"sent"}
        assert sink.index() and all(entry["tls"] for entry in sink.index())
    finally:
        sink.stop()


def test_wrong_password_is_permanent_and_never_leaks(tmp_path: Path) -> None:
    sink = start_smtp(tmp_path / "smtp", tls="starttls", auth="pactkeeper:right")
    try:
        plan = plan_from(plan_data())
        engine = registered(
            make_engine(
                tmp_path,
                smtp_host="127.0.0.1",
                smtp_port=sink.port,
                smtp_tls="starttls",
                smtp_user="pactkeeper",
                smtp_password="Wrong-Secret-123",
                smtp_ca_file=sink.cert,
            ),
            plan,
            moment("2027-03-01 00:00"),
        )
        deliveries = run_due(engine, moment("2027-03-09 12:00"))
        assert deliveries and all("authentication failed" in d.detail for d in deliveries)
        for item in engine.store.items(plan.id):
            assert "Wrong-Secret-123" not in item.detail
    finally:
        sink.stop()


def test_unknown_outcome_is_resent_with_the_same_message_id(tmp_path: Path, smtp: SmtpSink) -> None:
    plan = plan_from(plan_data(sam="slow-sam@team.example"))
    engine = registered(
        make_engine(
            tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls="none", smtp_timeout=1.5
        ),
        plan,
        moment("2027-03-01 00:00"),
    )
    due = moment("2027-03-09 12:00")
    first = [
        d for d in run_due(engine, due) if d.item.recipient == "sam" and d.item.kind == "reminder"
    ]
    assert [d.state for d in first] == ["unknown"]
    again = [
        d
        for d in run_until(engine, due + 60)
        if d.item.recipient == "sam" and d.item.kind == "reminder"
    ]
    assert [d.state for d in again] == ["sent"]
    item = engine.store.get(first[0].item.key)
    assert item is not None and item.state == "sent" and item.attempts == 1
    # The server kept the first copy; the second carries the same Message-ID, so the
    # recipient's mail system shows it once.
    copies = [
        m
        for m in smtp.messages()
        if m["To"].addresses[0].addr_spec.startswith("slow")
        and m["X-Pactkeeper-Kind"] == "reminder"
        and "Planning session" in str(m["Subject"])
    ]
    assert len(copies) == 2
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"]
