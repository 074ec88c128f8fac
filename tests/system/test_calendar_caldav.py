"""CalDAV against a real Radicale on loopback, started here and stopped by pid.

Radicale runs with htpasswd authentication (so the password path is real) and
logs every request; the request counts below are read from its log, on the
server's side, not from our client.

- every event of the Dutch example round-trips: read back with icalendar,
  recurring-ical-events and vobject, field by field and occurrence by occurrence;
- a moved milestone is one PUT of one resource, SEQUENCE + 1; a removed one is one
  DELETE; nothing else on the server changes;
- a 09:00 Europe/Amsterdam meeting is found by a calendar-query at its exact UTC
  boundaries in summer (07:00Z) and in winter (08:00Z), after a restart of the
  server, so the server itself read our VTIMEZONE right;
- conflicts: an edit made on the server (412, or an ETag we did not write), a UID
  that lives in another resource (409), a lost answer, a server that is down, a
  wrong password.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import recurring_ical_events
import requests
import vobject
from icalendar import Calendar, Event

from config.load import load_plan, load_text
from config.plan import Plan
from connectors.calendar.caldav import CalendarCollection, event_in
from tests.calendar_lint import lint_calendar
from tests.engine import make_engine, moment, run_due, run_until
from tests.servers import free_port, wait_for_port
from tests.support import DUTCH, minimal_data, plan_from
from worker.calendar.events import Stamping, events_for
from worker.calendar.push import push, resources
from worker.engine import Engine
from worker.plans.register import register
from worker.store.records import caldav_resources as records_of

pytestmark = pytest.mark.system

USER, PASSWORD = "pactkeeper", "Radicale-pw-7"
_REQUEST = re.compile(r"\] (\w+) request for '([^']*)'")


class Radicale:
    """A Radicale of our own: htpasswd auth, a filesystem store, a log we can count."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.log = folder / "radicale.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Radicale:
        self.folder.mkdir(parents=True, exist_ok=True)
        users = self.folder / "users"
        users.write_text(f"{USER}:{PASSWORD}\n")
        command = [
            sys.executable,
            "-m",
            "radicale",
            "--config",
            "",
            f"--storage-filesystem-folder={self.folder / 'collections'}",
            f"--server-hosts=127.0.0.1:{self.port}",
            "--auth-type=htpasswd",
            f"--auth-htpasswd-filename={users}",
            "--auth-htpasswd-encryption=plain",
            "--logging-level=info",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout=20)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def calendar(self, name: str) -> str:
        """Make the collection /pactkeeper/<name>/ (MKCALENDAR) and return its URL."""
        auth = (USER, PASSWORD)
        home = requests.request("MKCOL", f"{self.base}/{USER}/", auth=auth, timeout=10)
        assert home.status_code in (201, 405), home.status_code  # 405: it exists
        url = f"{self.base}/{USER}/{name}/"
        made = requests.request("MKCALENDAR", url, auth=auth, timeout=10)
        assert made.status_code == 201, made.status_code
        return url

    def mark(self) -> int:
        return self.log.stat().st_size

    def requests_since(self, mark: int) -> list[tuple[str, str]]:
        """(method, path) of every request the server received after ``mark``."""
        with self.log.open("rb") as log:
            log.seek(mark)
            text = log.read().decode("utf-8", errors="replace")
        return [(m.group(1), m.group(2)) for m in _REQUEST.finditer(text)]

    def counts_since(self, mark: int) -> Counter[str]:
        return Counter(method for method, _ in self.requests_since(mark))


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[Radicale]:
    server = Radicale(tmp_path / "radicale").start()
    yield server
    server.stop()


def caldav_engine(tmp_path: Path, url: str, **settings: Any) -> Engine:
    return make_engine(
        tmp_path, caldav_url=url, caldav_user=USER, caldav_password=PASSWORD, **settings
    )


def collection_at(url: str) -> CalendarCollection:
    return CalendarCollection(url, (USER, PASSWORD))


def dutch(*edits: tuple[str, str]) -> Plan:
    """The Dutch example with text edits, as a coordinator would make them."""
    text = DUTCH.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return load_text(text, str(DUTCH), base=DUTCH.parent, path=DUTCH)


