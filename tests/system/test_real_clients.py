"""Every calendar we produce, read by real clients' parsers: ical.js (Thunderbird) and
libical (Evolution), each expanding what it reads to instants compared with
``pactkeeper timeline --json``.

For both examples, a plan full of clock changes and one whose times fall in them, the
calendars as a user meets them:

- ``pactkeeper ics PLAN`` and ``ics PLAN --for PERSON`` for every person;
- the feeds (the plan's and each person's) as ``web.app`` serves them on loopback,
  before and after an edit of the plan;
- every calendar in the e-mails a real aiosmtpd received: invitations, the updates and
  cancellations the edit sends, the kickoff attachments;
- ``calendar.ics`` of the handover bundle.

Each event is found by its UID (the project's own UID of a milestone, the handover or
a person's check-in series). Every check-in occurrence must be a ``checkin_open`` of
that person in the timeline; a meeting or the handover starts at the timeline's moment
and ends its duration later; a deadline is the all-day date of its timeline moment.
libical's ``icalrestriction_check`` (the RFC 5546 rules per METHOD) runs on every
REQUEST, CANCEL and PUBLISH calendar.

The clients come from ``scripts/test-tools``; without them these tests fail and say so.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

from config.load import load_plan
from config.plan import Plan
from config.settings import Settings
from connectors.calendar.ics import event_uid
from tests.clients import Client, Reading
from tests.engine import make_engine, run_due, run_until
from tests.servers import free_port, wait_for_port
from tests.smtp_sink import start_smtp
from tests.support import DUTCH, ENGLISH
from tests.system.test_calendar_everywhere import calendars_in
from worker import timeline
from worker.engine import Engine
from worker.handover import close as handover
from worker.links import feed_url
from worker.plans.register import register
from worker.store.sqlite import SqliteStore

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-signing-key-for-real-clients"

# Clock changes in the plan's zone (Amsterdam: 28 March, 31 October 2027) and in the
# people's (New York: 14 March, 7 November; Sydney: 4 April, 3 October). Check-ins every
# Sunday, the day of every change, at 03:00: the first wall time after the spring gap.
# Meetings span the gap and the repeated hour, one lasts a day across a change,
# deadlines fall on change days. No time here is missing or ambiguous on the wall clock:
# those are in CLOCK_GAPS.
CLOCK_CHANGES = """\
version: 1
id: clock-changes
title: Clock changes
language: en
timezone: Europe/Amsterdam
start: 2027-03-01
end: 2027-11-30
partner: {name: Partner, contact: pia}
team: {name: Team, lead: tim}
people:
  - {id: pia, name: Pia, side: partner, email: pia@partner.example}
  - {id: tim, name: Tim, side: team, email: tim@team.example}
  - {id: una, name: Una, side: team, email: una@team.example, timezone: America/New_York}
  - {id: sol, name: Sol, side: team, email: sol@team.example, timezone: Australia/Sydney}
challenge: {need: Calendars that keep their times across clock changes}
goal: {end_result: Every client agrees, success_criteria: [No hour off]}
milestones:
  - {id: us-change, title: After the US change, at: "2027-03-15 14:00", duration: 90m,
     attendees: [pia, una]}
  - {id: spring-night, title: Across the spring gap, at: "2027-03-28 01:30", duration: 2h,
     attendees: [pia, tim, una, sol]}
  - {id: spring-day, title: A day across the change, at: "2027-03-27 12:00", duration: 1d,
     attendees: [pia, tim]}
  - {id: spring-due, title: Due on the spring change, due: 2027-03-28, owner: tim}
  - {id: sydney-due, title: Due on the Sydney change, due: 2027-04-04, owner: sol}
  - {id: autumn-night, title: Across the repeated hour, at: "2027-10-30 23:30", duration: 5h,
     attendees: [pia, tim, sol]}
  - {id: autumn-due, title: Due on the autumn change, due: 2027-10-31, owner: una}
communication:
  remind_before: [1d, 2h]
  deadline_time: "09:00"
  channels: {email: {}}
checkins:
  every: weekly
  on: sunday
  at: "03:00"
  who: team
handover:
  at: 2027-10-31 12:00
  duration: 1h
  recipients: [pia, tim, una]
