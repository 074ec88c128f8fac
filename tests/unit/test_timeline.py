"""The timing rules (docs/architecture.md §4), to the minute.

Every expected instant below is worked out by hand from the rule and written in
UTC. 2027 clock changes: the EU moves forward on Sunday 28 March and back on
31 October; the US forward on Sunday 14 March and back on 7 November.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.support import DUTCH, ENGLISH, minimal_data, plan_from
from worker.timeline import Occurrence, compile


def utc(text: str) -> str:
    """'2027-03-22 08:00' -> '2027-03-22T08:00:00Z' (how timeline --json writes it)."""
    return text.replace(" ", "T") + ":00Z"


def instants(
    items: list[Occurrence], kind: str, recipient: str | None = None, ref: str | None = None
) -> list[str]:
    return [
        item.as_json()["at"] or ""
        for item in items
        if item.kind == kind
        and (recipient is None or item.recipient == recipient)
        and (ref is None or item.ref == ref)
    ]


def with_people(*extra: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data = minimal_data()
    data["people"].extend(extra)
    data.update(changes)
    return data


# -- check-in windows ---------------------------------------------------------------

WEEKLY_MONDAY = {"every": "weekly", "on": "monday", "at": "09:00", "grace": "2d", "who": "team"}


@pytest.mark.parametrize(
    ("person", "day", "expected"),
    [
        # Amsterdam: CET (+1) until 28 March, CEST (+2) after.
        ("tim", "2027-03-08", "2027-03-08 08:00"),
        ("tim", "2027-03-15", "2027-03-15 08:00"),
        ("tim", "2027-03-22", "2027-03-22 08:00"),
        ("tim", "2027-03-29", "2027-03-29 07:00"),
        ("tim", "2027-11-01", None),  # after the plan's end: no window
        # New York: EST (-5) until 14 March, EDT (-4) after; 09:00 New York time throughout,
        # also in the two weeks when the US has changed and the EU has not.
        ("nora", "2027-03-08", "2027-03-08 14:00"),
        ("nora", "2027-03-15", "2027-03-15 13:00"),
        ("nora", "2027-03-22", "2027-03-22 13:00"),
        ("nora", "2027-03-29", "2027-03-29 13:00"),
        # Singapore has no DST: always 01:00Z.
        ("siu", "2027-03-22", "2027-03-22 01:00"),
        ("siu", "2027-03-29", "2027-03-29 01:00"),
    ],
)
def test_checkin_opens_at_local_nine_across_dst(
    person: str, day: str, expected: str | None
) -> None:
    data = with_people(
        {
            "id": "nora",
            "name": "Nora",
            "side": "team",
            "email": "nora@team.example",
            "timezone": "America/New_York",
        },
        {
            "id": "siu",
            "name": "Siu",
            "side": "team",
            "email": "siu@team.example",
            "timezone": "Asia/Singapore",
        },
        checkins=WEEKLY_MONDAY,
    )
    items = compile(plan_from(data))
    found = instants(items, "checkin_open", person, day)
    assert found == ([utc(expected)] if expected else [])


def test_checkin_window_closes_grace_later_in_calendar_days() -> None:
    # Opens Friday 26 March 09:00 CET (08:00Z); two calendar days later is Sunday 28 March,
    # the night the clocks go forward: 09:00 CEST is 07:00Z, not 08:00Z.
    data = minimal_data()
    data["checkins"] = {**WEEKLY_MONDAY, "on": "friday"}
    items = compile(plan_from(data))
    assert instants(items, "checkin_open", "tim", "2027-03-26") == [utc("2027-03-26 08:00")]
    assert instants(items, "checkin_close", "tim", "2027-03-26") == [utc("2027-03-28 07:00")]


def test_pauses_and_away_days_open_no_window() -> None:
    data = with_people(
        {
            "id": "ada",
            "name": "Ada",
            "side": "team",
            "email": "ada@team.example",
            "away": [{"from": "2027-03-01", "to": "2027-03-05"}],
        },
        checkins={**WEEKLY_MONDAY, "pauses": [{"from": "2027-02-22", "to": "2027-02-26"}]},
    )
    items = compile(plan_from(data))
    assert instants(items, "checkin_open", "tim", "2027-02-22") == []
    assert instants(items, "checkin_close", "tim", "2027-02-22") == []
    assert instants(items, "checkin_open", "tim", "2027-03-01") == [utc("2027-03-01 08:00")]
    assert instants(items, "checkin_open", "ada", "2027-03-01") == []
    assert instants(items, "checkin_open", "ada", "2027-03-08") == [utc("2027-03-08 08:00")]


def test_checkins_only_for_who_and_only_inside_the_plan() -> None:
    data = minimal_data()
    data["checkins"] = WEEKLY_MONDAY
    items = compile(plan_from(data))
    opened = [item for item in items if item.kind == "checkin_open"]
    assert {item.recipient for item in opened} == {"tim"}
    # Mondays from 4 January to 28 June 2027 inclusive: 26 of them.
    assert len(opened) == 26
    assert opened[0].ref == "2027-01-04"
    assert opened[-1].ref == "2027-06-28"


def test_biweekly_starts_on_the_first_such_day_after_the_start() -> None:
    data = minimal_data()  # starts Monday 4 January
    data["checkins"] = {**WEEKLY_MONDAY, "every": "biweekly", "on": "thursday"}
    items = compile(plan_from(data))
    refs = [item.ref for item in items if item.kind == "checkin_open"][:3]
    assert refs == ["2027-01-07", "2027-01-21", "2027-02-04"]


# -- reminders -------------------------------------------------------------------------


def meeting(at: str, remind: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": "m",
        "title": "Meeting",
        "at": at,
        "duration": "1h",
        "attendees": ["tim"],
        "remind": remind,
        **extra,
    }


@pytest.mark.parametrize(
    ("at", "offset", "expected"),
    [
        # 7 calendar days before Monday 29 March 10:00 CEST is Monday 22 March 10:00 CET:
        # 09:00Z. An exact 168 hours would give 08:00Z.
        ("2027-03-29 10:00", "7d", "2027-03-22 09:00"),
        ("2027-03-29 10:00", "1w", "2027-03-22 09:00"),
        ("2027-03-29 10:00", "P7D", "2027-03-22 09:00"),
        # Hours are exact: 2h before 10:00 CEST (08:00Z) is 06:00Z.
        ("2027-03-29 10:00", "2h", "2027-03-29 06:00"),
        # 1 day before Monday 29 March 02:30 local... a plain morning case instead:
        ("2027-03-28 12:00", "1d", "2027-03-27 11:00"),
        # 24 hours before 12:00 CEST on the DST day is 11:00 CET on the 27th = 10:00Z.
        ("2027-03-28 12:00", "24h", "2027-03-27 10:00"),
        ("2027-10-31 12:00", "1d", "2027-10-30 10:00"),
        ("2027-10-31 12:00", "24h", "2027-10-30 11:00"),
    ],
)
def test_day_offsets_are_calendar_days_hours_are_exact(at: str, offset: str, expected: str) -> None:
    data = minimal_data()
    data["end"] = "2027-12-31"
    data["milestones"] = [meeting(at, [offset])]
    assert instants(compile(plan_from(data)), "reminder", "tim", "m") == [utc(expected)]


def test_reminder_outside_reachable_hours_moves_back_to_end_of_last_period() -> None:
    data = minimal_data()
    data["people"][1]["reachable"] = "mon-fri 09:00-17:00"
    data["milestones"] = [
        # Thursday 11 March 10:00 minus 12h: Wednesday 22:00 -> Wednesday 17:00 CET (16:00Z).
        meeting("2027-03-11 10:00", ["12h"]),
        # Wednesday 10 March 08:00 minus 1 day: Tuesday 08:00, before the day's period ->
        # Monday 17:00 CET (16:00Z).
        {**meeting("2027-03-10 08:00", ["1d"]), "id": "early"},
        # Monday 15 March 10:00 minus 1 day: Sunday -> Friday 12 March 17:00 (16:00Z).
        {**meeting("2027-03-15 10:00", ["1d"]), "id": "monday"},
        # Inside reachable hours: unchanged. Wed 10 March 15:00 minus 2h = 13:00 CET = 12:00Z.
        {**meeting("2027-03-10 15:00", ["2h"]), "id": "inside"},
        # Exactly at the period's end (end included): 17:00 stays 17:00.
        {**meeting("2027-03-10 19:00", ["2h"]), "id": "edge"},
    ]
    items = compile(plan_from(data))
    assert instants(items, "reminder", "tim", "m") == [utc("2027-03-10 16:00")]
    assert instants(items, "reminder", "tim", "early") == [utc("2027-03-08 16:00")]
    assert instants(items, "reminder", "tim", "monday") == [utc("2027-03-12 16:00")]
    assert instants(items, "reminder", "tim", "inside") == [utc("2027-03-10 12:00")]
    assert instants(items, "reminder", "tim", "edge") == [utc("2027-03-10 16:00")]


def test_reminder_on_an_away_day_moves_back_before_the_absence() -> None:
    data = minimal_data()
    data["people"][1]["reachable"] = "mon-fri 09:00-17:00"
    data["people"][1]["away"] = [{"from": "2027-03-08", "to": "2027-03-12"}]
    data["milestones"] = [meeting("2027-03-12 14:00", ["2d"])]
    # Due Wednesday 10 March 14:00, but Tim is away all week: Friday 5 March 17:00 CET.
    assert instants(compile(plan_from(data)), "reminder", "tim", "m") == [utc("2027-03-05 16:00")]


def test_reminder_in_a_singapore_members_own_hours() -> None:
    data = minimal_data()
    data["people"][1].update(timezone="Asia/Singapore", reachable="mon-fri 09:00-17:00")
    # Amsterdam meeting Thursday 11 March 10:00 CET = 09:00Z = 17:00 SGT.
    # 1 day before in Singapore: Wednesday 17:00 SGT (inside, end included) = 09:00Z.
    # 2h before: 15:00 SGT = 07:00Z, inside.
    data["milestones"] = [meeting("2027-03-11 10:00", ["1d", "2h", "12h"])]
    found = instants(compile(plan_from(data)), "reminder", "tim", "m")
    # 12h before is 05:00 SGT Thursday -> back to Wednesday 17:00 SGT: the same instant as
    # the 1d reminder, so the two collapse into one occurrence with one key.
    assert found == [utc("2027-03-10 09:00"), utc("2027-03-11 07:00")]


def test_no_reachable_moment_since_the_start_goes_at_the_due_time() -> None:
    data = minimal_data()  # starts Monday 4 January 2027
    data["people"][1]["reachable"] = "mon-fri 09:00-17:00"
    data["milestones"] = [meeting("2027-01-04 10:00", ["2h"])]
    # Due 08:00 CET on the first day; nothing reachable between 00:00 and 08:00.
    assert instants(compile(plan_from(data)), "reminder", "tim", "m") == [utc("2027-01-04 07:00")]


def test_reminders_due_before_the_start_are_dropped() -> None:
    data = minimal_data()
    data["milestones"] = [meeting("2027-01-05 10:00", ["7d", "1d", "2h"])]
    assert instants(compile(plan_from(data)), "reminder", "tim", "m") == [
        utc("2027-01-04 09:00"),
        utc("2027-01-05 07:00"),
    ]


def test_deadline_reminders_count_back_from_deadline_time_to_owner_and_lead() -> None:
    data = with_people({"id": "ola", "name": "Ola", "side": "team", "email": "ola@team.example"})
    data["communication"]["deadline_time"] = "10:00"
    data["milestones"] = [
        {"id": "d", "title": "Done", "due": "2027-04-01", "owner": "ola", "remind": ["3d"]}
    ]
    items = compile(plan_from(data))
    # Thursday 1 April 10:00 CEST -> 3 days before: Monday 29 March 10:00 CEST = 08:00Z.
    assert instants(items, "deadline", ref="d") == [utc("2027-04-01 08:00")]
    assert instants(items, "reminder", "ola", "d") == [utc("2027-03-29 08:00")]
    assert instants(items, "reminder", "tim", "d") == [utc("2027-03-29 08:00")]
    assert instants(items, "reminder", "pia", "d") == []


def test_reminders_go_on_the_first_preferred_channel() -> None:
    data = minimal_data()
    data["communication"]["channels"]["sms"] = {"provider": "twilio"}
    data["people"][1].update(phone="+31612345678", channels=["sms", "email"], consent="2027-01-01")
    data["milestones"] = [meeting("2027-03-10 12:00", ["1d"])]
    (reminder,) = [i for i in compile(plan_from(data)) if i.kind == "reminder"]
    assert reminder.channel == "sms"


# -- kickoff, handover, close ------------------------------------------------------------


def test_kickoff_moves_forward_to_the_next_reachable_moment() -> None:
    data = minimal_data()  # starts Monday 4 January; deadline_time defaults to 09:00
    data["people"][0]["reachable"] = "tue-fri 10:00-16:00"
    items = compile(plan_from(data))
    assert instants(items, "kickoff", "tim") == [utc("2027-01-04 08:00")]
    assert instants(items, "kickoff", "pia") == [utc("2027-01-05 09:00")]


def test_handover_meeting_reminders_and_close() -> None:
    data = minimal_data()
    data["handover"] = {"at": "2027-06-24 15:00", "duration": "2h"}
    data["communication"]["remind_before"] = ["1d"]
    items = compile(plan_from(data))
    assert instants(items, "handover") == [utc("2027-06-24 13:00")]
    # Default recipients: the partner contact and the team lead.
    assert instants(items, "reminder", "pia", "handover") == [utc("2027-06-23 13:00")]
    assert instants(items, "reminder", "tim", "handover") == [utc("2027-06-23 13:00")]
    # 00:00 after the end date (30 June) in the plan's zone (CEST).
    assert instants(items, "close") == [utc("2027-06-30 22:00")]


# -- keys and the command line -------------------------------------------------------------


def test_compile_is_deterministic_and_keys_are_unique() -> None:
    from config.load import load_plan

    first = compile(load_plan(DUTCH))
    second = compile(load_plan(DUTCH))
    assert [i.as_json() for i in first] == [i.as_json() for i in second]
    assert len({i.key for i in first}) == len(first)


def test_moving_a_milestone_changes_only_its_own_keys() -> None:
    from config.load import load_text

    text = DUTCH.read_text(encoding="utf-8")
    before = {i.key: i for i in compile(load_text(text))}
    after = {
        i.key: i for i in compile(load_text(text.replace("due: 2027-02-15", "due: 2027-02-17")))
    }
    changed = {i.ref for k, i in before.items() if k not in after}
    changed |= {i.ref for k, i in after.items() if k not in before}
    assert changed == {"ontwerp"}


def test_timeline_json_contract() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "worker.run.cli", "timeline", str(ENGLISH), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    items = json.loads(result.stdout)
    assert items
    for item in items:
        assert set(item) == {"key", "kind", "at", "local", "ref", "recipient", "channel"}
        assert item["at"].endswith("Z")
        assert item["kind"] in {
            "meeting",
            "deadline",
            "reminder",
            "checkin_open",
            "checkin_close",
            "kickoff",
            "handover",
            "close",
        }
    lee_opens = [i for i in items if i["kind"] == "checkin_open" and i["recipient"] == "lee"]
    # Lee is in Singapore: 10:00 SGT, +08:00.
    assert lee_opens and all(i["local"].endswith("T10:00:00+08:00") for i in lee_opens)
    # Items without a recipient carry the plan's offset (London: +00:00 or +01:00).
    meetings = [i for i in items if i["kind"] == "meeting"]
    assert meetings[0]["local"] == "2027-03-01T12:00:00+00:00"
