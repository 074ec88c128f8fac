"""Calendar replies (iTIP REPLY and COUNTER) read into attendance, notices and risk.

The replies are the fixtures in ``tests/fixtures/itip/``, each in the shape its client
sends, filled in with the UID and SEQUENCE pactkeeper gave the test plan's meeting
(``render``). ``take_calendar_reply`` gets the ``text/calendar`` part as the mail path
finds it; the whole messages go through ``take_mail`` in
``tests/system/test_calendar_replies.py``.
"""

from __future__ import annotations

import base64
import email
import logging
import re
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from string import Template
from typing import Any

import pytest

from config.plan import Plan
from connectors.calendar.ics import event_uid
from tests.engine import make_engine, moment
from tests.support import minimal_data, plan_from
from worker.checkins.risk import calendar_reasons
from worker.engine import Engine
from worker.inbound import attendance, itip
from worker.inbound.attendance import meeting_answers
from worker.inbound.itip import read_calendar, take_calendar_reply
from worker.inbound.notices import KIND as NOTICE
from worker.inbound.replies import Outcome
from worker.messages import render_parts
from worker.plans.register import register
from worker.status import plan_status
from worker.store import records

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "itip"
REGISTERED = moment("2027-01-04 08:00")
ANSWERED = moment("2027-02-01 09:15")
BASE64 = re.compile(r"<<base64\n(.*?)>>\n", re.S)

# Each client's reply, the test plan's person who sends it, and the PARTSTAT it carries.
CLIENTS = [
    ("outlook_accepted", "pia", "accepted"),
    ("outlookcom_accepted", "tom", "accepted"),
    ("gmail_accepted", "tim", "accepted"),
    ("gmail_declined", "ria", "declined"),
    ("apple_tentative", "pia", "tentative"),
    ("apple_declined", "tom", "declined"),
    ("thunderbird_tentative", "tim", "tentative"),
    ("thunderbird_delegated", "ria", "delegated"),
    ("outlook_declined", "pia", "declined"),
]


def plan_data(language: str = "en") -> dict[str, Any]:
    """The minimal plan with a meeting for four: Pia (the partner's contact), Tim (the lead),
    Tom (its owner) and Ria (from the team)."""
    data = minimal_data()
    data["language"] = language
    data["people"] += [
        {"id": "tom", "name": "Tom Vos", "side": "team", "email": "tom@t.example"},
        {"id": "ria", "name": "Ria Bos", "side": "team", "email": "ria@t.example"},
    ]
    data["milestones"] = [
        {
            "id": "review",
            "title": "Design review",
            "at": "2027-03-10 14:00",
            "duration": "1h",
            "attendees": ["pia", "tim", "tom", "ria"],
            "owner": "tom",
            "location": "Vaartsche Rijn 1, Utrecht",
        }
    ]
    return data


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%SZ")


def fill(plan: Plan, engine: Engine, person: str, **values: Any) -> dict[str, str]:
    """What a reply from ``person`` to the plan's meeting says (each may be overridden)."""
    who = plan.person(person)
    assert who.email is not None
    settings = engine.settings
    filled = {
        "uid": event_uid(plan.id, "milestone/review", settings.uid_domain),
        "sequence": "0",
        "name": who.name,
        "email": who.email,
        "email_shown": who.email,
        "team": plan.team.name,
        "organizer": settings.organizer_email,
        "to": settings.organizer_email,
        "title": "Design review",
        "location": "Vaartsche Rijn 1, Utrecht",
        "start_local": "20270310T140000",
        "end_local": "20270310T150000",
        "start_utc": "20270310T130000Z",
        "end_utc": "20270310T140000Z",
        "new_start_local": "20270317T100000",
        "new_end_local": "20270317T110000",
        "gmail_when": "Wed 10 Mar 2027 14:00 - 15:00 (CET)",
        "short_date": "10 Mar 2027",
        "stamp": _stamp(ANSWERED),
        "sent_stamp": _stamp(REGISTERED),
        "date": email.utils.formatdate(ANSWERED),
        "message_id": f"reply-{person}-{values.get('sequence', 0)}@mail.example",
        "in_reply_to": "invite@pactkeeper.local",
        "comment": "Sorry, I am away that week.",
        "delegate": "sam@elsewhere.example",
        "delegate_name": "Sam Smit",
    }
    filled.update({name: str(value) for name, value in values.items()})
    return filled