"""

# Times that do fall in a clock change: a meeting starting in the spring gap (02:30 on
# 28 March does not exist in Amsterdam) and one lasting a day into it, meetings starting
# or ending in the repeated hour of 31 October, the handover starting in its first and
# ending in its second 02:30, and check-ins at 02:30 on Sundays, which is in a gap or a
# repeated hour in every zone here (New York's gap on 14 March is paused, Tim is away on
# the repeated 31 October). RFC 5545 and the timeline take the offset before the change.
CLOCK_GAPS = """\
version: 1
id: clock-gaps
title: Clock gaps
language: en
timezone: Europe/Amsterdam
start: 2027-03-01
end: 2027-11-30
partner: {name: Partner, contact: pia}
team: {name: Team, lead: tim}
people:
  - {id: pia, name: Pia, side: partner, email: pia@partner.example}
  - {id: tim, name: Tim, side: team, email: tim@team.example,
     away: [{from: 2027-10-30, to: 2027-10-31}]}
  - {id: una, name: Una, side: team, email: una@team.example, timezone: America/New_York}
  - {id: sol, name: Sol, side: team, email: sol@team.example, timezone: Australia/Sydney}
challenge: {need: Calendars that keep times that fall in a clock change}
goal: {end_result: Every client agrees, success_criteria: [No hour off]}
milestones:
  - {id: in-the-gap, title: Starts in the spring gap, at: "2027-03-28 02:30", duration: 1h,
     attendees: [pia, tim, una, sol]}
  - {id: day-into-the-gap, title: A day into the spring gap, at: "2027-03-27 02:30",
     duration: 1d, attendees: [pia, tim]}
  - {id: ends-repeated, title: Ends in the repeated hour, at: "2027-10-31 01:30", duration: 1h,
     attendees: [pia, tim]}
  - {id: in-repeated, title: Within the repeated hour, at: "2027-10-31 02:10", duration: 30m,
     attendees: [pia, sol]}
  - {id: day-into-repeated, title: A day into the repeated hour, at: "2027-10-30 02:30",
     duration: 1d, attendees: [pia, tim]}
  - {id: due-on-change, title: Due on the autumn change, due: 2027-10-31, owner: una}
communication:
  remind_before: [1d, 2h]
  deadline_time: "09:00"
  channels: {email: {}}
checkins:
  every: weekly
  on: sunday
  at: "02:30"
  who: team
  pauses: [{from: 2027-03-13, to: 2027-03-14}]
handover:
  at: 2027-10-31 02:30
  duration: 1h
  recipients: [pia, tim, una]
"""
SPRING_GAP = ("milestone/in-the-gap", "milestone/day-into-the-gap")
REPEATED_HOUR = (
    "milestone/ends-repeated",
    "milestone/in-repeated",
    "milestone/in-repeated-2",  # its new id after the edit
    "milestone/day-into-repeated",
    "handover",
)
SERIES_IN_A_CLOCK_CHANGE = ("checkins/tim", "checkins/una", "checkins/sol")

# A meeting moved and a meeting renamed (so cancelled, and a new one invited), made
# after the invitations and before the first meeting: updates and cancellations.
EDITS = {
    "voedselbank.yaml": [
        ("at: 2027-04-20 19:30", "at: 2027-04-20 20:00"),
        ("  - id: evaluatie\n", "  - id: evaluatie-nieuw\n"),
    ],
    "reading-club.yaml": [
        (
            '{id: kickoff, title: Kick-off, at: "2027-03-01 12:00"',
            '{id: kick-off, title: Kick-off, at: "2027-03-01 12:30"',
        ),
    ],
    "clock-changes.yaml": [
        ('at: "2027-03-28 01:30"', 'at: "2027-03-28 01:45"'),
        ("{id: us-change,", "{id: us-change-2,"),
    ],
    "clock-gaps.yaml": [
        ('at: "2027-03-28 02:30"', 'at: "2027-03-28 02:45"'),  # still in the gap
        ("{id: in-repeated,", "{id: in-repeated-2,"),
    ],
}
# Hours after the plan's first midnight: the invitations and kickoffs are out by then,
# and no meeting has begun (the English kick-off is at 12:00).
EDIT_AFTER_HOURS = 11


@dataclass(frozen=True)
class Expected:
    """What the timeline says one event is. Times as the clients write them."""

    kind: str  # "checkins", "meeting", "deadline"
    occurrences: tuple[str, ...]
    start: str
    end: str

    def instants(self) -> int:
        """How many instants one reading of this event is compared on."""
        return len(self.occurrences) + (0 if self.kind == "checkins" else 2)


@dataclass
class Produced:
    """One calendar file we produced, and what its events must be."""

    name: str
    path: Path
    expected: dict[str, Expected]
    whole: bool = False  # holds every event of the plan


@dataclass
class Corpus:
    plan: Plan
    calendars: list[Produced] = field(default_factory=list)
    readings: dict[str, dict[Path, Reading]] = field(default_factory=dict)

    def method(self, produced: Produced) -> str | None:
        return self.readings["libical"][produced.path].method


# -- what the timeline says ---------------------------------------------------------


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cli_env() -> dict[str, str]:
    """The environment of a ``pactkeeper`` command: none of the caller's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}


