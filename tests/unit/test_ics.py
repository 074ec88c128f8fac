"""The calendar builder (docs/architecture §5): what `pactkeeper ics` writes, as readers see it.

Every calendar is read back by icalendar, recurring-ical-events and vobject.
Instants below are worked out by hand from the 2027 clock changes: the US moves
forward on 14 March and back on 7 November, the EU on 28 March and 31 October.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from icalendar import Calendar, Event

from config.load import load_plan, load_text
from config.plan import Plan
from config.settings import Settings
from connectors.calendar.ics import calendar_of, event_uid, significant_hash
from connectors.calendar.zones import observances, vtimezone
from tests.support import DUTCH, ENGLISH, ROOT, minimal_data, plan_from
from worker.calendar.events import (
    Stamping,
    build_calendar,
    checkin_series,
    deadline_event,
    events_for,
    meeting_event,
)
from worker.timeline import checkin_windows, compile, milestone_anchor

STAMP = datetime(2027, 1, 2, 8, 30, tzinfo=UTC)
DOMAIN = "calendar.test.example"
SETTINGS = Settings(uid_domain=DOMAIN, organizer_email="organizer@acme.example")
STAMPING = Stamping.of(SETTINGS, STAMP)


def people_of(path: Path) -> list[str | None]:
    return [None, *(person.id for person in load_plan(path).people)]


CALENDARS = [(path, person) for path in (DUTCH, ENGLISH) for person in people_of(path)]


def calendar_id(case: tuple[Path, str | None]) -> str:
    return f"{case[0].stem}-{case[1] or 'all'}"


def run_ics(path: Path, person: str | None, out: Path) -> Path:
    """`pactkeeper ics PLAN [--for PERSON] -o FILE`, in its own process, as a user runs it."""
    target = out / f"{path.stem}-{person or 'all'}.ics"
    command = [sys.executable, "-m", "worker.run.cli", "ics", str(path), "-o", str(target)]
    if person:
        command += ["--for", person]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    env.update(PACTKEEPER_UID_DOMAIN=DOMAIN, PYTHONPATH=str(ROOT))
    subprocess.run(command, check=True, cwd=out, env=env, capture_output=True)
    return target


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("ics")
    return {calendar_id(case): run_ics(*case, out) for case in CALENDARS}


# Runs in a fresh interpreter: nothing from this process (caches, registered zones) helps.
READER = """
import json, sys
from datetime import date, datetime, timezone
import recurring_ical_events, vobject
from icalendar import Calendar

def instant(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value.isoformat()

def vobject_instances(event):
    rules = event.getrruleset(addRDate=True)
    values = list(rules) if rules is not None else [event.dtstart.value]
    return [[event.uid.value, instant(v)] for v in values]

report = {}
for path, first, last in json.loads(sys.argv[1]):
    data = open(path, "rb").read()
    calendar = Calendar.from_ical(data)
    window = (date.fromisoformat(first), date.fromisoformat(last))
    expanded = recurring_ical_events.of(calendar).between(*window)
    parsed = vobject.readOne(data.decode("utf-8"))
    report[path] = {
        "icalendar": sorted(str(e["UID"]) for e in calendar.walk("VEVENT")),
        "recurring": sorted([str(e["UID"]), instant(e["DTSTART"].dt)] for e in expanded),
        "vobject": sorted(i for e in parsed.vevent_list for i in vobject_instances(e)),
    }
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def read_back(cli_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    jobs = []
    for path, person in CALENDARS:
        plan = load_plan(path)
        first, last = plan.start - timedelta(days=1), plan.end + timedelta(days=2)
        jobs.append([str(cli_files[calendar_id((path, person))]), str(first), str(last)])
    script = tmp_path_factory.mktemp("reader") / "read_back.py"
    script.write_text(READER, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), json.dumps(jobs)], check=True, capture_output=True
    )
    return json.loads(done.stdout)