def render(name: str, values: dict[str, str]) -> bytes:
    """A fixture filled in, its ``<<base64`` blocks encoded as the client does, CRLF lines."""
    text = Template((FIXTURES / f"{name}.eml").read_text()).substitute(values)

    def encoded(found: re.Match[str]) -> str:
        body = found.group(1).replace("\n", "\r\n").encode("utf-8")
        return base64.encodebytes(body).decode("ascii")

    return BASE64.sub(encoded, text).replace("\n", "\r\n").encode("utf-8")


def calendar_part(raw: bytes) -> tuple[str, bytes, str]:
    """The sender, the first ``text/calendar`` part and its ``method``, as the mail path
    finds them."""
    message = email.message_from_bytes(raw)
    sender = email.utils.parseaddr(str(message["From"]))[1]
    part: Message = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return sender, data, str(part.get_param("method") or "")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(tmp_path)


@pytest.fixture
def plan(engine: Engine) -> Plan:
    loaded = plan_from(plan_data())
    register(engine, loaded, REGISTERED)
    return loaded


def reply(
    engine: Engine, plan: Plan, name: str, person: str, at: float = ANSWERED, **values: Any
) -> Outcome:
    sender, data, method = calendar_part(render(name, fill(plan, engine, person, **values)))
    return take_calendar_reply(engine, sender, data, at, method or None)


def answers(engine: Engine, plan: Plan) -> dict[str, str]:
    (meeting,) = meeting_answers(engine, plan)
    return dict(meeting.answers)


def notices(engine: Engine, plan: Plan) -> list[tuple[str, str]]:
    found = [i for i in engine.store.items(plan.id) if i.kind == NOTICE]
    return sorted((str(i.recipient), str(i.data["template"])) for i in found)


# -- each client's reply is recorded --------------------------------------------------------


@pytest.mark.parametrize(("name", "person", "partstat"), CLIENTS)
def test_each_clients_reply_is_recorded(
    engine: Engine, plan: Plan, name: str, person: str, partstat: str
) -> None:
    assert answers(engine, plan)[person] == "needs-action"
    outcome = reply(engine, plan, name, person)
    assert (outcome.result, outcome.person, outcome.status) == ("answered", person, partstat)
    assert outcome.plan_id == plan.id
    assert answers(engine, plan)[person] == partstat
    rows = engine.store.records(records.attendance(plan.id)).values()
    (row,) = rows
    assert row["sequence"] == 0 and row["partstat"] == partstat.upper()
    assert row["stamp"] == ANSWERED


def test_outlook_writes_the_address_in_another_case_and_outlook_com_leaves_out_organizer(
    engine: Engine, plan: Plan
) -> None:
    values = fill(plan, engine, "pia", email_shown="Pia@Partner.EXAMPLE")
    sender, data, method = calendar_part(render("outlook_accepted", values))
    assert sender == "pia@partner.example" and b"mailto:Pia@Partner.EXAMPLE" in data
    assert take_calendar_reply(engine, sender, data, ANSWERED, method).status == "accepted"
    sender, data, _ = calendar_part(render("outlookcom_accepted", fill(plan, engine, "tom")))
    assert b"ORGANIZER" not in data
    assert take_calendar_reply(engine, sender, data, ANSWERED).status == "accepted"
    assert answers(engine, plan) == {
        "pia": "accepted",
        "tim": "needs-action",
        "tom": "accepted",
        "ria": "needs-action",
    }


def test_a_delegation_keeps_the_delegate_and_a_comment_is_kept(engine: Engine, plan: Plan) -> None:
    reply(engine, plan, "thunderbird_delegated", "tim", delegate="ria@t.example")
    reply(engine, plan, "outlook_declined", "pia", comment="Ik ben die week weg.")
    rows = {r["person"]: r for r in engine.store.records(records.attendance(plan.id)).values()}
    assert rows["tim"]["partstat"] == "DELEGATED"
    assert rows["tim"]["delegated_to"] == "ria@t.example"
    assert rows["pia"]["comment"] == "Ik ben die week weg."
    assert rows["pia"]["client"] == "Microsoft Exchange Server 2010"
    (meeting,) = meeting_answers(engine, plan)
    assert meeting.comments == {"pia": "Ik ben die week weg."}


# -- what changes nothing -------------------------------------------------------------------