def timeline_items(path: Path) -> list[dict[str, str]]:
    command = [sys.executable, "-m", "worker.run.cli", "timeline", str(path), "--json"]
    done = subprocess.run(command, cwd=ROOT, env=cli_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    items = json.loads(done.stdout)
    assert isinstance(items, list)
    return items


def expected_events(path: Path, plan: Plan) -> dict[str, Expected]:
    """Every event of the plan by UID, from ``timeline --json`` and the plan's durations."""
    domain = Settings(redis_url=None).uid_domain
    found: dict[str, Expected] = {}
    checkins: dict[str, list[str]] = {}
    for item in timeline_items(path):
        at = datetime.fromisoformat(item["at"].replace("Z", "+00:00"))
        if item["kind"] == "checkin_open":
            checkins.setdefault(item["recipient"], []).append(utc(at))
        elif item["kind"] == "meeting":
            length = next(m.length for m in plan.milestones if m.id == item["ref"])
            end = length.after(at.astimezone(plan.zone))
            uid = event_uid(plan.id, f"milestone/{item['ref']}", domain)
            found[uid] = Expected("meeting", (utc(at),), utc(at), utc(end))
        elif item["kind"] == "handover":
            assert plan.handover is not None
            end = plan.handover.duration.after(at.astimezone(plan.zone))
            uid = event_uid(plan.id, "handover", domain)
            found[uid] = Expected("meeting", (utc(at),), utc(at), utc(end))
        elif item["kind"] == "deadline":
            # All day on the due date: the date of the deadline's moment in the plan's zone.
            day = date.fromisoformat(item["local"][:10])
            uid = event_uid(plan.id, f"milestone/{item['ref']}", domain)
            after = (day + timedelta(days=1)).isoformat()
            found[uid] = Expected("deadline", (day.isoformat(),), day.isoformat(), after)
    for person, ats in checkins.items():
        first = sorted(ats)
        uid = event_uid(plan.id, f"checkins/{person}", domain)
        found[uid] = Expected("checkins", tuple(first), first[0], first[0])
    return found


# -- producing the calendars --------------------------------------------------------


def plan_file(name: str, folder: Path) -> Path:
    written = {"clock-changes.yaml": CLOCK_CHANGES, "clock-gaps.yaml": CLOCK_GAPS}
    if name in written:
        path = folder / "plan" / name
        path.parent.mkdir()
        path.write_text(written[name], encoding="utf-8")
        return path
    # A copy of the example with its documents: the test edits its plan file in place.
    example = {"voedselbank.yaml": DUTCH, "reading-club.yaml": ENGLISH}[name]
    shutil.copytree(example.parent, folder / "plan", ignore=shutil.ignore_patterns("*.yaml"))
    path = folder / "plan" / name
    shutil.copyfile(example, path)
    return path


def edited_file(path: Path, folder: Path) -> Path:
    """The plan with its EDITS, in a folder of its own with the plan's documents."""
    text = path.read_text(encoding="utf-8")
    for old, new in EDITS[path.name]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    edited = folder / "edited" / path.name
    shutil.copytree(path.parent, edited.parent, ignore=shutil.ignore_patterns("*.yaml"))
    edited.write_text(text, encoding="utf-8")
    return edited


class Writer:
    """Keeps each calendar in a file of its own, for the clients to read."""

    def __init__(self, corpus: Corpus, folder: Path) -> None:
        self.corpus, self.folder = corpus, folder
        self.folder.mkdir(parents=True, exist_ok=True)

    def add(
        self, name: str, data: bytes, expected: dict[str, Expected], whole: bool = False
    ) -> None:
        path = self.folder / f"{len(self.corpus.calendars):03d}.ics"
        path.write_bytes(data)
        self.corpus.calendars.append(Produced(name, path, expected, whole))


def command_calendars(
    path: Path, plan: Plan, writer: Writer, expected: dict[str, Expected]
) -> None:
    for person in [None, *(p.id for p in plan.people)]:
        command = [sys.executable, "-m", "worker.run.cli", "ics", str(path)]
        command += ["--for", person] if person else []
        done = subprocess.run(command, cwd=ROOT, env=cli_env(), capture_output=True)
        assert done.returncode == 0, done.stderr[-2000:]
        writer.add(
            f"pactkeeper ics {path.name} {person or ''}", done.stdout, expected, person is None
        )


def feed_calendars(
    engine: Engine, plan: Plan, base: str, writer: Writer, expected: dict[str, Expected]
) -> None:
    for person in [None, *(p.id for p in plan.people)]:
        url = feed_url(engine.settings, plan.id, person)
        assert url.startswith(base)
        answer = requests.get(url, timeout=30)
        assert answer.status_code == 200, url
        writer.add(f"feed {plan.id} {person or ''}", answer.content, expected, person is None)


def mail_calendars(
    mails: list[EmailMessage], writer: Writer, expected: dict[str, Expected]
) -> None:
    for mail in mails:
        seen: set[bytes] = set()  # an invitation carries its calendar twice
        for name, data in calendars_in(mail):
            if data not in seen:
                seen.add(data)
                writer.add(f"mail {name}", data, expected)


def bundle_calendar(
    engine: Engine, plan: Plan, now: float, writer: Writer, expected: dict[str, Expected]
) -> None:
    bundle = handover.build_bundle(engine, plan, now)
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        (member,) = [n for n in archive.namelist() if n.endswith("data/calendar.ics")]
        writer.add(f"handover bundle {plan.id} {member}", archive.read(member), expected, True)


@dataclass
class WebApp:
    """``web.app`` under uvicorn on a free loopback port, over ``data_dir``'s store."""

    data_dir: Path
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebApp:
        env = cli_env()
        env.update(
            PACTKEEPER_DATA_DIR=str(self.data_dir),
            PACTKEEPER_SECRET_KEY=KEY,
            PACTKEEPER_BASE_URL=self.base,
            PYTHONPATH=str(ROOT),
        )
        command = [sys.executable, "-m", "uvicorn", "web.app:app", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--no-access-log"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, timeout=60)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


def produce(name: str, folder: Path) -> Corpus:
    """Every calendar of one plan, before and after its edit."""
    path = plan_file(name, folder)
    plan = load_plan(path)
    edited_path = edited_file(path, folder)
    changed = load_plan(edited_path)
    before = expected_events(path, plan)
    after = expected_events(edited_path, changed)
    corpus = Corpus(plan)
    writer = Writer(corpus, folder / "calendars")
    data_dir = folder / "data"
    smtp = start_smtp(folder / "smtp")
    web = WebApp(data_dir, folder / "uvicorn.log")
    try:
        web.start()
        engine = make_engine(
            folder,
            store=SqliteStore(data_dir / "pactkeeper.sqlite3"),
            data_dir=data_dir,
            secret_key=KEY,
            base_url=web.base,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_tls="none",
        )
        start = timeline.local_moment(plan.start, time(0), plan.zone).timestamp()
        register(engine, plan, start)
        run_until(engine, start + EDIT_AFTER_HOURS * 3600 - 60)
        command_calendars(path, plan, writer, before)
        feed_calendars(engine, plan, web.base, writer, before)
        mail_calendars(list(smtp.messages()), writer, before)
        sent = len(smtp.messages())
        edit_at = start + EDIT_AFTER_HOURS * 3600
        # The coordinator edits the registered file itself (another file with the same id
        # would be refused): the edited text goes over it.
        path.write_text(edited_path.read_text(encoding="utf-8"), encoding="utf-8")
        changed = load_plan(path)
        register(engine, changed, edit_at)
        run_due(engine, edit_at)
        feed_calendars(engine, changed, web.base, writer, after)
        # A cancellation is of an event the edit removed: the one the first version had.
        mail_calendars(list(smtp.messages()[sent:]), writer, {**before, **after})
        bundle_calendar(engine, changed, edit_at, writer, after)
        engine.close()
    finally:
        web.stop()
        smtp.stop()
    return corpus


# The tests of one plan (below: clock-gaps) ask for its corpus apart, and pytest would
# set it up again: each corpus is made once.
MADE: dict[str, Corpus] = {}


@pytest.fixture(
    scope="module",
    params=["voedselbank.yaml", "reading-club.yaml", "clock-changes.yaml", "clock-gaps.yaml"],
)
def corpus(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    calendar_clients: tuple[Client, Client],
) -> Iterator[Corpus]:
    name: str = request.param
    if name not in MADE:
        produced = produce(name, tmp_path_factory.mktemp(name.removesuffix(".yaml")))
        files = [c.path for c in produced.calendars]
        for client in calendar_clients:
            produced.readings[client.name] = {Path(r.file): r for r in client.read(files)}
        MADE[name] = produced
    yield MADE[name]


# -- the tests ----------------------------------------------------------------------


def compare(produced: Produced, reading: Reading) -> tuple[int, list[str]]:
    """(instants compared, what differs) for one client's reading of one calendar."""
    compared, problems = 0, [f"{e}" for e in reading.errors]
    uids = Counter(seen.uid for seen in reading.events)
    problems += [f"{uid}: {n} VEVENTs with this UID" for uid, n in uids.items() if n > 1]
    if produced.whole and set(uids) != set(produced.expected):
        problems.append(f"events {sorted(uids)} are not the plan's {sorted(produced.expected)}")
    for seen in reading.events:
        want = produced.expected.get(seen.uid)
        if want is None:
            problems.append(f"{seen.uid}: no such event in the timeline")
            continue
        compared += want.instants()
        if sorted(seen.occurrences) != list(want.occurrences):
            missing = sorted(set(want.occurrences) - set(seen.occurrences))
            extra = sorted(set(seen.occurrences) - set(want.occurrences))
            problems.append(f"{seen.uid} ({want.kind}): missing {missing}, extra {extra}")
        if want.kind != "checkins" and (seen.start, seen.end) != (want.start, want.end):
            problems.append(f"{seen.uid}: {seen.start}..{seen.end}, not {want.start}..{want.end}")
    return compared, [f"{produced.name}: {p}" for p in problems]


def test_ical_js_and_libical_read_every_calendar_as_the_timeline_says(corpus: Corpus) -> None:
    counts: dict[str, int] = {}
    problems: dict[str, list[str]] = {}
    for client, readings in corpus.readings.items():
        counts[client], problems[client] = 0, []
        for produced in corpus.calendars:
            compared, differs = compare(produced, readings[produced.path])
            counts[client] += compared
            problems[client] += differs
    assert not any(problems.values()), "\n".join(
        f"{client}: {problem}" for client, found in problems.items() for problem in found
    )
    # Both read the same events: every occurrence, start, end and date, compared.
    wanted = sum(
        produced.expected[seen.uid].instants()
        for produced in corpus.calendars
        for seen in corpus.readings["libical"][produced.path].events
    )
    assert set(counts) == {"ical.js", "libical"}
    assert wanted > 0 and counts == {"ical.js": wanted, "libical": wanted}


def test_every_kind_of_calendar_was_read(corpus: Corpus) -> None:
    """The corpus holds what a user meets: feeds, commands, invitations, cancellations,
    kickoff attachments, the bundle; and every event of the plan is in some calendar."""
    sources = Counter(produced.name.split(" ")[0] for produced in corpus.calendars)
    assert {"pactkeeper", "feed", "mail", "handover"} <= set(sources)
    methods = Counter(corpus.method(produced) for produced in corpus.calendars)
    assert {"PUBLISH", "REQUEST", "CANCEL"} <= set(methods), methods
    kinds = {e.kind for p in corpus.calendars for e in p.expected.values()}
    assert kinds == {"checkins", "meeting", "deadline"}


def restriction_errors(corpus: Corpus, methods: set[str]) -> tuple[int, dict[str, tuple[str, ...]]]:
    checked, failed = 0, {}
    for produced in corpus.calendars:
        reading = corpus.readings["libical"][produced.path]
        if reading.method in methods:
            checked += 1
            if reading.restriction_errors:
                failed[produced.name] = reading.restriction_errors
    return checked, failed


def listing(failed: dict[str, tuple[str, ...]]) -> str:
    return "\n".join(f"{name}: {error}" for name, errors in failed.items() for error in errors)


def test_invitations_and_cancellations_pass_libicals_itip_restrictions(corpus: Corpus) -> None:
    checked, failed = restriction_errors(corpus, {"REQUEST", "CANCEL"})
    assert checked > 0
    assert failed == {}, listing(failed)


def test_published_calendars_pass_libicals_itip_restrictions(corpus: Corpus) -> None:
    """RFC 5546 §3.2.1: a PUBLISH VEVENT has no ATTENDEE (finding F6)."""
    checked, failed = restriction_errors(corpus, {"PUBLISH"})
    assert checked > 0
    assert failed == {}, listing(failed)


# -- times in a clock change (the plan CLOCK_GAPS) ------------------------------------


def agreement(corpus: Corpus, items: tuple[str, ...]) -> tuple[Counter[str], list[str]]:
    """(readings per client and item, what differs from the timeline) for these items."""
    domain = Settings(redis_url=None).uid_domain
    uids = {event_uid(corpus.plan.id, item, domain): item for item in items}
    seen: Counter[str] = Counter()
    problems: list[str] = []
    for client, readings in corpus.readings.items():
        for produced in corpus.calendars:
            reading = readings[produced.path]
            events = tuple(event for event in reading.events if event.uid in uids)
            part = Produced(produced.name, produced.path, produced.expected)
            _, differs = compare(part, replace(reading, events=events))
            problems += [f"{client}: {problem}" for problem in differs]
            seen.update(f"{client} {uids[event.uid]}" for event in events)
    return seen, problems


def assert_every_client_agrees(corpus: Corpus, items: tuple[str, ...]) -> None:
    seen, problems = agreement(corpus, items)
    assert problems == [], "\n".join(problems)
    # The edit renames one meeting: each item is read in some calendar, before or after it.
    present = {name.split(" ", 1)[1] for name in seen}
    assert present == set(items), present
    assert {name.split(" ", 1)[0] for name in seen} == {"ical.js", "libical"}


GAPS = pytest.mark.parametrize("corpus", ["clock-gaps.yaml"], indirect=True)


@GAPS
def test_a_meeting_in_the_repeated_hour_reads_the_same_in_every_client(corpus: Corpus) -> None:
    """A start or end in the repeated hour (the handover starts in the first 02:30 and
    ends in the second) is read as the timeline's instant, not the second occurrence."""
    assert_every_client_agrees(corpus, REPEATED_HOUR)


@GAPS
def test_a_meeting_in_the_spring_gap_reads_the_same_in_every_client(corpus: Corpus) -> None:
    """A start at a wall time that does not exist is read with the offset before the gap."""
    assert_every_client_agrees(corpus, SPRING_GAP)


@GAPS
def test_a_checkin_series_in_a_clock_change_reads_the_same_in_every_client(
    corpus: Corpus,
) -> None:
    """Sundays at 02:30: a gap or a repeated hour in each person's zone, also on a paused
    or away day; every occurrence, and the weeks after, is the timeline's window."""
    assert_every_client_agrees(corpus, SERIES_IN_A_CLOCK_CHANGE)


def test_a_checkin_rule_that_passes_a_clock_change_it_leaves_out_reads_the_same_in_every_client(
    tmp_path: Path, calendar_clients: tuple[Client, Client]
) -> None:
    """The last Sunday of each month at 02:30: to find it, a client's iterator passes the
    first Sunday, which is Sydney's spring gap on 3 October (libical then read 31 October
    an hour late). Every ``pactkeeper ics`` calendar of the plan, read by both clients."""
    text = CLOCK_GAPS.replace(
        "  every: weekly\n  on: sunday\n", '  every: "FREQ=MONTHLY;BYDAY=SU;BYSETPOS=-1"\n'
    )
    assert text != CLOCK_GAPS
    path = tmp_path / "last-sundays.yaml"
    path.write_text(text, encoding="utf-8")
    plan = load_plan(path)
    corpus = Corpus(plan)
    command_calendars(
        path, plan, Writer(corpus, tmp_path / "calendars"), expected_events(path, plan)
    )
    files = [produced.path for produced in corpus.calendars]
    problems, compared = [], 0
    for client in calendar_clients:
        for produced, reading in zip(corpus.calendars, client.read(files), strict=True):
            counted, differs = compare(produced, reading)
            compared += counted
            problems += [f"{client.name}: {problem}" for problem in differs]
    assert problems == [], "\n".join(problems)
    series = {
        event_uid(plan.id, f"checkins/{p}", Settings(redis_url=None).uid_domain)
        for p in ("tim", "una", "sol")
    }
    assert series <= set(corpus.calendars[0].expected) and compared > 0