def expected_instances(plan: Plan, person: str | None) -> list[list[str]]:
    """One instance per event, and one per opened window for each check-in series."""
    found = []
    for event in events_for(plan, person, STAMPING):
        uid, start = str(event["UID"]), event["DTSTART"].dt
        if "RRULE" in event:
            member = plan.person(uid_owner(plan, uid))
            found += [[uid, at.isoformat()] for at in checkin_windows(plan, member)]
        elif isinstance(start, datetime):
            found.append([uid, start.astimezone(UTC).isoformat()])
        else:
            found.append([uid, start.isoformat()])
    return sorted(found)


def uid_owner(plan: Plan, uid: str) -> str:
    return next(p.id for p in plan.people if event_uid(plan.id, f"checkins/{p.id}", DOMAIN) == uid)


# reading-club has check-ins in Europe/London, which vobject (and so Radicale) once read
# as GMT all summer: it took a VTIMEZONE whose rules start in 2026 for UTC (see zones.py).
@pytest.mark.parametrize("case", CALENDARS, ids=calendar_id)
def test_cli_calendar_reads_back_in_a_fresh_process(
    case: tuple[Path, str | None], cli_files: dict[str, Path], read_back: Any
) -> None:
    path, person = case
    plan = load_plan(path)
    report = read_back[str(cli_files[calendar_id(case)])]
    uids = sorted(str(event["UID"]) for event in events_for(plan, person, STAMPING))
    assert report["icalendar"] == uids
    assert report["recurring"] == expected_instances(plan, person)
    assert report["vobject"] == report["recurring"]


# -- the check-in series ------------------------------------------------------------


def checkin_instants(calendar_bytes: bytes, uid: str, plan: Plan) -> set[datetime]:
    calendar = Calendar.from_ical(calendar_bytes)
    window = (plan.start - timedelta(days=1), plan.end + timedelta(days=2))
    expanded = recurring_ical_events.of(calendar).between(*window)
    return {e["DTSTART"].dt.astimezone(UTC) for e in expanded if str(e["UID"]) == uid}


SERIES = [
    (path, person.id) for path in (DUTCH, ENGLISH) for person in load_plan(path).checkin_people()
]


@pytest.mark.parametrize(("path", "person"), SERIES, ids=lambda v: getattr(v, "stem", v))
def test_checkin_series_expands_to_the_windows_timeline_opens(
    path: Path, person: str, cli_files: dict[str, Path]
) -> None:
    plan = load_plan(path)
    uid = event_uid(plan.id, f"checkins/{person}", DOMAIN)
    data = cli_files[calendar_id((path, person))].read_bytes()
    opened = {
        item.at
        for item in compile(plan)
        if item.kind == "checkin_open" and item.recipient == person
    }
    assert opened
    assert checkin_instants(data, uid, plan) == opened


def series_of(plan: Plan, person: str) -> Event:
    series = checkin_series(plan, plan.person(person), STAMPING)
    assert series is not None
    return series


def exdates(event: Event) -> list[datetime]:
    listed = event.get("EXDATE", [])
    groups = listed if isinstance(listed, list) else [listed]
    return [value.dt for group in groups for value in group.dts]


@pytest.mark.parametrize(
    ("person", "zone", "excused"),
    [
        # The spring pause (22-26 February) holds Monday 22 February for everyone;
        # chris is also away 1-5 March, which holds Monday 1 March.
        ("bram", "Europe/Amsterdam", [date(2027, 2, 22)]),
        ("chris", "Europe/Amsterdam", [date(2027, 2, 22), date(2027, 3, 1)]),
        ("eva", "America/New_York", [date(2027, 2, 22)]),
    ],
)
def test_pauses_and_away_days_are_exdates_in_the_persons_zone(
    person: str, zone: str, excused: list[date]
) -> None:
    series = series_of(load_plan(DUTCH), person)
    assert str(series["DTSTART"].params["TZID"]) == zone
    found = exdates(series)
    assert [moment.date() for moment in found] == excused
    assert all(moment.hour == 9 and str(moment.tzinfo) == zone for moment in found)


