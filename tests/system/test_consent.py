"""Consent for SMS and WhatsApp (issue 16): without a recorded consent, or before its day,
nothing goes on those channels and the person's next channel takes the message.

The real engine on both stores (the ``store`` fixture), Twilio played by the HTTP sink
(every request it gets is on file), e-mail into the outbox folder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from config.plan import Plan
from tests.engine import make_engine, moment, registered, run_until
from tests.http_sink import SinkProcess, start_sink
from tests.support import minimal_data, plan_from
from worker.delivery.channels import passed_over, without_consent
from worker.engine import Delivery, Engine
from worker.status import plan_status
from worker.store.base import Store

pytestmark = pytest.mark.system

SOL, WES, OLA = "+31612345678", "+31687654321", "+31611223344"
START = "2027-01-03 12:00"  # registered the day before the plan starts
UNTIL = "2027-01-21 00:00"  # past the kickoff (4 January) and the reminder (19 January)


def consent_plan(sol: str | None = None, wes: str | None = None, **extra: Any) -> Plan:
    """Sol on sms then e-mail, Wes on WhatsApp then e-mail, a meeting with a reminder."""
    data = minimal_data()
    sol_entry = {"id": "sol", "name": "Sol", "side": "team", "email": "sol@team.example"}
    wes_entry = {"id": "wes", "name": "Wes", "side": "team", "email": "wes@team.example"}
    sol_entry.update(phone=SOL, channels=["sms", "email"], **({"consent": sol} if sol else {}))
    wes_entry.update(phone=WES, channels=["whatsapp", "email"], **({"consent": wes} if wes else {}))
    data["people"] += [sol_entry, wes_entry, *extra.get("people", [])]
    data["communication"]["channels"].update({"sms": {}, "whatsapp": {}})
    data["milestones"] = [
        {"id": "review", "title": "Review", "at": "2027-01-20 10:00", "remind": ["1d"]}
    ]
    return plan_from(data)


@pytest.fixture
def twilio(tmp_path: Path) -> Iterator[SinkProcess]:
    sink = start_sink(tmp_path / "sink")
    sink.script(201, body={"sid": "SM" + "0" * 32})
    try:
        yield sink
    finally:
        sink.stop()


def engine_on(tmp_path: Path, store: Store, sink: SinkProcess) -> Engine:
    return make_engine(
        tmp_path,
        store,
        twilio_api_url=sink.url,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="twilio-auth-token",
        twilio_from="+15005550006",
        twilio_whatsapp_from="+14155238886",
        # WhatsApp outside the 24-hour session needs a template: configured for the
        # kinds here, so that consent is what decides.
        twilio_content_sids={"kickoff": "HX" + "1" * 32, "reminder": "HX" + "2" * 32},
    )


def sent_to(deliveries: list[Delivery], person: str) -> list[Delivery]:
    """What reached ``person`` on their own channels (calendar invitations go by e-mail)."""
    return [
        d
        for d in deliveries
        if d.item.recipient == person and d.state == "sent" and d.item.kind != "invite"
    ]


def phones_called(sink: SinkProcess) -> list[str]:
    """The ``To`` of every message Twilio was asked to send."""
    return [parse_qs(request["body"])["To"][0] for request in sink.requests()]


def test_without_consent_nothing_goes_on_sms_or_whatsapp_and_email_takes_it(
    tmp_path: Path, store: Store, twilio: SinkProcess, caplog: pytest.LogCaptureFixture
) -> None:
    plan = consent_plan()
    engine = registered(engine_on(tmp_path, store, twilio), plan, moment(START))
    with caplog.at_level(logging.INFO, logger="pactkeeper.dispatch"):
        deliveries = run_until(engine, moment(UNTIL))
    assert twilio.requests() == []  # not one SMS or WhatsApp message was asked for
    for person, channel in (("sol", "sms"), ("wes", "whatsapp")):
        sent = sent_to(deliveries, person)
        assert {d.item.kind for d in sent} == {"kickoff", "reminder"}, person
        assert {d.channel for d in sent} == {"email"}
        assert {d.detail for d in sent} == {f"{channel} passed over: no consent"}
        stored = [engine.store.get(d.item.key) for d in sent]
        assert {(i.channel_used, i.detail) for i in stored if i} == {
            ("email", f"{channel} passed over: no consent")
        }
    outbox = [p.name for p in engine.settings.outbox_dir.iterdir() if p.is_file()]
    assert any("_kickoff_sol_email_" in name for name in outbox), outbox
    assert not any("_sms_" in name or "_whatsapp_" in name for name in outbox)
    lines = [r.getMessage() for r in caplog.records]
    assert any(
        "to sol via email" in line and "sms passed over: no consent" in line for line in lines
    )
    assert not any(SOL in line or WES in line for line in lines)  # people by id, not number


def test_with_consent_sms_and_whatsapp_carry_the_messages(
    tmp_path: Path, store: Store, twilio: SinkProcess
) -> None:
    plan = consent_plan(sol="2027-01-02", wes="2027-01-02")
    engine = registered(engine_on(tmp_path, store, twilio), plan, moment(START))
    deliveries = run_until(engine, moment(UNTIL))
    assert {d.channel for d in sent_to(deliveries, "sol")} == {"sms"}
    assert {d.channel for d in sent_to(deliveries, "wes")} == {"whatsapp"}
    assert all(d.detail == "" for d in sent_to(deliveries, "sol") + sent_to(deliveries, "wes"))
    called = phones_called(twilio)
    assert called.count(SOL) == len(sent_to(deliveries, "sol")) >= 2
    assert called.count(f"whatsapp:{WES}") == len(sent_to(deliveries, "wes")) >= 2


def test_a_consent_dated_after_the_sending_day_falls_back_until_that_day(
    tmp_path: Path, store: Store, twilio: SinkProcess
) -> None:
    plan = consent_plan(sol="2027-01-15")
    engine = registered(engine_on(tmp_path, store, twilio), plan, moment(START))
    deliveries = run_until(engine, moment(UNTIL))
    by_kind = {d.item.kind: d for d in sent_to(deliveries, "sol")}
    kickoff, reminder = by_kind["kickoff"], by_kind["reminder"]
    assert (kickoff.channel, kickoff.detail) == (
        "email",
        "sms passed over: no consent before 2027-01-15",
    )
    assert (reminder.channel, reminder.detail) == ("sms", "")  # 19 January: agreed by then
    assert phones_called(twilio) == [SOL]


def test_a_person_with_only_sms_and_no_consent_gets_nothing_and_the_lead_is_told(
    tmp_path: Path, store: Store, twilio: SinkProcess
) -> None:
    ola = {"id": "ola", "name": "Ola", "side": "team", "phone": OLA, "channels": ["sms"]}
    plan = consent_plan(sol="2027-01-02", wes="2027-01-02", people=[ola])
    engine = registered(engine_on(tmp_path, store, twilio), plan, moment(START))
    deliveries = run_until(engine, moment(UNTIL))
    assert OLA not in phones_called(twilio)
    for_ola = [d for d in deliveries if d.item.recipient == "ola"]
    assert for_ola and all(d.state == "failed" for d in for_ola)
    assert {d.detail for d in for_ola} == {"no working channel left (sms: no consent)"}
    notices = [d for d in deliveries if d.item.kind == "notice" and d.state == "sent"]
    about_ola = [d for d in notices if d.item.data.get("person") == "ola"]
    assert len(about_ola) == len(for_ola)  # one notice per message that found no channel
    assert {d.item.recipient for d in about_ola} == {"tim"}
    assert all("sms: no consent" in str(d.item.data["detail"]) for d in about_ola)


def test_status_shows_sms_and_whatsapp_without_consent_as_off(
    tmp_path: Path, store: Store, twilio: SinkProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    from worker.run.cli import print_status

    plan = consent_plan(wes="2027-01-15")
    engine = registered(engine_on(tmp_path, store, twilio), plan, moment(START))
    before = plan_status(engine, plan.id, moment("2027-01-10 12:00"))
    assert before["no_consent"] == [
        {"person": "sol", "channel": "sms", "reason": "no consent"},
        {"person": "wes", "channel": "whatsapp", "reason": "no consent before 2027-01-15"},
    ]
    print_status([before])
    out = capsys.readouterr().out
    assert "channel off: sol on sms (no consent)" in out
    assert "channel off: wes on whatsapp (no consent before 2027-01-15)" in out
    after = plan_status(engine, plan.id, moment("2027-01-15 00:00"))
    assert after["no_consent"] == [{"person": "sol", "channel": "sms", "reason": "no consent"}]


def test_the_consent_day_is_the_persons_own_day(tmp_path: Path, store: Store) -> None:
    """At 03:00 on 4 January in Amsterdam it is still 3 January in New York."""
    data = minimal_data()
    data["communication"]["channels"]["sms"] = {}
    for entry in data["people"]:  # Pia in the plan's zone (Amsterdam), Tim in New York
        entry.update(phone=SOL, channels=["sms", "email"], consent="2027-01-04")
    data["people"][1]["timezone"] = "America/New_York"
    plan = plan_from(data)
    engine = make_engine(tmp_path, store)
    now = moment("2027-01-04 03:00")
    pia, tim = plan.person("pia"), plan.person("tim")
    assert without_consent(plan, pia, "sms", now) is None
    assert without_consent(plan, tim, "sms", now) == "no consent before 2027-01-04"
    assert passed_over(engine, plan, tim, "sms", "reminder", now) == "no consent before 2027-01-04"
    assert passed_over(engine, plan, tim, "sms", "reminder", now + 6 * 3600) is None
    assert without_consent(plan, tim, "email", now) is None  # e-mail needs no consent here