EVALUATIE = """  - id: evaluatie
    title: Evaluatie met het bestuur
    at: 2027-04-20 19:30
    duration: 1h
    attendees: [ana, dirk, bram]
    location: https://meet.example/voedselbank-evaluatie
"""


def synced(engine: Engine, plan: Plan, now: float) -> str:
    """Register the plan and run what is due; the detail of the CalDAV step."""
    register(engine, plan, now)
    steps = [d for d in run_due(engine, now) if d.item.kind == "caldav"]
    assert len(steps) == 1 and steps[0].state == "done", steps
    return steps[0].detail


# -- round trip -------------------------------------------------------------------------------


def instants(calendar: Calendar, start: datetime, end: datetime) -> dict[str, list[datetime]]:
    found: dict[str, list[datetime]] = {}
    for occurrence in recurring_ical_events.of(calendar).between(start, end):
        begins = occurrence.decoded("DTSTART")
        found.setdefault(str(occurrence["UID"]), []).append(
            begins.astimezone(UTC) if isinstance(begins, datetime) else begins
        )
    return {uid: sorted(times) for uid, times in found.items()}


def attendees(event: Event) -> set[str]:
    found = event.get("ATTENDEE", [])
    return {str(a).lower() for a in (found if isinstance(found, list) else [found])}


def exdates(event: Event) -> set[datetime]:
    found = event.get("EXDATE", [])
    lists = found if isinstance(found, list) else [found]
    return {one.dt.astimezone(UTC) for dates in lists for one in dates.dts}


def test_every_event_of_the_dutch_example_round_trips(tmp_path: Path, radicale: Radicale) -> None:
    url = radicale.calendar("voedselbank")
    engine = caldav_engine(tmp_path, url)
    plan, now = load_plan(DUTCH), moment("2027-01-04 12:00")
    mark = radicale.mark()
    detail = synced(engine, plan, now)

    ours = events_for(plan, None, Stamping.of(engine.settings, datetime.now(UTC)))
    assert len(ours) == 8  # 4 milestones, the handover, 3 check-in series
    assert "8 created" in detail
    assert radicale.counts_since(mark) == {"PROPFIND": 1, "PUT": 8}
    collection = collection_at(url)
    assert len(collection.etags()) == 8
    window = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC))
    for event in ours:
        uid = str(event["UID"])
        stored = collection.read(collection.href_of(uid))
        assert stored is not None and stored.etag
        theirs = event_in(stored.data, uid)
        assert theirs is not None, uid
        for name in ("SUMMARY", "LOCATION", "DESCRIPTION", "STATUS", "TRANSP", "RRULE"):
            assert theirs.get(name) == event.get(name), (event["SUMMARY"], name)
        for name in ("DTSTART", "DTEND", "DURATION"):
            if name in event:
                assert theirs.decoded(name) == event.decoded(name), (event["SUMMARY"], name)
                assert theirs[name].params.get("TZID") == event[name].params.get("TZID")
        assert int(theirs["SEQUENCE"]) == 0
        assert attendees(theirs) == attendees(event)
        assert str(theirs["ORGANIZER"]).lower() == str(event["ORGANIZER"]).lower()
        assert exdates(theirs) == exdates(event)
        triggers = [str(a["TRIGGER"].to_ical()) for a in theirs.walk("VALARM")]
        assert triggers == [str(a["TRIGGER"].to_ical()) for a in event.walk("VALARM")]
        # Occurrence by occurrence, as a client expands them (EXDATEs, zones, DST).
        server_copy = Calendar.from_ical(stored.data)
        ours_alone = Calendar.from_ical(
            next(r.body for r in resources(engine, plan, now) if r.uid == uid)
        )
        assert instants(server_copy, *window) == instants(ours_alone, *window)
        parsed = vobject.readOne(stored.data.decode("utf-8"))
        assert str(parsed.vevent.uid.value) == uid