@pytest.mark.parametrize(
    ("person", "day", "expected"),
    [
        ("eva", "2027-03-08", "2027-03-08 14:00"),  # both sides on winter time
        ("eva", "2027-03-15", "2027-03-15 13:00"),  # US moved on 14 March ...
        ("chris", "2027-03-15", "2027-03-15 08:00"),  # ... the EU has not yet
        ("eva", "2027-03-22", "2027-03-22 13:00"),
        ("chris", "2027-03-22", "2027-03-22 08:00"),
        ("chris", "2027-03-29", "2027-03-29 07:00"),  # EU moved on 28 March
        ("eva", "2027-03-29", "2027-03-29 13:00"),
    ],
)
def test_checkins_stay_at_nine_local_across_both_clock_changes(
    person: str, day: str, expected: str, cli_files: dict[str, Path]
) -> None:
    plan = load_plan(DUTCH)
    uid = event_uid(plan.id, f"checkins/{person}", DOMAIN)
    found = checkin_instants(cli_files[calendar_id((DUTCH, person))].read_bytes(), uid, plan)
    on_day = [moment for moment in found if moment.date().isoformat() == day]
    assert on_day == [datetime.fromisoformat(expected).replace(tzinfo=UTC)]


def test_series_until_is_the_last_instant_of_the_end_date_in_utc() -> None:
    plan = load_plan(DUTCH)
    # 30 April 23:59:59 is EDT (-4) in New York and CEST (+2) in Amsterdam.
    assert series_of(plan, "eva")["RRULE"]["UNTIL"] == [datetime(2027, 5, 1, 3, 59, 59, tzinfo=UTC)]
    assert series_of(plan, "bram")["RRULE"]["UNTIL"] == [
        datetime(2027, 4, 30, 21, 59, 59, tzinfo=UTC)
    ]


def test_series_is_short_and_named_after_the_person() -> None:
    plan = load_plan(ENGLISH)
    series = series_of(plan, "lee")
    assert str(series["SUMMARY"]) == "Check-in: Lee Wong"
    assert series["DURATION"].dt == timedelta(minutes=15)
    assert str(series["DTSTART"].params["TZID"]) == "Asia/Singapore"
    rule = series["RRULE"]
    assert (rule["FREQ"], rule["INTERVAL"], rule["BYDAY"]) == (["WEEKLY"], [2], ["TH"])


# -- what is in one person's calendar -----------------------------------------------


@pytest.mark.parametrize(
    ("person", "items"),
    [
        # dirk: at the board evaluation and the handover; a partner, so no check-ins.
        ("dirk", {"milestone/evaluatie", "handover"}),
        # ana: intake and evaluation, reminded of the design (notify), handover.
        ("ana", {"milestone/intake", "milestone/ontwerp", "milestone/evaluatie", "handover"}),
        # chris: intake; owner of livegang (owner and lead are reminded); check-ins.
        ("chris", {"milestone/intake", "milestone/livegang", "checkins/chris"}),
        ("eva", {"milestone/intake", "milestone/ontwerp", "checkins/eva"}),
    ],
)
def test_a_persons_calendar_holds_only_what_concerns_them(person: str, items: set[str]) -> None:
    plan = load_plan(DUTCH)
    expected = {event_uid(plan.id, item, DOMAIN) for item in items}
    assert {str(e["UID"]) for e in events_for(plan, person, STAMPING)} == expected


def test_the_whole_plan_has_every_milestone_the_handover_and_every_series() -> None:
    plan = load_plan(ENGLISH)
    items = [f"milestone/{m.id}" for m in plan.milestones]
    items += ["handover", "checkins/sam", "checkins/lee"]
    found = [str(e["UID"]) for e in events_for(plan, None, STAMPING)]
    assert found == [event_uid(plan.id, item, DOMAIN) for item in items]


# -- events one by one --------------------------------------------------------------


def test_event_uid_is_uuid5_of_plan_and_item_at_the_domain() -> None:
    uid = event_uid("reading-buddies", "milestone/pilot", "example.org")
    name = uuid.uuid5(uuid.NAMESPACE_URL, "reading-buddies/milestone/pilot")
    assert uid == f"{name}@example.org"
    assert uid == event_uid("reading-buddies", "milestone/pilot", "example.org")
    assert uid != event_uid("reading-buddies", "handover", "example.org")


