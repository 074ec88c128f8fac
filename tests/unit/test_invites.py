"""Invitations and cancellations: which change sends what to whom, with which SEQUENCE.

The queueing runs in ``register`` (``worker.calendar.revisions.queue_changes``); these
tests register plans and read the items it queued, against both stores where the
revision store matters. Delivery to a real SMTP server is in
``tests/system/test_calendar_invites.py``.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from config.load import load_plan
from config.plan import Plan
from connectors.calendar.ics import calendar_bytes, calendar_of
from connectors.calendar.itip import cancel_calendar, request_calendar
from tests.calendar_lint import lint_calendar
from tests.engine import make_engine, moment
from tests.support import DUTCH, ENGLISH, minimal_data, plan_from
from worker import tokens
from worker.calendar.events import Stamping, events_for, meeting_event, plan_events
from worker.calendar.feeds import feed_calendar, feed_stamp
from worker.calendar.messages import item_calendar
from worker.calendar.revisions import CalendarChanges
from worker.delivery.compose import compose
from worker.engine import Engine
from worker.links import feed_token, feed_url
from worker.plans.register import register
from worker.store import records
from worker.store.base import Item, Store

START = moment("2027-01-04 08:00")


def team_data(**meeting: Any) -> dict[str, Any]:
    """Pia, Tim and Tom; one meeting all three attend, one deadline, unless changed."""
    data = minimal_data()
    data["people"].append({"id": "tom", "name": "Tom", "side": "team", "email": "tom@t.example"})
    data["milestones"] = [
        {
            "id": "review",
            "title": "Design review",
            "at": "2027-03-10 14:00",
            "duration": "1h",
            "attendees": ["pia", "tim", "tom"],
            "location": "Utrecht",
            "remind": ["1d"],
            **meeting,
        },
        {"id": "design", "title": "Design approved", "due": "2027-03-01", "owner": "tom"},
    ]
    return data


def sent(engine: Engine, changes: CalendarChanges | None) -> list[tuple[str, str, str | None, int]]:
    assert changes is not None
    items = changes.invites + changes.cancels
    return sorted((i.kind, i.ref, i.recipient, version(engine, i)[1]) for i in items)


def version(engine: Engine, item: Item) -> tuple[str, int]:
    """The UID and SEQUENCE of the meeting an invite or cancel item sends."""
    (event,) = Calendar.from_ical(item_calendar(engine, item)).walk("VEVENT")
    return str(event["UID"]), int(event["SEQUENCE"])


def synced(engine: Engine, plan: Plan, now: float) -> CalendarChanges:
    changes = register(engine, plan, now).calendar
    assert changes is not None
    return changes


def calendar_of_item(engine: Engine, item: Item) -> Calendar:
    data = item_calendar(engine, item)
    assert lint_calendar(data) == []
    return Calendar.from_ical(data)


# -- the iTIP objects -------------------------------------------------------------------------


@pytest.mark.parametrize("attendees", [None, ["pia"]])
def test_the_fast_request_is_byte_for_byte_the_plain_one(attendees: list[str] | None) -> None:
    # request_calendar copies only the attendees and reuses serialised VTIMEZONEs: the
    # result must be what a deep copy put into calendar_of gives, and the event untouched.
    plans = [load_plan(DUTCH), load_plan(ENGLISH), plan_from(team_data(attendees=attendees))]
    stamping = Stamping.of(None, datetime(2026, 12, 1, tzinfo=UTC))
    compared = 0
    for plan in plans:
        for found in plan_events(plan, stamping):
            if not found.invited:
                continue
            before = found.event.to_ical()
            plain = copy.deepcopy(found.event)
            found_attendees = plain["ATTENDEE"]
            for attendee in (
                found_attendees if isinstance(found_attendees, list) else [found_attendees]
            ):
                attendee.params.update(CUTYPE="INDIVIDUAL", PARTSTAT="NEEDS-ACTION", RSVP="TRUE")
            expected = calendar_of(plan, [plain], "REQUEST").to_ical()
            assert request_calendar(plan, found.event) == expected
            assert found.event.to_ical() == before
            compared += 1
        feed = events_for(plan, stamping=stamping)
        assert calendar_bytes(plan, feed) == calendar_of(plan, feed).to_ical()
        assert calendar_bytes(plan, []) == calendar_of(plan, []).to_ical()
    assert compared >= 6


def test_a_request_asks_every_attendee_to_answer() -> None:
    plan = plan_from(team_data())
    data = request_calendar(plan, meeting_event(plan, plan.milestone("review")))
    assert lint_calendar(data) == []
    calendar = Calendar.from_ical(data)
    assert str(calendar["METHOD"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert str(event["ORGANIZER"]).startswith("mailto:")
    assert len(event["ATTENDEE"]) == 3
    for attendee in event["ATTENDEE"]:
        assert str(attendee).startswith("mailto:")
        assert attendee.params["RSVP"] == "TRUE"
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"


def test_a_cancel_goes_to_everyone_or_to_the_one_taken_off() -> None:
    plan = plan_from(team_data())
    event = meeting_event(plan, plan.milestone("review"))
    stamp = datetime(2027, 2, 1, 9, 30, tzinfo=UTC)
    for people, expected in ((None, 3), ({"tom@t.example": "Tom"}, 1)):
        data = cancel_calendar(plan, event, 4, stamp, people)
        assert lint_calendar(data) == []
        calendar = Calendar.from_ical(data)
        (cancelled,) = calendar.walk("VEVENT")
        assert str(calendar["METHOD"]) == "CANCEL"
        # STATUS:CANCELLED cancels the whole meeting; uninviting one person leaves it out.
        status = str(cancelled["STATUS"]) if "STATUS" in cancelled else None
        assert status == ("CANCELLED" if people is None else None)
        assert int(cancelled["SEQUENCE"]) == 4
        assert cancelled["UID"] == event["UID"]
        assert cancelled.decoded("DTSTAMP") == stamp
        found = cancelled["ATTENDEE"]
        assert len(found if isinstance(found, list) else [found]) == expected
        assert not cancelled.walk("VALARM")
    # The builder's event is left as it was.
    assert str(event["STATUS"]) == "CONFIRMED" and len(event.walk("VALARM")) == 1


# -- what a registration queues ---------------------------------------------------------------


def test_the_first_sync_invites_each_attendee_of_each_meeting_once(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    plan = load_plan(DUTCH)
    changes = synced(engine, plan, START)
    # Meetings and the handover, one invitation per attendee; no deadline, no check-ins.
    assert sent(engine, changes) == sorted(
        [("invite", "intake", p, 0) for p in ("ana", "bram", "chris", "eva")]
        + [("invite", "evaluatie", p, 0) for p in ("ana", "dirk", "bram")]
        + [("invite", "handover", p, 0) for p in ("ana", "dirk", "bram")]
    )
    for item in changes.invites:
        assert (item.due, item.channel, item.origin) == (START, "email", "engine")
        assert str(calendar_of_item(engine, item)["METHOD"]) == "REQUEST"
    assert synced(engine, plan, START + 60).invites == []
    assert sent(engine, synced(engine, plan, START + 120)) == []


def test_the_attendees_of_one_version_share_one_kept_request(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    plan = load_plan(DUTCH)
    changes = synced(engine, plan, START)
    kept = engine.store.records(records.meeting_requests(plan.id))
    by_meeting = {(i.ref, i.data["request"]) for i in changes.invites}
    assert len(by_meeting) == len(kept) == 3  # intake, evaluatie, handover: one each
    for item in changes.invites:
        assert "calendar" not in item.data
        assert kept[item.data["request"]]["calendar"] == item_calendar(engine, item).decode()


def test_an_invite_queued_with_its_own_calendar_still_reads(tmp_path: Path) -> None:
    # Items queued before requests were kept once carry the REQUEST themselves.
    engine = make_engine(tmp_path)
    plan = load_plan(DUTCH)
    item = synced(engine, plan, START).invites[0]
    data = item_calendar(engine, item)
    engine.store.delete_records(records.meeting_requests(plan.id))
    older = copy.deepcopy(item)
    older.data = {k: v for k, v in item.data.items() if k != "request"}
    older.data["calendar"] = data.decode()
    assert item_calendar(engine, older) == data
    with pytest.raises(LookupError, match="no longer kept"):
        item_calendar(engine, item)


def test_sequence_rises_only_on_a_significant_change_and_never_falls(
    tmp_path: Path, store: Store
) -> None:
    engine = make_engine(tmp_path, store=store)
    synced(engine, plan_from(team_data()), START)
    # A reminder offset is no change to anyone's calendar entry.
    assert sent(engine, synced(engine, plan_from(team_data(remind=["2d"])), START + 60)) == []
    moved = team_data(at="2027-03-10 15:00")
    assert sent(engine, synced(engine, plan_from(moved), START + 120)) == [
        ("invite", "review", p, 1) for p in ("pia", "tim", "tom")
    ]
    # Moving it back is another change: SEQUENCE goes on rising.
    assert sent(engine, synced(engine, plan_from(team_data()), START + 180)) == [
        ("invite", "review", p, 2) for p in ("pia", "tim", "tom")
    ]
    changes = synced(engine, plan_from(team_data(title="Design review (final)")), START + 240)
    assert {version(engine, i)[1] for i in changes.invites} == {3}
    assert all(i.data["update"] for i in changes.invites)


def test_attendees_added_and_removed_hear_of_it_and_nobody_else(
    tmp_path: Path, store: Store
) -> None:
    engine = make_engine(tmp_path, store=store)
    synced(engine, plan_from(team_data(attendees=["pia", "tim"])), START)
    added = synced(engine, plan_from(team_data()), START + 60)
    assert sent(engine, added) == [("invite", "review", "tom", 1)]
    assert added.invites[0].data["update"] is False
    removed = synced(engine, plan_from(team_data(attendees=["pia", "tom"])), START + 120)
    assert sent(engine, removed) == [("cancel", "review", "tim", 2)]
    cancel = calendar_of_item(engine, removed.cancels[0])
    (event,) = cancel.walk("VEVENT")
    assert str(cancel["METHOD"]) == "CANCEL"
    assert str(event["ATTENDEE"]) == "mailto:tim@team.example"
    assert removed.cancels[0].data["reason"] == "uninvited"


def test_a_meeting_left_without_anyone_by_email_is_cancelled_for_those_who_had_it(
    tmp_path: Path,
) -> None:
    engine = make_engine(tmp_path)
    synced(engine, plan_from(team_data(attendees=["pia", "tim"])), START)
    data = team_data(attendees=["tom"])
    data["communication"]["channels"]["mattermost"] = {"webhook": "env:TEAM_MM_HOOK"}
    data["people"][2]["channels"] = ["mattermost"]
    changes = synced(engine, plan_from(data), START + 60)
    assert sent(engine, changes) == [("cancel", "review", p, 1) for p in ("pia", "tim")]


def test_a_removed_meeting_is_cancelled_for_everyone_with_the_same_uid(
    tmp_path: Path, store: Store
) -> None:
    engine = make_engine(tmp_path, store=store)
    first = synced(engine, plan_from(team_data()), START)
    uid = version(engine, first.invites[0])[0]
    data = team_data()
    data["milestones"] = data["milestones"][1:]
    gone = synced(engine, plan_from(data), START + 60)
    assert sent(engine, gone) == [("cancel", "review", p, 1) for p in ("pia", "tim", "tom")]
    assert gone.removed == ["milestone/review"]
    for item in gone.cancels:
        (event,) = calendar_of_item(engine, item).walk("VEVENT")
        assert str(event["UID"]) == uid and str(event["STATUS"]) == "CANCELLED"
        assert len(event["ATTENDEE"]) == 3 and item.data["reason"] == "removed"
    assert sent(engine, synced(engine, plan_from(data), START + 120)) == []
    # Back in the plan: invited again, with a SEQUENCE above the cancellation's.
    back = synced(engine, plan_from(team_data()), START + 180)
    assert sent(engine, back) == [("invite", "review", p, 2) for p in ("pia", "tim", "tom")]


def test_deadlines_and_check_ins_are_not_emailed_but_get_a_new_sequence(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    synced(engine, plan_from(team_data()), START)
    data = team_data()
    data["milestones"][1]["due"] = "2027-03-08"
    changes = synced(engine, plan_from(data), START + 60)
    assert sent(engine, changes) == [] and changes.changed == ["milestone/design"]
    feed = feed_calendar(engine, plan_from(data), None, feed_stamp(engine, plan_from(data)))
    design = [
        e for e in Calendar.from_ical(feed).walk("VEVENT") if "Design approved" in e["SUMMARY"]
    ]
    assert int(design[0]["SEQUENCE"]) == 1


def test_meetings_that_are_over_are_left_alone(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    after = moment("2027-03-10 15:00")  # the review ended at 15:00
    assert sent(engine, synced(engine, plan_from(team_data()), after)) == []
    data = team_data()
    data["milestones"] = data["milestones"][1:]
    assert sent(engine, synced(engine, plan_from(data), after + 60)) == []


def test_someone_taken_off_the_plan_is_named_because_no_cancel_can_reach_them(
    tmp_path: Path,
) -> None:
    engine = make_engine(tmp_path)
    synced(engine, plan_from(team_data()), START)
    data = team_data(attendees=["pia", "tim"])
    data["people"] = [p for p in data["people"] if p["id"] != "tom"]
    data["milestones"][1]["owner"] = "tim"
    changes = synced(engine, plan_from(data), START + 60)
    assert sent(engine, changes) == []
    assert changes.departed == ["Tom: Design review"]
    assert synced(engine, plan_from(data), START + 120).departed == []


def test_only_people_reachable_by_email_are_invited(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    data = team_data()
    data["communication"]["channels"]["mattermost"] = {"webhook": "env:TEAM_MM_HOOK"}
    data["people"][2]["channels"] = ["mattermost"]  # Tom agreed to chat, not to e-mail
    changes = synced(engine, plan_from(data), START)
    assert sent(engine, changes) == [("invite", "review", p, 0) for p in ("pia", "tim")]
    # He still finds the meeting in his own feed.
    feed = feed_calendar(engine, plan_from(data), "tom", feed_stamp(engine, plan_from(data)))
    assert [str(e["SUMMARY"]) for e in Calendar.from_ical(feed).walk("VEVENT")] == [
        "Design review",
        "Deadline: Design approved",
    ]


# -- what a person reads ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "invite", "update", "cancel", "removed"),
    [
        (
            "nl",
            "Uitnodiging: Design review",
            "Gewijzigd: Design review",
            "Geannuleerd",
            "gaat niet door",
        ),
        (
            "en",
            "Invitation: Design review",
            "Changed: Design review",
            "Cancelled",
            "will not take place",
        ),
    ],
)
def test_drafts_in_the_plans_language(
    tmp_path: Path, language: str, invite: str, update: str, cancel: str, removed: str
) -> None:
    engine = make_engine(tmp_path)
    data = team_data()
    data["language"] = language
    plan = plan_from(data)

    def messages(changes: CalendarChanges) -> list[Any]:
        return [
            compose(engine, plan, i, plan.person(str(i.recipient)), "email", START)
            for i in changes.invites + changes.cancels
        ]

    first = messages(synced(engine, plan, START))
    assert all(m.subject.startswith(invite) for m in first)
    assert all(m.calendar is not None and m.calendar.method == "REQUEST" for m in first)
    assert all(m.html and "Design review" in m.html for m in first)
    moved = copy.deepcopy(data)
    moved["milestones"][0]["at"] = "2027-03-11 14:00"
    plan = plan_from(moved)
    assert all(m.subject.startswith(update) for m in messages(synced(engine, plan, START + 60)))
    moved["milestones"] = moved["milestones"][1:]
    plan = plan_from(moved)
    gone = messages(synced(engine, plan, START + 120))
    assert len(gone) == 3 and all(m.subject.startswith(cancel) for m in gone)
    assert all(m.calendar is not None and m.calendar.method == "CANCEL" for m in gone)
    assert all(removed in m.text for m in gone)


def test_someone_abroad_reads_their_own_time_and_the_others(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    plan = load_plan(DUTCH)
    changes = synced(engine, plan, START)
    (item,) = [i for i in changes.invites if (i.ref, i.recipient) == ("intake", "eva")]
    message = compose(engine, plan, item, plan.person("eva"), "email", START)
    assert "maandag 11 januari 2027 om 04:00 (EST)" in message.subject
    assert "Voor de anderen is dat maandag 11 januari 2027 om 10:00 (CET)." in message.text
    assert ("Waar", "Voedselbank, Vaartsche Rijn 1, Utrecht") in message.facts


# -- feeds ------------------------------------------------------------------------------------


def test_a_feed_keeps_its_bytes_until_an_event_changes(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    plan = load_plan(DUTCH)
    synced(engine, plan, START)
    stamp = feed_stamp(engine, plan)
    first = feed_calendar(engine, plan, None, stamp)
    assert lint_calendar(first) == []
    synced(engine, plan, START + 3600)  # the same plan again
    assert feed_stamp(engine, plan) == stamp
    assert feed_calendar(engine, plan, None, feed_stamp(engine, plan)) == first
    eva = feed_calendar(engine, plan, "eva", stamp)
    assert lint_calendar(eva) == [] and b"METHOD:PUBLISH" in eva
    assert len(Calendar.from_ical(eva).walk("VEVENT")) == len(events_for(plan, "eva"))
    stamped = Calendar.from_ical(first).walk("VEVENT")[0].decoded("DTSTAMP")
    assert stamped == datetime.fromtimestamp(START, UTC)


def test_feed_tokens_name_their_plan_and_person_and_cannot_be_made_without_the_key(
    tmp_path: Path,
) -> None:
    engine = make_engine(tmp_path)
    settings = engine.settings
    ana = feed_token(settings, "voedselbank-aanmelden", "ana")
    grant = tokens.verify(settings.signing_key, ana, "feed", START)
    assert grant.fields == {"p": "voedselbank-aanmelden", "u": "ana"}
    assert ana != feed_token(settings, "voedselbank-aanmelden", "bram")
    assert ana == feed_token(settings, "voedselbank-aanmelden", "ana")  # the same address
    with pytest.raises(tokens.TokenError):
        tokens.verify(b"another-key", ana, "feed", START)
    with pytest.raises(tokens.TokenError):
        tokens.verify(settings.signing_key, ana, "checkin", START)
    url = feed_url(settings, "voedselbank-aanmelden")
    assert url.startswith("http://localhost:8000/feeds/voedselbank-aanmelden/")
    assert url.endswith(".ics")
    assert Stamping.of(settings).uid(load_plan(DUTCH), "handover").endswith("@pactkeeper.local")