def test_what_we_put_is_clean_and_schedules_nothing_on_the_server(tmp_path: Path) -> None:
    engine = caldav_engine(tmp_path, "http://127.0.0.1:9/unused/")
    plan, now = load_plan(DUTCH), moment("2027-01-04 12:00")
    register(engine, plan, now)
    bodies = [resource.body for resource in resources(engine, plan, now)]
    assert len(bodies) == 8
    for body in bodies:
        assert lint_calendar(body) == []
        text = body.decode("utf-8").replace("\r\n ", "")
        assert "METHOD:" not in text  # RFC 4791 §4.1
        for line in text.splitlines():
            if line.startswith(("ATTENDEE", "ORGANIZER")):
                assert "SCHEDULE-AGENT=CLIENT" in line, line


# -- changes ----------------------------------------------------------------------------------


def test_a_moved_milestone_is_one_put_and_a_removed_one_is_one_delete(
    tmp_path: Path, radicale: Radicale
) -> None:
    url = radicale.calendar("voedselbank")
    engine = caldav_engine(tmp_path, url)
    collection = collection_at(url)
    synced(engine, load_plan(DUTCH), moment("2027-01-04 12:00"))
    before = collection.etags()

    moved = dutch(("due: 2027-04-01", "due: 2027-04-08"))
    livegang = next(e for e in events_for(moved) if "Formulier live" in str(e["SUMMARY"]))
    href = collection.href_of(str(livegang["UID"]))
    mark = radicale.mark()
    detail = synced(engine, moved, moment("2027-01-05 12:00"))
    assert "1 updated" in detail and "7 unchanged" in detail
    assert radicale.requests_since(mark) == [("PROPFIND", f"/{USER}/voedselbank/"), ("PUT", href)]
    after = collection.etags()
    assert {h for h in after if after[h] != before.get(h)} == {href}
    stored = collection.read(href)
    assert stored is not None
    event = event_in(stored.data, str(livegang["UID"]))
    assert event is not None and int(event["SEQUENCE"]) == 1
    assert event.decoded("DTSTART") == datetime(2027, 4, 8).date()

    removed = dutch(("due: 2027-04-01", "due: 2027-04-08"), (EVALUATIE, ""))
    gone = collection.href_of(
        str(
            next(e for e in events_for(load_plan(DUTCH)) if "Evaluatie" in str(e["SUMMARY"]))["UID"]
        )
    )
    mark = radicale.mark()
    detail = synced(engine, removed, moment("2027-01-06 12:00"))
    assert "1 deleted" in detail
    assert radicale.requests_since(mark) == [
        ("PROPFIND", f"/{USER}/voedselbank/"),
        ("DELETE", gone),
    ]
    assert collection.read(gone) is None
    final = collection.etags()
    assert set(final) == set(after) - {gone}
    assert all(final[h] == after[h] for h in final)

    # The same plan again: one PROPFIND, no writes.
    mark = radicale.mark()
    detail = synced(engine, removed, moment("2027-01-07 12:00"))
    assert radicale.counts_since(mark) == {"PROPFIND": 1}
    assert "7 unchanged" in detail


# -- time zones, read by the server -----------------------------------------------------------


@pytest.fixture(scope="module")
def shared_radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale-zones")).start()
    yield server
    server.stop()


def meeting_plan(day: str) -> Plan:
    data = minimal_data()
    data["id"] = f"zones-{day}"
    data["end"] = "2027-08-31"
    data["milestones"] = [
        {"id": "meet", "title": "Sprint review", "at": f"{day} 09:00", "duration": "1h"}
    ]
    return plan_from(data)