def test_a_deadline_is_all_day_with_an_exclusive_end() -> None:
    plan = load_plan(DUTCH)
    event = deadline_event(plan, plan.milestone("livegang"), STAMPING)
    assert event["DTSTART"].dt == date(2027, 4, 1)
    assert event["DTEND"].dt == date(2027, 4, 2)
    assert b"DTSTART;VALUE=DATE:20270401" in event.to_ical()


def test_deadline_alarms_count_back_from_deadline_time_not_midnight() -> None:
    plan = load_plan(DUTCH)  # ontwerp: remind [7d, 1d], deadline_time 09:00 (CET: 08:00Z)
    event = deadline_event(plan, plan.milestone("ontwerp"), STAMPING)
    triggers = [alarm["TRIGGER"].to_ical() for alarm in event.walk("VALARM")]
    assert triggers == [b"20270208T080000Z", b"20270214T080000Z"]
    assert all(alarm["TRIGGER"].params["VALUE"] == "DATE-TIME" for alarm in event.walk("VALARM"))


def alarm_moments(event: Event, zone: ZoneInfo) -> list[datetime]:
    """Where a calendar app rings: DTSTART (midnight for a date) plus TRIGGER, days nominal;
    an absolute TRIGGER rings at its own instant."""
    start = event["DTSTART"].dt
    if not isinstance(start, datetime):
        start = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    rung = []
    for alarm in event.walk("VALARM"):
        trigger = alarm["TRIGGER"].dt
        if isinstance(trigger, datetime):
            rung.append(trigger.astimezone(UTC))
            continue
        wall = start.replace(tzinfo=None) + timedelta(days=trigger.days)
        exact = wall.replace(tzinfo=start.tzinfo).astimezone(UTC)
        rung.append(exact + timedelta(seconds=trigger.seconds))
    return rung


@pytest.mark.parametrize("path", [DUTCH, ENGLISH], ids=lambda p: p.stem)
def test_alarms_ring_when_the_timeline_reminder_is_due(path: Path) -> None:
    plan = load_plan(path)
    for milestone in plan.milestones:
        event = meeting_event if milestone.is_meeting else deadline_event
        anchor = milestone_anchor(plan, milestone).astimezone(plan.zone)
        offsets = milestone.remind or plan.communication.remind_before
        due = [offset.before(anchor).astimezone(UTC) for offset in offsets]
        opening = datetime.combine(plan.start, datetime.min.time(), tzinfo=plan.zone)
        expected = [moment for moment in due if moment >= opening]
        assert alarm_moments(event(plan, milestone, STAMPING), plan.zone) == expected


def test_no_alarm_rings_before_the_plan_starts() -> None:
    plan = load_plan(DUTCH)  # the intake is on the first day at 10:00; reminders 7d, 1d, 2h
    event = meeting_event(plan, plan.milestone("intake"), STAMPING)
    assert [alarm["TRIGGER"].to_ical() for alarm in event.walk("VALARM")] == [b"-PT2H"]


def test_a_meeting_has_its_zone_organizer_attendees_and_location() -> None:
    plan = load_plan(DUTCH)
    event = meeting_event(plan, plan.milestone("intake"), STAMPING)
    assert str(event["DTSTART"].params["TZID"]) == "Europe/Amsterdam"
    assert event["DTEND"].dt - event["DTSTART"].dt == timedelta(minutes=90)
    assert str(event["ORGANIZER"]) == "mailto:organizer@acme.example"
    attendees = {str(a): str(a.params["CN"]) for a in event["ATTENDEE"]}
    assert attendees == {
        "mailto:ana@voedselbank.example": "Ana de Vries",
        "mailto:bram@acme.example": "Bram Bakker",
        "mailto:chris@acme.example": "Chris Smit",
        "mailto:eva@acme.example": "Eva Mulder",
    }
    assert str(event["LOCATION"]) == "Voedselbank, Vaartsche Rijn 1, Utrecht"