def test_a_reply_to_an_older_sequence_changes_nothing(engine: Engine, plan: Plan) -> None:
    data = plan_data()
    data["milestones"][0]["at"] = "2027-03-11 14:00"  # the meeting moves: SEQUENCE 1 goes out
    moved = plan_from(data)
    register(engine, moved, REGISTERED + 3600)
    invitees = engine.store.records(records.invitees(plan.id)).values()
    assert {int(row["sequence"]) for row in invitees} == {1}
    old = reply(engine, moved, "gmail_declined", "pia", sequence=0)
    assert (old.result, old.reason) == ("refused", "old_sequence")
    assert engine.store.records(records.attendance(plan.id)) == {}
    assert notices(engine, moved) == []
    assert answers(engine, moved)["pia"] == "needs-action"
    current = reply(engine, moved, "gmail_accepted", "pia", sequence=1)
    assert (current.result, current.status) == ("answered", "accepted")
    assert answers(engine, moved)["pia"] == "accepted"


def test_an_answer_to_the_old_revision_no_longer_counts_once_the_meeting_changed(
    engine: Engine, plan: Plan
) -> None:
    reply(engine, plan, "apple_tentative", "pia")
    assert answers(engine, plan)["pia"] == "tentative"
    data = plan_data()
    data["milestones"][0]["location"] = "Online"
    register(engine, plan_from(data), REGISTERED + 3600)
    assert answers(engine, plan)["pia"] == "needs-action"  # the new REQUEST asks again


def test_the_same_reply_twice_is_a_duplicate_and_an_older_one_does_not_overwrite(
    engine: Engine, plan: Plan
) -> None:
    first = reply(engine, plan, "outlook_declined", "pia")
    again = reply(engine, plan, "outlook_declined", "pia", at=ANSWERED + 600)
    assert (first.result, again.result) == ("answered", "duplicate")
    assert notices(engine, plan) == [("tim", "calendar_declined")]
    newer = reply(engine, plan, "gmail_accepted", "pia", stamp=_stamp(ANSWERED + 60))
    older = reply(engine, plan, "apple_tentative", "pia", stamp=_stamp(ANSWERED - 60))
    assert (newer.result, older.result) == ("answered", "duplicate")
    assert answers(engine, plan)["pia"] == "accepted"