@pytest.mark.parametrize(
    ("day", "utc_start"),
    [
        ("2027-07-05", datetime(2027, 7, 5, 7, tzinfo=UTC)),
        ("2027-01-18", datetime(2027, 1, 18, 8, tzinfo=UTC)),
    ],
    ids=["summer-CEST", "winter-CET"],
)
def test_a_0900_amsterdam_meeting_is_found_at_its_exact_utc_boundaries(
    tmp_path: Path, shared_radicale: Radicale, day: str, utc_start: datetime
) -> None:
    url = shared_radicale.calendar(f"zones-{day}")
    engine = caldav_engine(tmp_path, url)
    plan = meeting_plan(day)
    synced(engine, plan, moment("2027-01-04 12:00"))
    # A fresh server process: what it answers comes from what it stored and parsed.
    shared_radicale.restart()
    collection = collection_at(url)
    (uid,) = [str(e["UID"]) for e in events_for(plan)]
    end, second, hour = utc_start + timedelta(hours=1), timedelta(seconds=1), timedelta(hours=1)

    def found(start: datetime, stop: datetime) -> bool:
        return any(event_in(s.data, uid) is not None for s in collection.between(start, stop))

    assert not found(utc_start - hour, utc_start)  # ends exactly where the meeting begins
    assert found(utc_start, utc_start + second)  # its first second
    assert found(end - second, end)  # its last second
    assert not found(end, end + hour)  # begins exactly where it ends
    # Where a server reading 09:00 as UTC, or ignoring summer time, would have put it:
    assert not found(
        datetime.fromisoformat(f"{day}T09:00:00+00:00"),
        datetime.fromisoformat(f"{day}T09:00:01+00:00"),
    )


# -- conflicts --------------------------------------------------------------------------------


def edited(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new)


def test_an_edit_on_the_server_is_overwritten_and_a_lost_answer_is_adopted(
    tmp_path: Path, radicale: Radicale, caplog: pytest.LogCaptureFixture
) -> None:
    url = radicale.calendar("voedselbank")
    engine = caldav_engine(tmp_path, url)
    plan, collection = load_plan(DUTCH), collection_at(url)
    synced(engine, plan, moment("2027-01-04 12:00"))
    by_summary = {str(e["SUMMARY"]): str(e["UID"]) for e in events_for(plan)}
    intake = collection.href_of(by_summary["Intakegesprek"])
    ontwerp = collection.href_of(by_summary["Deadline: Ontwerp goedgekeurd"])
    # Someone renames the intake in their calendar app and deletes a deadline.
    stored = collection.read(intake)
    assert stored is not None and stored.etag
    changed = edited(stored.data, b"SUMMARY:Intakegesprek", b"SUMMARY:Intake (verzet?)")
    assert collection.put(intake, changed, stored.etag).done
    assert collection.delete(ontwerp, str(collection.etags()[ontwerp])).done

    with caplog.at_level(logging.WARNING, logger="pactkeeper.caldav"):
        result = push(engine, plan, moment("2027-01-05 12:00"))
    assert result.overwritten == ["milestone/intake"]
    assert result.created == ["milestone/ontwerp"]
    assert result.requests == {"PROPFIND": 1, "GET": 1, "PUT": 2}
    assert "was changed on the server; the plan's version replaces it" in caplog.text
    back = collection.read(intake)
    assert back is not None and b"SUMMARY:Intakegesprek" in back.data

    # Our PUT went through but its answer was lost: the ETag we keep is not the server's.
    uid = by_summary["Intakegesprek"]
    record = engine.store.get_record(records_of(plan.id), uid)
    assert record is not None
    engine.store.put_record(records_of(plan.id), uid, {**record, "etag": '"lost"'})
    result = push(engine, plan, moment("2027-01-05 13:00"))
    assert result.adopted == ["milestone/intake"] and result.writes == 0
    assert result.requests == {"PROPFIND": 1, "GET": 1}


class EditedMidway(CalendarCollection):
    """A collection in which someone edits a resource right after our PROPFIND."""

    def __init__(self, url: str, href: str) -> None:
        super().__init__(url, (USER, PASSWORD))
        self.target = href

    def etags(self) -> dict[str, str]:
        listing = super().etags()
        other = collection_at(self.url)
        stored = other.read(self.target)
        assert stored is not None and stored.etag
        other.put(
            self.target, edited(stored.data, b"STATUS:CONFIRMED", b"STATUS:TENTATIVE"), stored.etag
        )
        return listing