@pytest.mark.parametrize(
    ("path", "milestone", "words"),
    [
        (DUTCH, "ontwerp", ["Op te leveren: Schetsen", "Geaccepteerd als: Ana keurt"]),
        (ENGLISH, "training-pack", ["Deliverable: A 10-page pack", "Accepted when: Maya signs"]),
    ],
)
def test_deadline_description_in_the_plans_language(
    path: Path, milestone: str, words: list[str]
) -> None:
    plan = load_plan(path)
    description = str(deadline_event(plan, plan.milestone(milestone), STAMPING)["DESCRIPTION"])
    assert all(word in description for word in words)


def test_stamp_sequence_and_method_come_from_the_caller() -> None:
    plan = load_plan(ENGLISH)
    uid = event_uid(plan.id, "milestone/kickoff", DOMAIN)
    local_stamp = datetime(2027, 3, 1, 10, 0, tzinfo=plan.zone_of(plan.person("lee")))
    data = build_calendar(plan, None, SETTINGS, local_stamp, {uid: 4}, method="REQUEST")
    calendar = Calendar.from_ical(data)
    assert str(calendar["METHOD"]) == "REQUEST"
    event = next(e for e in calendar.walk("VEVENT") if str(e["UID"]) == uid)
    assert event["SEQUENCE"] == 4
    assert b"DTSTAMP:20270301T020000Z" in data  # 10:00 in Singapore is 02:00 UTC
    others = [e for e in calendar.walk("VEVENT") if str(e["UID"]) != uid]
    assert {e["SEQUENCE"] for e in others} == {0}


def test_a_stamp_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="zone-aware"):
        Stamping.of(SETTINGS, datetime(2027, 1, 1, 12, 0))


def test_every_tzid_has_a_vtimezone_built_from_rrules() -> None:
    calendar = Calendar.from_ical(build_calendar(load_plan(DUTCH), None, SETTINGS, STAMP))
    used = {
        str(event[name].params["TZID"])
        for event in calendar.walk("VEVENT")
        for name in ("DTSTART", "DTEND")
        if name in event and "TZID" in event[name].params
    }
    zones = calendar.walk("VTIMEZONE")
    assert used == {str(zone["TZID"]) for zone in zones} == {"Europe/Amsterdam", "America/New_York"}
    for zone in zones:
        parts = zone.walk("STANDARD") + zone.walk("DAYLIGHT")
        assert len(parts) == 2
        assert all("RRULE" in part and "RDATE" not in part for part in parts)


# -- stable across re-reads and edits ----------------------------------------------


def without_stamp(event: Event) -> bytes:
    return b"\r\n".join(
        line for line in event.to_ical().split(b"\r\n") if not line.startswith(b"DTSTAMP")
    )


def by_uid(plan: Plan, stamping: Stamping = STAMPING) -> dict[str, Event]:
    return {str(event["UID"]): event for event in events_for(plan, None, stamping)}


def test_rereading_the_plan_gives_the_same_calendar() -> None:
    first = build_calendar(load_plan(DUTCH), None, SETTINGS, STAMP)
    assert build_calendar(load_plan(DUTCH), None, SETTINGS, STAMP) == first


@pytest.mark.parametrize(
    ("old", "new", "item"),
    [
        ("due: 2027-04-01", "due: 2027-04-08", "milestone/livegang"),
        ("at: 2027-01-11 10:00", "at: 2027-01-11 11:00", "milestone/intake"),
        ("attendees: [ana, dirk, bram]", "attendees: [ana, bram]", "milestone/evaluatie"),
    ],
)
def test_editing_one_milestone_changes_only_its_event(old: str, new: str, item: str) -> None:
    text = DUTCH.read_text(encoding="utf-8")
    assert text.count(old) == 1
    before = by_uid(load_plan(DUTCH))
    later = Stamping.of(SETTINGS, STAMP + timedelta(days=3))
    after = by_uid(load_text(text.replace(old, new), str(DUTCH)), later)
    assert after.keys() == before.keys()
    changed = {uid for uid in before if without_stamp(before[uid]) != without_stamp(after[uid])}
    rehashed = {
        uid for uid in before if significant_hash(before[uid]) != significant_hash(after[uid])
    }
    assert changed == rehashed == {event_uid("voedselbank-aanmelden", item, DOMAIN)}


