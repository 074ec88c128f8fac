"""What independent calendar and mail clients found in our calendars and e-mails (F1-F10).

One plan with everything that broke: non-ASCII text (Café, Mülder), a name with
``"``, people in New York and Singapore, a deadline whose reminders cross both
2027 clock changes, ``reply_to`` set, and a meeting changed twice before the start.
The engine delivers to a real aiosmtpd on loopback; what arrives is read back with
Python's ``email`` package and icalendar, and the deadline alarms are compared with
``pactkeeper timeline --json``.
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar, Event

from config.load import load_plan
from connectors.calendar.caldav import resource_body
from tests.calendar_lint import lint_calendar
from tests.engine import make_engine, moment, run_due, run_until
from tests.smtp_sink import start_smtp
from tests.support import dump, minimal_data, run_cli
from worker.calendar.events import build_calendar, events_for
from worker.calendar.feeds import feed_calendar, feed_stamp
from worker.engine import Engine
from worker.handover import close as handover
from worker.plans.register import register

pytestmark = pytest.mark.system

REPLY_TO = "coordinator@team.example"
EVA = 'Eva "Evi" Mülder'


def plan_data(meeting_at: str = "2027-02-10 10:00") -> dict[str, Any]:
    data = minimal_data()
    data["people"] += [
        {
            "id": "eva",
            "name": EVA,
            "side": "team",
            "email": "eva@team.example",
            "timezone": "America/New_York",
        },
        {
            "id": "lee",
            "name": "Lee",
            "side": "team",
            "email": "lee@team.example",
            "timezone": "Asia/Singapore",
        },
    ]
    data["milestones"] = [
        {
            "id": "intake",
            "title": "Café intake",
            "at": meeting_at,
            "duration": "1h",
            "location": "Café Zoë, Utrecht",
            "attendees": ["pia", "tim", "eva"],
        },
        {
            # Its reminders cross 14 March (US) and 28 March (EU): 7d before 1 April.
            "id": "livegang",
            "title": "Formulier live",
            "due": "2027-04-01",
            "remind": ["7d", "1d"],
            "notify": ["tim", "eva", "lee"],
        },
    ]
    data["communication"]["channels"] = {"email": {"reply_to": REPLY_TO}}
    data["handover"] = {"at": "2027-06-28 10:00", "recipients": ["pia", "tim"]}
    return data


def write_plan(folder: Path, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plan.yaml"
    path.write_text(dump(data), encoding="utf-8")
    return path


@dataclass
class Scenario:
    engine: Engine
    plan_file: Path
    raw: list[bytes]  # every message as the SMTP server received it
    mails: list[EmailMessage]

    def of_kind(self, kind: str, recipient: str | None = None) -> list[EmailMessage]:
        return [
            m
            for m in self.mails
            if m["X-Pactkeeper-Kind"] == kind
            and (recipient is None or m["To"].addresses[0].addr_spec == recipient)
        ]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """Invited on 1 January, the meeting moved on the 2nd and the 3rd, kickoff on the 4th."""
    tmp = tmp_path_factory.mktemp("clients")
    sink = start_smtp(tmp / "smtp")
    try:
        engine = make_engine(tmp, smtp_host="127.0.0.1", smtp_port=sink.port, smtp_tls="none")
        for day, at in (("01", "10:00"), ("02", "11:00"), ("03", "12:00")):
            path = write_plan(tmp / "plan", plan_data(f"2027-02-10 {at}"))
            register(engine, load_plan(path), moment(f"2027-01-{day} 09:00"))
            run_due(engine, moment(f"2027-01-{day} 09:00"))
        run_until(engine, moment("2027-01-05 00:00"))
        raw = [p.read_bytes() for p in sorted(sink.folder.glob("*.eml"))]
        mails = []
        for data in raw:
            mail = message_from_bytes(data, policy=policy.default)
            assert isinstance(mail, EmailMessage)
            mails.append(mail)
        yield Scenario(engine, path, raw, mails)
    finally:
        sink.stop()


def attachment(mail: EmailMessage, content_type: str) -> EmailMessage:
    (found,) = [
        part
        for part in mail.iter_attachments()
        if isinstance(part, EmailMessage) and part.get_content_type() == content_type
    ]
    return found


def body_bytes(part: EmailMessage) -> bytes:
    """The decoded bytes of a part, every line ending CRLF as in the calendar we built."""
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return re.sub(rb"\r?\n", b"\r\n", data)


def events(data: bytes) -> list[Event]:
    return [e for e in Calendar.from_ical(data).walk("VEVENT") if isinstance(e, Event)]


def calendar_part(mail: EmailMessage) -> EmailMessage:
    (part,) = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert isinstance(part, EmailMessage)
    return part


# -- F1: the kickoff's calendar never goes back behind the invitations --------------------


def test_f1_kickoff_calendar_keeps_the_sequence_of_the_invitations_sent(
    scenario: Scenario,
) -> None:
    requests = scenario.of_kind("invite", "eva@team.example")
    sent = [events(body_bytes(calendar_part(m)))[0] for m in requests]
    assert [int(e["SEQUENCE"]) for e in sent] == [0, 1, 2]  # invited, changed, changed
    (kickoff,) = scenario.of_kind("kickoff", "eva@team.example")
    ics = body_bytes(attachment(kickoff, "text/calendar"))
    by_uid = {str(e["UID"]): e for e in events(ics)}
    copy_of_meeting = by_uid[str(sent[-1]["UID"])]
    # The same version as the last invitation: not SEQUENCE 0 with a later DTSTAMP.
    assert int(copy_of_meeting["SEQUENCE"]) == int(sent[-1]["SEQUENCE"])
    assert copy_of_meeting.decoded("DTSTAMP") == sent[-1].decoded("DTSTAMP")
    assert copy_of_meeting.decoded("DTSTART") == sent[-1].decoded("DTSTART")
    # And the same bytes as Eva's feed at that moment.
    engine, plan = scenario.engine, load_plan(scenario.plan_file)
    assert ics == feed_calendar(engine, plan, "eva", feed_stamp(engine, plan))


# -- F2: reply_to is the e-mail's Reply-To -----------------------------------------------


def test_f2_reply_to_of_the_email_channel_is_the_reply_to_header(scenario: Scenario) -> None:
    kinds = {str(m["X-Pactkeeper-Kind"]) for m in scenario.mails}
    assert {"invite", "kickoff"} <= kinds
    for mail in scenario.mails:
        assert [a.addr_spec for a in mail["Reply-To"].addresses] == [REPLY_TO]
        assert mail["From"].addresses[0].addr_spec != REPLY_TO


def test_f2_without_reply_to_there_is_no_reply_to_header(tmp_path: Path) -> None:
    data = plan_data()
    data["communication"]["channels"] = {"email": {}}
    engine = make_engine(tmp_path)
    register(engine, load_plan(write_plan(tmp_path / "plan", data)), moment("2027-01-01 09:00"))
    run_due(engine, moment("2027-01-01 09:00"))
    outbox = sorted(engine.settings.outbox_dir.glob("*.eml"))
    assert outbox
    for path in outbox:
        assert "Reply-To" not in message_from_bytes(path.read_bytes(), policy=policy.default)


# -- F3: nothing 8-bit goes out without BODY=8BITMIME ----------------------------------


def test_f3_every_part_is_7bit_so_no_8bit_body_goes_out_without_8bitmime(
    scenario: Scenario,
) -> None:
    assert len(scenario.raw) == len(scenario.mails) > 10
    for data in scenario.raw:  # the bytes aiosmtpd received in DATA
        assert max(data) < 0x80, data[:200]
        mail = message_from_bytes(data, policy=policy.default)
        for part in mail.walk():
            assert str(part.get("Content-Transfer-Encoding", "7bit")).lower() != "8bit"
    # Not vacuous: the words with accents arrive whole once decoded.
    (invite, *_) = scenario.of_kind("invite", "eva@team.example")
    calendar_text = calendar_part(invite).get_content()
    assert "Café intake" in calendar_text and "LOCATION:Café Zoë\\, Utrecht" in calendar_text
    assert "Café intake" in invite.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # The inline iTIP part and invite.ics are the same object.
    assert body_bytes(calendar_part(invite)) == body_bytes(attachment(invite, "application/ics"))


# -- F4 and F5: the kickoff attachments keep their whole content type -------------------


def test_f4_kickoff_calendar_attachment_has_method_publish_like_its_body(
    scenario: Scenario,
) -> None:
    kickoffs = scenario.of_kind("kickoff")
    assert len(kickoffs) == 4
    for mail in kickoffs:
        part = attachment(mail, "text/calendar")
        assert part.get_param("method") == "PUBLISH"
        assert str(Calendar.from_ical(part.get_content())["METHOD"]) == "PUBLISH"
    for mail in scenario.of_kind("invite"):
        part = calendar_part(mail)
        assert part.get_param("method") == "REQUEST"
        assert str(Calendar.from_ical(part.get_content())["METHOD"]) == "REQUEST"


def test_f5_html_and_calendar_attachments_keep_charset_utf_8(scenario: Scenario) -> None:
    (kickoff,) = scenario.of_kind("kickoff", "eva@team.example")
    for content_type in ("text/html", "text/calendar"):
        part = attachment(kickoff, content_type)
        assert part.get_content_charset() == "utf-8", content_type
        assert "Café intake" in part.get_content()
    assert "Mülder" in attachment(kickoff, "text/html").get_content()


# -- F6: published calendars have no attendees; invitations and CalDAV keep them ---------


def attendee_lines(data: bytes) -> list[bytes]:
    unfolded = data.replace(b"\r\n ", b"")
    return [line for line in unfolded.split(b"\r\n") if line.startswith(b"ATTENDEE")]


def test_f6_publish_calendars_carry_no_attendees(scenario: Scenario, tmp_path: Path) -> None:
    engine, plan = scenario.engine, load_plan(scenario.plan_file)
    stamp = feed_stamp(engine, plan)
    published = {
        "feed": feed_calendar(engine, plan, None, stamp),
        **{f"feed {p.id}": feed_calendar(engine, plan, p.id, stamp) for p in plan.people},
        "bundle": zip_member(handover.build_bundle(engine, plan, moment("2027-01-05 00:00"))),
        **{
            f"kickoff {m['To'].addresses[0].addr_spec}": body_bytes(attachment(m, "text/calendar"))
            for m in scenario.of_kind("kickoff")
        },
    }
    command = run_cli("ics", str(scenario.plan_file), "-o", str(tmp_path / "all.ics"))
    assert command.returncode == 0, command.stderr
    published["ics command"] = (tmp_path / "all.ics").read_bytes()
    for name, data in published.items():
        calendar = Calendar.from_ical(data)
        assert str(calendar["METHOD"]) == "PUBLISH", name
        assert attendee_lines(data) == [], name
        found = [e for e in calendar.walk("VEVENT")]
        assert found and all("ORGANIZER" in e for e in found), name
        assert lint_calendar(data) == [], name
    # What is sent to be answered, and what a CalDAV server keeps, still names everyone.
    (request, *_) = scenario.of_kind("invite", "eva@team.example")
    assert len(attendee_lines(body_bytes(calendar_part(request)))) == 3
    meeting = events_for(plan, None)[0]
    assert len(attendee_lines(resource_body(plan, meeting))) == 3


def zip_member(bundle: bytes, name: str = "data/calendar.ics") -> bytes:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        (member,) = [n for n in archive.namelist() if n.endswith(f"/{name}")]
        return archive.read(member)


# -- F7: a deadline alarm rings when the engine reminds, for every viewer ---------------


def alarm_instants(data: bytes, summary_part: str) -> list[datetime]:
    (deadline,) = [e for e in events(data) if summary_part in str(e["SUMMARY"])]
    found = []
    for alarm in deadline.walk("VALARM"):
        trigger = alarm["TRIGGER"]
        assert trigger.params["VALUE"] == "DATE-TIME"  # absolute: no viewer's midnight
        found.append(trigger.dt.astimezone(UTC))
    return sorted(found)


def test_f7_deadline_alarms_ring_at_the_engines_reminders_in_every_zone(tmp_path: Path) -> None:
    path = write_plan(tmp_path / "plan", plan_data())
    timeline = run_cli("timeline", str(path), "--json")
    assert timeline.returncode == 0, timeline.stderr
    reminders: dict[str, list[datetime]] = {}
    for entry in json.loads(timeline.stdout):
        if entry["kind"] == "reminder" and entry["ref"] == "livegang":
            at = datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))
            reminders.setdefault(entry["recipient"], []).append(at)
    assert set(reminders) == {"tim", "eva", "lee"}
    for person in ("tim", "eva", "lee"):
        out = tmp_path / f"{person}.ics"
        made = run_cli("ics", str(path), "--for", person, "-o", str(out))
        assert made.returncode == 0, made.stderr
        assert alarm_instants(out.read_bytes(), "Formulier live") == sorted(reminders[person])
    # The whole plan's calendar rings at the plan's zone's reminders (Tim's, in Amsterdam).
    whole = run_cli("ics", str(path), "-o", str(tmp_path / "all.ics"))
    assert whole.returncode == 0, whole.stderr
    assert alarm_instants((tmp_path / "all.ics").read_bytes(), "Formulier live") == sorted(
        reminders["tim"]
    )
    # 7 days before 1 April 09:00 CEST is 25 March 09:00 CET, 08:00Z: not 09:00 in New York.
    assert datetime(2027, 3, 25, 8, 0, tzinfo=UTC) in reminders["tim"]


# -- F8: a name with quotes is shown as written, not with RFC 6868 carets --------------


def test_f8_display_names_with_quotes_have_no_rfc6868_carets(scenario: Scenario) -> None:
    plan = load_plan(scenario.plan_file)
    calendars = [body_bytes(calendar_part(m)) for m in scenario.of_kind("invite")]
    calendars.append(build_calendar(plan, None, scenario.engine.settings, method="REQUEST"))
    for data in calendars:
        assert b"^'" not in data
    names = set()
    for event in events(calendars[-1]):
        found = event.get("ATTENDEE", [])
        for address in found if isinstance(found, list) else [found]:
            names.add(str(address.params["CN"]))
    assert "Eva “Evi” Mülder" in names


# -- F9: uninviting one person is no cancellation of the meeting -----------------------


def test_f9_cancel_to_one_removed_attendee_has_no_status_cancelled(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    data = plan_data()
    register(engine, load_plan(write_plan(tmp_path / "a", data)), moment("2027-01-01 09:00"))
    without_eva = copy.deepcopy(data)
    without_eva["milestones"][0]["attendees"] = ["pia", "tim"]
    register(engine, load_plan(write_plan(tmp_path / "a", without_eva)), moment("2027-01-02 09:00"))
    gone = copy.deepcopy(without_eva)
    gone["milestones"] = gone["milestones"][1:]
    register(engine, load_plan(write_plan(tmp_path / "a", gone)), moment("2027-01-03 09:00"))
    cancels = [i for i in engine.store.items("test-plan") if i.kind == "cancel"]
    by_reason = {(i.data["reason"], i.recipient): i for i in cancels}
    assert set(by_reason) == {("uninvited", "eva"), ("removed", "pia"), ("removed", "tim")}
    uninvited = str(by_reason[("uninvited", "eva")].data["calendar"]).encode()
    (event,) = events(uninvited)
    assert "STATUS" not in event and lint_calendar(uninvited) == []
    assert [str(a) for a in [event["ATTENDEE"]]] == ["mailto:eva@team.example"]
    removed = str(by_reason[("removed", "pia")].data["calendar"]).encode()
    (event,) = events(removed)
    assert str(event["STATUS"]) == "CANCELLED"