def test_412_on_a_put_rereads_and_the_plan_wins(tmp_path: Path, radicale: Radicale) -> None:
    url = radicale.calendar("voedselbank")
    engine = caldav_engine(tmp_path, url)
    synced(engine, load_plan(DUTCH), moment("2027-01-04 12:00"))
    moved = dutch(("due: 2027-04-01", "due: 2027-04-08"))
    register(engine, moved, moment("2027-01-05 12:00"))
    livegang = next(
        str(e["UID"]) for e in events_for(moved) if "Formulier live" in str(e["SUMMARY"])
    )
    collection = EditedMidway(url, collection_at(url).href_of(livegang))
    mark = radicale.mark()
    result = push(engine, moved, moment("2027-01-05 12:00"), collection)
    # Ours: PUT with the ETag we listed -> 412; GET; PUT with the ETag just read -> 204.
    assert collection.requests == {"PROPFIND": 1, "PUT": 2, "GET": 1}
    assert "Precondition failed on PUT" in radicale.log.read_text()
    # On the server, the editor's GET and PUT besides ours.
    assert radicale.counts_since(mark) == {"PROPFIND": 1, "GET": 2, "PUT": 3}
    assert result.overwritten == ["milestone/livegang"]
    stored = collection_at(url).read(collection.target)
    assert stored is not None
    event = event_in(stored.data, livegang)
    assert event is not None and str(event["STATUS"]) == "CONFIRMED"
    assert int(event["SEQUENCE"]) == 1


def test_409_the_uid_in_another_resource_is_updated_where_it_is(
    tmp_path: Path, radicale: Radicale
) -> None:
    url = radicale.calendar("voedselbank")
    engine = caldav_engine(tmp_path, url)
    plan, now = load_plan(DUTCH), moment("2027-01-04 12:00")
    register(engine, plan, now)
    intake = next(r for r in resources(engine, plan, now) if r.item == "milestone/intake")
    # Someone imported the invitation into this calendar under a name of their client's.
    foreign = f"/{USER}/voedselbank/imported-by-outlook.ics"
    collection = collection_at(url)
    assert collection.put(foreign, intake.body, None).done

    result = push(engine, plan, now)
    run_due(engine, now)  # the push queued by the registration: nothing left to do
    assert "milestone/intake" in result.adopted
    assert result.requests["REPORT"] == 1  # the UID looked up after the 409
    record = engine.store.get_record(records_of(plan.id), intake.uid)
    assert record is not None and record["href"] == foreign
    assert collection.href_of(intake.uid) not in collection.etags()

    # A later change of the intake is written where the event lives.
    moved = dutch(("at: 2027-01-11 10:00", "at: 2027-01-11 11:00"))
    mark = radicale.mark()
    synced(engine, moved, moment("2027-01-05 12:00"))
    assert radicale.requests_since(mark) == [
        ("PROPFIND", f"/{USER}/voedselbank/"),
        ("PUT", foreign),
    ]


def test_a_server_that_is_down_is_retried_later(tmp_path: Path, radicale: Radicale) -> None:
    url = radicale.calendar("voedselbank")
    engine = caldav_engine(tmp_path, url)
    plan, now = load_plan(DUTCH), moment("2027-01-04 12:00")
    radicale.stop()
    register(engine, plan, now)
    (step,) = [d for d in run_due(engine, now) if d.item.kind == "caldav"]
    assert "transient: CalDAV: cannot connect" in step.detail and "again at" in step.detail
    radicale.start()
    later = [d for d in run_until(engine, now + 120) if d.item.kind == "caldav"]
    assert [d.state for d in later] == ["done"] and "8 created" in later[0].detail


def test_a_wrong_password_is_permanent_and_never_shown(tmp_path: Path, radicale: Radicale) -> None:
    url = radicale.calendar("voedselbank")
    engine = make_engine(
        tmp_path, caldav_url=url, caldav_user=USER, caldav_password="Not-The-Password-42"
    )
    plan, now = load_plan(DUTCH), moment("2027-01-04 12:00")
    register(engine, plan, now)
    (step,) = [d for d in run_due(engine, now) if d.item.kind == "caldav"]
    assert "permanent: CalDAV: HTTP 401" in step.detail and "not retried" in step.detail
    assert "Not-The-Password-42" not in step.detail
    assert [i for i in engine.store.items(plan.id, ("due",)) if i.kind == "caldav"] == []