def test_significant_hash_ignores_stamp_and_sequence() -> None:
    plan = load_plan(ENGLISH)
    milestone = plan.milestone("kickoff")
    uid = event_uid(plan.id, "milestone/kickoff", DOMAIN)
    first = meeting_event(plan, milestone, STAMPING)
    again = meeting_event(plan, milestone, Stamping.of(SETTINGS, datetime.now(UTC), {uid: 7}))
    assert again["SEQUENCE"] == 7
    assert significant_hash(first) == significant_hash(again)


def test_significant_hash_sees_a_removed_exdate() -> None:
    plan = load_plan(DUTCH)
    series = series_of(plan, "chris")
    trimmed = Event.from_ical(series.to_ical())
    trimmed.pop("EXDATE")
    trimmed.add("exdate", exdates(series)[0])
    assert significant_hash(trimmed) != significant_hash(series)


# -- VTIMEZONEs read back -----------------------------------------------------------


def renamed(data: bytes, zone: str) -> tuple[bytes, str]:
    """The calendar with ``zone`` under a name no library knows, so only our VTIMEZONE counts."""
    private = f"Pactkeeper-Test/{uuid.uuid4().hex}"
    unfolded = re.sub(rb"\r\n[ \t]", b"", data)
    return unfolded.replace(zone.encode(), private.encode()), private


def meetings_plan(zone: str, *moments: str) -> Plan:
    data = minimal_data()
    data.update(timezone=zone, start="2027-01-04", end="2027-12-31")
    data["milestones"] = [
        {"id": f"m{n}", "title": f"Meeting {n}", "at": at, "duration": "1h"}
        for n, at in enumerate(moments)
    ]
    return plan_from(data)


@pytest.mark.parametrize(
    ("zone", "local", "utc"),
    [
        ("Europe/Amsterdam", "2027-01-15 09:00", "2027-01-15 08:00"),
        ("Europe/Amsterdam", "2027-03-26 09:00", "2027-03-26 08:00"),
        ("Europe/Amsterdam", "2027-03-29 09:00", "2027-03-29 07:00"),
        ("Europe/Amsterdam", "2027-07-15 09:00", "2027-07-15 07:00"),
        ("Europe/Amsterdam", "2027-11-01 09:00", "2027-11-01 08:00"),
        ("America/New_York", "2027-03-13 09:00", "2027-03-13 14:00"),
        ("America/New_York", "2027-03-15 09:00", "2027-03-15 13:00"),
        ("America/New_York", "2027-11-06 09:00", "2027-11-06 13:00"),
        ("America/New_York", "2027-11-08 09:00", "2027-11-08 14:00"),
    ],
)
def test_our_vtimezone_puts_a_meeting_at_the_right_instant(zone: str, local: str, utc: str) -> None:
    plan = meetings_plan(zone, local)
    data, private = renamed(build_calendar(plan, None, SETTINGS, STAMP), zone)
    calendar = Calendar.from_ical(data)
    [meeting] = recurring_ical_events.of(calendar).between(date(2027, 1, 1), date(2028, 1, 1))
    assert str(meeting["DTSTART"].params.get("TZID", private)) == private
    assert meeting["DTSTART"].dt.astimezone(UTC) == datetime.fromisoformat(utc).replace(tzinfo=UTC)


ZONES = [
    "Europe/Amsterdam",
    "America/New_York",
    "Europe/London",
    "Europe/Dublin",  # winter is the "negative DST" in tzdata
    "Australia/Sydney",  # southern hemisphere: daylight time spans the new year
    "Asia/Singapore",  # no DST
    "Africa/Casablanca",  # the rule moves with Ramadan: one component per change
]


def half_hours_of_2027() -> list[datetime]:
    start = datetime(2027, 1, 1)
    return [start + timedelta(minutes=30 * n) for n in range(365 * 48)]