BAD = [
    (b"", "unreadable"),
    (b"\xff\xfe not a calendar \x00", "unreadable"),
    (b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n", "unreadable"),
    (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSEQUENCE:x\r\n", "unreadable"),
    (
        b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:x\r\nSEQUENCE:two\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n",
        "unreadable",
    ),
    (b"X" * (itip.LIMIT + 1), "too_large"),
]


@pytest.mark.parametrize(("data", "reason"), BAD)
def test_bytes_that_are_no_reply_are_refused_and_change_nothing(
    engine: Engine, plan: Plan, data: bytes, reason: str
) -> None:
    outcome = take_calendar_reply(engine, "pia@partner.example", data, ANSWERED)
    assert (outcome.result, outcome.reason) == ("refused", reason)
    assert engine.store.records(records.attendance(plan.id)) == {}


def test_unknown_uids_strangers_and_requests_are_refused_and_logged_without_the_body(
    engine: Engine, plan: Plan, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "pactkeeper.inbound")
    secret = "A comment nobody may log"
    unknown = reply(engine, plan, "outlook_declined", "pia", uid="nope@else.where", comment=secret)
    values = fill(plan, engine, "pia", comment=secret)
    raw = render("outlook_declined", values).replace(
        b"From: Pia <pia@partner.example>", b"From: Eve <eve@evil.example>"
    )
    _, data, method = calendar_part(raw)
    stranger = take_calendar_reply(engine, "eve@evil.example", data, ANSWERED, method)
    request = data.replace(b"METHOD:REPLY", b"METHOD:REQUEST")
    as_request = take_calendar_reply(engine, "pia@partner.example", request, ANSWERED)
    assert (unknown.result, unknown.reason) == ("refused", "unknown_uid")
    assert (stranger.result, stranger.reason) == ("refused", "not_invited")
    assert (as_request.result, as_request.reason) == ("refused", "not_a_reply")
    assert engine.store.records(records.attendance(plan.id)) == {}
    assert notices(engine, plan) == []
    assert "unknown_uid" in caplog.text and "not_invited" in caplog.text
    assert secret not in caplog.text


def test_someone_not_invited_to_this_meeting_is_refused(engine: Engine) -> None:
    data = plan_data()
    data["milestones"][0]["attendees"] = ["pia", "tim"]
    loaded = plan_from(data)
    register(engine, loaded, REGISTERED)
    outcome = reply(engine, loaded, "apple_declined", "tom")
    assert (outcome.result, outcome.reason) == ("refused", "not_invited")


# -- who is told ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "told"),
    [
        ("pia", [("tim", "calendar_declined")]),  # the partner's contact: the lead
        ("tim", [("pia", "calendar_declined")]),  # the lead: the contact (the lead knows)
        ("tom", [("tim", "calendar_declined")]),  # the meeting's owner: the lead
        ("ria", []),  # anyone else: recorded, shown on the status page
    ],
)
def test_a_decline_that_matters_is_told_once_per_revision(
    engine: Engine, plan: Plan, person: str, told: list[tuple[str, str]]
) -> None:
    reply(engine, plan, "gmail_declined", person)
    reply(engine, plan, "apple_declined", person, stamp=_stamp(ANSWERED + 60))
    assert notices(engine, plan) == told
    assert answers(engine, plan)[person] == "declined"


def test_a_decline_notice_says_who_declined_which_meeting_when_and_what_they_wrote(
    engine: Engine, plan: Plan
) -> None:
    reply(engine, plan, "outlook_declined", "pia", comment="Sorry, I am away that week.")
    (item,) = [i for i in engine.store.items(plan.id) if i.kind == NOTICE]
    facts = item.data["facts"]
    texts = {
        lang: render_parts(
            "calendar_declined",
            lang,
            **facts,
            about="Pia",
            person=plan.person("tim"),
            plan_title=plan.title,
        )
        for lang in ("en", "nl")
    }
    subject, body = texts["en"]
    assert subject == "Test plan: Pia declined Design review"
    assert "Pia, the partner's contact, declined the meeting **Design review**" in body
    assert "Wednesday 10 March 2027 at 14:00 (CET)" in body
    assert "> Sorry, I am away that week." in body
    subject, body = texts["nl"]
    assert subject == "Test plan: Pia heeft Design review afgeslagen"
    assert "het aanspreekpunt van de partner" in body
    assert "woensdag 10 maart 2027 om 14:00 (CET)" in body


def test_a_counter_is_shown_to_the_lead_with_the_proposed_time_in_the_plans_zone(
    engine: Engine, plan: Plan
) -> None:
    outcome = reply(engine, plan, "outlook_counter", "pia", comment="Could we do Wednesday?")
    again = reply(engine, plan, "outlook_counter", "pia", at=ANSWERED + 60)
    assert (outcome.result, again.result) == ("notice", "notice")
    assert notices(engine, plan) == [("tim", "calendar_counter")]
    assert engine.store.records(records.attendance(plan.id)) == {}  # a proposal, no answer
    (item,) = [i for i in engine.store.items(plan.id) if i.kind == NOTICE]
    subject, body = render_parts(
        "calendar_counter",
        "en",
        **item.data["facts"],
        about="Pia",
        person=plan.person("tim"),
        plan_title=plan.title,
    )
    assert subject == "Test plan: Pia proposes another time for Design review"
    assert "from Wednesday 17 March 2027 at 10:00 (CET) until" in body
    assert "Wednesday 17 March 2027 at 11:00 (CET)" in body
    assert "now on Wednesday 10 March 2027 at 14:00 (CET)" in body
    assert "> Could we do Wednesday?" in body


def test_read_calendar_takes_the_mime_method_when_the_body_has_none() -> None:
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u@x\r\n"
        b"ATTENDEE;PARTSTAT=ACCEPTED:MAILTO:A@B.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    method, (answer,) = read_calendar(data, "reply")
    assert method == "REPLY" and answer.sequence == 0 and answer.stamp is None
    assert answer.replier("a@b.EXAMPLE") is not None and answer.attendees[0].email == "A@B.example"


def test_a_reply_about_one_occurrence_keeps_its_recurrence_id() -> None:
    data = (
        b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u@x\r\nSEQUENCE:2\r\n"
        b"RECURRENCE-ID;TZID=Europe/Amsterdam:20270118T100000\r\n"
        b"ATTENDEE;PARTSTAT=DECLINED:mailto:a@b.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    _, (answer,) = read_calendar(data)
    assert (answer.sequence, answer.recurrence) == (2, "2027-01-18T09:00:00Z")
    assert records.attendance_row_id("u@x", "a", 2, answer.recurrence).endswith("09:00:00Z")


# -- risk and status ------------------------------------------------------------------------


def reasons(engine: Engine, plan: Plan, at: float, lang: str = "en") -> list[str]:
    return [r.text(lang) for r in calendar_reasons(plan, meeting_answers(engine, plan), at)]


def test_a_decline_from_the_contact_is_a_risk_reason_until_the_meeting_is_over(
    engine: Engine, plan: Plan
) -> None:
    reply(engine, plan, "outlook_declined", "pia", comment="Away that week")
    reply(engine, plan, "gmail_declined", "ria")  # not one whose decline counts
    assert reasons(engine, plan, ANSWERED) == [
        "Pia declined “Design review” (10 March): “Away that week”."
    ]
    assert reasons(engine, plan, ANSWERED, "nl") == [
        "Pia heeft “Design review” (10 maart) afgeslagen: “Away that week”."
    ]
    assert reasons(engine, plan, moment("2027-03-10 15:00")) == []


def test_the_contact_not_accepting_is_a_reason_from_two_days_before(
    engine: Engine, plan: Plan
) -> None:
    early, late = moment("2027-03-08 13:59"), moment("2027-03-08 14:00")
    started = moment("2027-03-10 14:00")
    assert reasons(engine, plan, early) == []
    expected = "The partner contact Pia has not accepted “Design review” (10 March) yet."
    assert reasons(engine, plan, late) == [expected]
    assert reasons(engine, plan, started) == []
    reply(engine, plan, "apple_tentative", "pia")
    assert reasons(engine, plan, late) == [expected]
    assert reasons(engine, plan, late, "nl") == [
        "Het aanspreekpunt Pia heeft “Design review” (10 maart) nog niet geaccepteerd."
    ]
    reply(engine, plan, "gmail_accepted", "pia", stamp=_stamp(ANSWERED + 60))
    assert reasons(engine, plan, late) == []


def test_status_json_shows_each_attendees_answer_and_the_reasons(
    engine: Engine, plan: Plan
) -> None:
    reply(engine, plan, "outlook_declined", "pia")
    reply(engine, plan, "thunderbird_tentative", "tim")
    reply(engine, plan, "thunderbird_delegated", "ria")
    report = plan_status(engine, plan.id, moment("2027-03-09 09:00"))
    (meeting,) = report["meetings"]
    assert meeting["milestone"] == "review" and meeting["start"] == "2027-03-10T13:00:00Z"
    shown = {a["person"]: (a["answer"], a["text"]) for a in meeting["attendees"]}
    assert shown == {
        "pia": ("declined", "declined"),
        "tim": ("tentative", "tentative"),
        "tom": ("needs-action", "no answer"),
        "ria": ("delegated", "delegated"),
    }
    codes = [r["code"] for r in report["risk"]["reasons"]]
    assert codes.count("declined") == 1 and report["risk"]["level"] == "watch"
    words = {code: attendance.answer_words(code, "nl") for code, _ in shown.values()}
    assert words == {
        "declined": "afgeslagen",
        "tentative": "onder voorbehoud",
        "needs-action": "nog geen antwoord",
        "delegated": "gedelegeerd",
    }


def test_a_reply_about_one_check_in_is_that_persons_own_and_not_a_meeting_answer(
    engine: Engine,
) -> None:
    data = plan_data()
    data["checkins"] = {"every": "weekly", "on": "monday", "grace": "2d", "who": ["tom"]}
    loaded = plan_from(data)
    register(engine, loaded, REGISTERED)
    uid = event_uid(loaded.id, "checkins/tom", engine.settings.uid_domain)
    series = (
        "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:-//Apple Inc.//macOS 14.4//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{_stamp(ANSWERED)}\r\n"
        "RECURRENCE-ID;TZID=Europe/Amsterdam:20270118T100000\r\n"
        "ATTENDEE;PARTSTAT=DECLINED:mailto:tom@t.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    outcome = take_calendar_reply(engine, "tom@t.example", series, ANSWERED)
    assert (outcome.result, outcome.person, outcome.status) == ("answered", "tom", "declined")
    (key,) = engine.store.records(records.attendance(loaded.id))
    assert key == f"{uid} tom 0 2027-01-18T09:00:00Z"
    other = take_calendar_reply(engine, "pia@partner.example", series, ANSWERED)
    assert (other.result, other.reason) == ("refused", "not_invited")
    assert [m.ref for m in meeting_answers(engine, loaded)] == ["review"]
    assert notices(engine, loaded) == []
