"""The one way in for replies (worker/inbound/replies.py), on a real store and the real engine:
once per inbound message, strangers refused, the rate per sender, opt-out and opt-in, the
WhatsApp 24-hour session, which plan and window a reply answers, and what the lead is told.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from config.load import load_plan, load_text
from config.plan import Plan
from tests.engine import make_engine, moment, registered, run_until
from tests.support import DUTCH
from worker.delivery.channels import choose_channel
from worker.engine import Engine
from worker.inbound.replies import Reply, take_reply
from worker.store import records

ANA, BRAM, CHRIS = "+31612345678", "+31687654321", "+31611223344"
PLAN = "voedselbank-aanmelden"


@pytest.fixture
def plan() -> Plan:
    return load_plan(DUTCH)


@pytest.fixture
def engine(tmp_path: Path, plan: Plan) -> Engine:
    engine = make_engine(tmp_path, reply_address="reply@org.example")
    registered(engine, plan, moment("2027-01-10 12:00"))
    run_until(engine, moment("2027-01-12 10:00"))  # the first check-in requests went out
    return engine


def sms(text: str, sid: str, at: str = "2027-01-12 11:00", sender: str = CHRIS) -> Reply:
    return Reply("sms", sender, sid, text, moment(at))


def notices(engine: Engine) -> list[tuple[str, str | None, str]]:
    return sorted(
        (str(item.data["facts"]["case"]), item.recipient, str(item.data["about"]))
        for item in engine.store.items(PLAN)
        if item.kind == "inbound_notice"
    )


def row(engine: Engine, person: str, day: str) -> dict[str, object] | None:
    return engine.store.get_record(records.checkin_rows(PLAN), f"{person}/{day}")


def test_a_status_answers_the_latest_request_and_warns_as_the_form_would(engine: Engine) -> None:
    outcome = take_reply(engine, sms("2 - wacht op cijfers", "SM1"), moment("2027-01-12 11:00"))
    assert (outcome.result, outcome.status, outcome.window) == (
        "answered",
        "need_help",
        "2027-01-11",
    )
    recorded = row(engine, "chris", "2027-01-11")
    assert recorded is not None
    assert (recorded["status"], recorded["note"], recorded["source"]) == (
        "need_help",
        "wacht op cijfers",
        "sms",
    )
    help_for_lead = [
        item
        for item in engine.store.items(PLAN)
        if item.kind == "warning" and item.data.get("trigger") == "need_help"
    ]
    assert [(item.recipient, item.data["about"]) for item in help_for_lead] == [("bram", "chris")]
    assert outcome.confirmation() == "Dank je, je check-in is vastgelegd."


def test_the_same_message_twice_is_one_answer(engine: Engine) -> None:
    now = moment("2027-01-12 11:00")
    first = take_reply(engine, sms("3 geen toegang", "SM2"), now)
    rows_after_first = engine.store.records(records.checkin_rows(PLAN))
    items_after_first = len(engine.store.items(PLAN))
    again = take_reply(engine, sms("3 geen toegang", "SM2"), now + 60)
    assert (first.result, again.result) == ("answered", "duplicate")
    assert again.status == "blocked"
    assert engine.store.records(records.checkin_rows(PLAN)) == rows_after_first
    assert len(engine.store.items(PLAN)) == items_after_first


def test_an_unknown_sender_is_refused_and_nothing_changes(engine: Engine) -> None:
    before = engine.store.records(records.checkin_rows(PLAN)), len(engine.store.items(PLAN))
    outcome = take_reply(engine, sms("1", "SM3", sender="+31600000000"), moment("2027-01-12 11:00"))
    assert (outcome.result, outcome.reason) == ("refused", "unknown_sender")
    assert outcome.confirmation() is None  # no backscatter
    email = Reply("email", "stranger@example.org", "<x@y>", "ok", moment("2027-01-12 11:00"))
    assert take_reply(engine, email, moment("2027-01-12 11:00")).reason == "unknown_sender"
    after = engine.store.records(records.checkin_rows(PLAN)), len(engine.store.items(PLAN))
    assert after == before


def test_a_sender_is_rate_limited_per_hour(tmp_path: Path, plan: Plan) -> None:
    engine = make_engine(tmp_path, inbound_rate=3)
    registered(engine, plan, moment("2027-01-10 12:00"))
    run_until(engine, moment("2027-01-12 10:00"))
    now = moment("2027-01-12 11:00")
    results = [take_reply(engine, sms("1", f"SM-r{n}"), now + n).result for n in range(5)]
    assert results[:3] == ["answered"] * 3
    assert results[3:] == ["refused", "refused"]
    later = take_reply(engine, sms("1", "SM-r9"), now + 3600)  # the next hour
    assert later.result == "answered"


def test_a_reply_without_a_status_is_contact_and_reaches_the_lead(engine: Engine) -> None:
    outcome = take_reply(engine, sms("bel me even", "SM4"), moment("2027-01-12 11:00"))
    assert (outcome.result, outcome.window) == ("unclear", "2027-01-11")
    recorded = row(engine, "chris", "2027-01-11")
    assert recorded is not None
    assert (recorded["state"], recorded["status"]) == ("answered", "unclear")
    assert notices(engine) == [("unclear", "bram", "chris")]
    # A second text without a status keeps the window as it is and is passed on again.
    take_reply(engine, sms("1", "SM5"), moment("2027-01-12 11:05"))
    more = take_reply(engine, sms("en nog iets", "SM6"), moment("2027-01-12 11:10"))
    assert (more.result, more.reason) == ("notice", "answered_before")
    recorded = row(engine, "chris", "2027-01-11")
    assert recorded is not None and recorded["status"] == "on_track"


def test_an_auto_reply_is_never_an_answer(engine: Engine) -> None:
    auto = Reply(
        "email",
        "chris@acme.example",
        "<ooo@acme>",
        "Ik ben afwezig tot maandag.",
        moment("2027-01-12 11:00"),
        auto=True,
        subject="Automatisch antwoord: Check-in",
    )
    assert take_reply(engine, auto, moment("2027-01-12 11:00")).result == "auto"
    assert row(engine, "chris", "2027-01-11") is None
    assert notices(engine) == [("auto", "bram", "chris")]


def test_a_reply_to_a_message_that_asked_nothing_reaches_the_lead(engine: Engine) -> None:
    reminder = next(
        item
        for item in engine.store.items(PLAN, ("sent",))
        if item.kind == "reminder" and item.recipient == "chris"
    )
    reply = Reply(
        "email",
        "Chris@Acme.example",
        "<re@acme>",
        "1 prima",
        moment("2027-01-12 11:00"),
        about=reminder.key,
    )
    outcome = take_reply(engine, reply, moment("2027-01-12 11:00"))
    assert (outcome.result, outcome.reason) == ("notice", "asked_nothing")
    assert row(engine, "chris", "2027-01-11") is None
    assert notices(engine) == [("asked_nothing", "bram", "chris")]


def test_the_leads_own_reply_goes_to_the_partner_contact(engine: Engine) -> None:
    take_reply(engine, sms("bel me", "SM7", sender=BRAM), moment("2027-01-12 11:00"))
    assert notices(engine) == [("unclear", "ana", "bram")]


def test_stop_switches_the_channel_off_once_and_start_on_again(engine: Engine, plan: Plan) -> None:
    ana = plan.person("ana")
    now = moment("2027-01-12 11:00")
    assert choose_channel(engine, plan, ana, "whatsapp") == "whatsapp"
    stop = Reply("whatsapp", ANA, "SM8", " Stop ", now)
    assert take_reply(engine, stop, now).result == "optout"
    assert choose_channel(engine, plan, ana, "whatsapp") == "email"
    again = Reply("whatsapp", ANA, "SM9", "STOP", now + 60)
    assert take_reply(engine, again, now + 60).result == "optout"
    assert notices(engine) == [("optout", "bram", "ana")]  # told once
    record = engine.store.get_record(records.optouts(PLAN), "ana/whatsapp")
    assert record is not None
    assert (record["off"], record["at"], record["source"]) == (True, now, "whatsapp:SM8")
    start = Reply("whatsapp", ANA, "SM10", "aanmelden", now + 120)
    assert take_reply(engine, start, now + 120).result == "optin"
    assert choose_channel(engine, plan, ana, "whatsapp") == "whatsapp"


def test_stopping_words_are_a_status_not_an_opt_out(engine: Engine) -> None:
    for n, text in enumerate(("4", "ik moet stoppen", "I have to stop")):
        outcome = take_reply(engine, sms(text, f"SM-s{n}"), moment("2027-01-12 11:00") + n)
        assert (outcome.result, outcome.status) == ("answered", "stopping"), text
    assert engine.store.records(records.optouts(PLAN)) == {}


def test_whatsapp_goes_free_form_inside_the_session_and_falls_back_outside(
    engine: Engine, plan: Plan
) -> None:
    ana = plan.person("ana")
    now = moment("2027-01-12 11:00")
    # Never wrote, no template: WhatsApp is passed over for a reminder.
    assert choose_channel(engine, plan, ana, "whatsapp", "reminder", now) == "email"
    take_reply(engine, Reply("whatsapp", ANA, "SM11", "Hoi!", now), now)
    assert choose_channel(engine, plan, ana, "whatsapp", "reminder", now + 3600) == "whatsapp"
    day_later = now + 24 * 3600 + 1
    assert choose_channel(engine, plan, ana, "whatsapp", "reminder", day_later) == "email"


def test_whatsapp_outside_the_session_uses_the_template(tmp_path: Path, plan: Plan) -> None:
    engine = make_engine(tmp_path, twilio_content_sids={"reminder": "HX1"})
    ana = plan.person("ana")
    now = moment("2027-01-12 11:00")
    assert choose_channel(engine, plan, ana, "whatsapp", "reminder", now) == "whatsapp"
    assert choose_channel(engine, plan, ana, "whatsapp", "warning", now) == "email"


def test_a_number_in_two_plans_answers_the_plan_with_the_latest_request(
    engine: Engine, plan: Plan
) -> None:
    other_text = (
        DUTCH.read_text(encoding="utf-8")
        .replace("id: voedselbank-aanmelden", "id: voedselbank-kassa")
        .replace('at: "09:00"\n  grace', 'at: "10:00"\n  grace')
    )
    other = load_text(other_text, str(DUTCH))
    registered(engine, other, moment("2027-01-11 12:00"))
    run_until(engine, moment("2027-01-19 10:00"))  # both plans sent their requests of 18 Jan
    latest = {
        plan_id: max(
            (i.sent_at or 0)
            for i in engine.store.items(plan_id, ("sent",))
            if i.kind == "checkin_open" and i.recipient == "chris"
        )
        for plan_id in (PLAN, "voedselbank-kassa")
    }
    newest = max(latest, key=lambda plan_id: latest[plan_id])
    assert newest == "voedselbank-kassa"  # its check-ins open an hour later
    outcome = take_reply(engine, sms("1", "SM12", "2027-01-19 11:00"), moment("2027-01-19 11:00"))
    assert (outcome.result, outcome.plan_id) == ("answered", newest)


def test_a_closed_plan_records_nothing_and_the_lead_hears_of_the_reply(
    engine: Engine, plan: Plan
) -> None:
    from worker.handover.close import close_plan

    close_plan(engine, plan, moment("2027-01-12 10:30"))
    outcome = take_reply(engine, sms("1", "SM13"), moment("2027-01-12 11:00"))
    assert (outcome.result, outcome.reason) == ("notice", "not_recorded")
    assert row(engine, "chris", "2027-01-11") is None
    assert ("not_recorded", "bram", "chris") in notices(engine)


def test_the_notices_are_sent_in_the_leads_language(engine: Engine) -> None:
    take_reply(engine, sms("bel me even", "SM14"), moment("2027-01-12 11:00"))
    sent = run_until(engine, moment("2027-01-12 12:00"))
    (notice,) = [d for d in sent if d.item.kind == "inbound_notice"]
    assert notice.state == "sent"
    assert (
        notice.subject
        == "Online aanmelden voor vrijwilligers: Chris Smit antwoordde, status onduidelijk"
    )


def test_in_a_telegram_group_only_the_first_account_answers_for_a_person(
    engine: Engine, plan: Plan
) -> None:
    from worker.inbound.replies import latest_request

    now = moment("2027-01-12 11:00")
    request = latest_request(engine, plan, plan.person("eva"), now)
    assert request is not None
    chat = "-1001234567"

    def pressed(update: int, user: str, status: str) -> str:
        reply = Reply(
            "telegram", chat, f"bot:{update}", "", now, about=request.key, status=status, user=user
        )
        return take_reply(engine, reply, now).result

    assert pressed(1, "111", "on_track") == "answered"
    assert pressed(2, "222", "stopping") == "refused"  # someone else in the group
    recorded = row(engine, "eva", "2027-01-11")
    assert recorded is not None and recorded["status"] == "on_track"
    assert pressed(3, "111", "need_help") == "answered"
    in_another_chat = Reply("telegram", "-100999", "bot:4", "1", now, about=request.key)
    assert take_reply(engine, in_another_chat, now).reason == "unknown_sender"


def test_status_shows_a_channel_switched_off_by_stop(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    from worker.run.cli import print_status
    from worker.status import deliveries, progress

    now = moment("2027-01-12 11:00")
    take_reply(engine, Reply("whatsapp", ANA, "SM20", "STOP", now), now)
    report = deliveries(engine, PLAN)
    assert report["opted_out"] == [
        {"person": "ana", "channel": "whatsapp", "at": "2027-01-12T10:00:00Z", "source": "whatsapp"}
    ]
    print_status([{**report, **progress(engine, load_plan(DUTCH), now)}])
    out = capsys.readouterr().out
    assert "channel off: ana on whatsapp (sent STOP)" in out
    # Who answered the meetings' invitations (nobody yet: every invitee has no answer).
    assert "meeting intake: needs-action: " in out