def in_a_gap(wall: datetime, zone: ZoneInfo) -> bool:
    """A wall time the clock skips: readers differ on it, RFC 5545 events avoid it."""
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall


@pytest.mark.parametrize("zone", ZONES)
def test_our_vtimezone_agrees_with_zoneinfo_every_half_hour(zone: str) -> None:
    ours = vtimezone(zone, 2026, 2027).to_tz(lookup_tzid=False)
    reference = ZoneInfo(zone)
    wrong_from_utc = [
        wall
        for wall in half_hours_of_2027()
        if wall.replace(tzinfo=UTC).astimezone(ours).utcoffset()
        != wall.replace(tzinfo=UTC).astimezone(reference).utcoffset()
    ]
    wrong_wall_clock = [
        wall
        for wall in half_hours_of_2027()
        if not in_a_gap(wall, reference)
        and wall.replace(tzinfo=ours).utcoffset() != wall.replace(tzinfo=reference).utcoffset()
    ]
    assert wrong_from_utc == wrong_wall_clock == []


def test_a_zone_whose_rule_changes_gets_one_component_per_change_without_rrule() -> None:
    found = observances("Africa/Casablanca", 2026, 2027)
    assert len(found) >= 4
    assert all(item.byday is None for item in found)
    text = vtimezone("Africa/Casablanca", 2026, 2027).to_ical()
    assert b"RRULE" not in text and b"RDATE" not in text


@pytest.mark.parametrize(
    ("zone", "rules"),
    [
        ("Europe/Amsterdam", {(3, "-1SU"), (10, "-1SU")}),
        ("America/New_York", {(3, "2SU"), (11, "1SU")}),
        ("Australia/Sydney", {(4, "1SU"), (10, "1SU")}),
        ("Asia/Singapore", {(1, None)}),
    ],
)
def test_yearly_rules_are_derived_from_the_transitions(
    zone: str, rules: set[tuple[int, str | None]]
) -> None:
    found = {(item.first.onset.month, item.byday) for item in observances(zone, 2026, 2027)}
    assert found == rules


def test_calendar_of_wraps_single_events_with_their_zone() -> None:
    plan = load_plan(DUTCH)
    event = meeting_event(plan, plan.milestone("evaluatie"), STAMPING)
    calendar = calendar_of(plan, [event], method="CANCEL")
    assert str(calendar["METHOD"]) == "CANCEL"
    assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == ["Europe/Amsterdam"]
    deadline = calendar_of(plan, [deadline_event(plan, plan.milestone("ontwerp"), STAMPING)])
    assert deadline.walk("VTIMEZONE") == []


# -- text that is hard to serialise ---------------------------------------------------


def test_long_non_ascii_text_folds_between_characters_and_reads_back() -> None:
    data = minimal_data()
    title = "Overleg met de coördinatoren 🥕 " * 4 + "één, twee; drie\\vier"
    data["milestones"] = [
        {"id": "overleg", "title": title, "at": "2027-02-01 10:00", "location": title}
    ]
    calendar = build_calendar(plan_from(data), None, SETTINGS, STAMP)
    lines = calendar.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75
    assert all(line.decode("utf-8") for line in lines if line)  # no character cut in two
    [event] = Calendar.from_ical(calendar).walk("VEVENT")
    assert (str(event["SUMMARY"]), str(event["LOCATION"])) == (title, title)


def test_people_without_e_mail_are_no_attendee_but_still_get_the_event() -> None:
    data = minimal_data()
    data["people"].append({"id": "kim", "name": "Kim", "side": "team", "channels": ["slack"]})
    data["communication"]["channels"]["slack"] = {"webhook": "env:TEAM_SLACK_WEBHOOK"}
    data["milestones"] = [
        {"id": "intake", "title": "Intake", "at": "2027-02-01 10:00", "attendees": ["tim", "kim"]}
    ]
    plan = plan_from(data)
    [event] = events_for(plan, "kim", STAMPING)
    attendees = event["ATTENDEE"] if isinstance(event["ATTENDEE"], list) else [event["ATTENDEE"]]
    assert [str(a) for a in attendees] == ["mailto:tim@team.example"]
