"""Check-ins, misses, the escalation ladder and risk (docs/architecture §7), on an explicit clock.

Each scenario registers a small plan, then plays it forward: the engine's own
sweep and deliver run every item up to each answer and to the end, exactly as
``simulate`` does, and the answers go through ``record_checkin``. Expected
warning instants are worked out by hand and written in UTC. The plan starts on
Monday 4 January 2027; windows open Mondays at 09:00 (08:00Z in winter) and
close two days later. 2027 clock changes: EU on 28 March, US on 14 March.
The default ladder: 1 miss -> the person; 2 -> the person and the lead (Tim);
3 -> the lead and the partner contact (Pia), the dropout warning.
"""

from __future__ import annotations

import email
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from tests.engine import make_engine, moment, run_due, run_until
from tests.support import minimal_data, plan_from
from web.status import view
from worker.checkins.answers import CheckinError, mark_done, record_checkin
from worker.checkins.detection import close_windows
from worker.checkins.risk import Overdue, assess_person
from worker.checkins.standing import standing
from worker.checkins.windows import Window
from worker.engine import Delivery, Engine
from worker.plans.register import register
from worker.status import plan_status
from worker.store.base import Store
from worker.store.records import checkin_rows as collection

REGISTERED = "2027-01-01 00:00"


def plan_data(change: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    data = minimal_data()
    data["people"].append({"id": "tom", "name": "Tom", "side": "team", "email": "tom@t.example"})
    data["checkins"] = {
        "every": "weekly",
        "on": "monday",
        "at": "09:00",
        "grace": "2d",
        "who": ["tom"],
        "questions": ["What did you do this week?"],
    }
    if change is not None:
        change(data)
    return data


def utc(moment_: float) -> str:
    return datetime.fromtimestamp(moment_, UTC).strftime("%Y-%m-%d %H:%M")


@dataclass
class Played:
    engine: Engine
    deliveries: list[Delivery] = field(default_factory=list)

    def warnings(self) -> list[tuple[str, str, int]]:
        found = [
            (utc(d.at), str(d.item.recipient), int(d.item.data["level"]))
            for d in self.deliveries
            if d.item.kind == "warning" and d.state == "sent"
        ]
        return sorted(found)

    def states(self, person: str = "tom") -> dict[str, str]:
        plan = self.engine.plan("test-plan")
        now = max(d.at for d in self.deliveries) if self.deliveries else moment(REGISTERED)
        windows = standing(self.engine, plan, now).windows[person]
        return {w.day: w.state for w in windows}


def play(
    store: Store,
    tmp: Path,
    data: dict[str, Any],
    answers: list[tuple[str, str, str]],
    until: str,
    registered: str = REGISTERED,
) -> Played:
    """Run the engine from ``registered`` to ``until``, recording each answer at its time."""
    plan = plan_from(data)
    engine = make_engine(tmp, store)
    register(engine, plan, moment(registered))
    played = Played(engine)
    for person, at, status in sorted(answers, key=lambda a: moment(a[1])):
        played.deliveries += run_until(engine, moment(at) - 0.001)
        record_checkin(engine, plan, person, moment(at), status, source="test")
    played.deliveries += run_until(engine, moment(until))
    return played


def weekly_answers(person: str, first: str, last: str, clock: str = "10:00") -> list[Any]:
    day, end = date.fromisoformat(first), date.fromisoformat(last)
    found = []
    while day <= end:
        found.append((person, f"{day.isoformat()} {clock}", "on_track"))
        day += timedelta(days=7)
    return found


def pause(first: str, last: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["checkins"]["pauses"] = [{"from": first, "to": last, "reason": "Holiday"}]

    return change


def away(first: str, last: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["people"][2]["away"] = [{"from": first, "to": last}]

    return change


def fridays(grace: str = "3d", **extra: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["checkins"].update(on="friday", grace=grace, **extra)

    return change


def new_yorker(data: dict[str, Any]) -> None:
    data["people"].append(
        {
            "id": "nora",
            "name": "Nora",
            "side": "team",
            "email": "nora@t.example",
            "timezone": "America/New_York",
            "reachable": "mon-fri 09:00-17:00",
        }
    )
    data["people"][1]["reachable"] = "mon-fri 09:00-13:00"  # Tim, the lead, in Amsterdam
    data["checkins"]["who"] = ["nora"]


@dataclass(frozen=True)
class Case:
    name: str
    answers: list[tuple[str, str, str]]
    until: str
    warnings: list[tuple[str, str, int]]
    states: dict[str, str]
    change: Callable[[dict[str, Any]], None] | None = None
    person: str = "tom"


CASES = [
    Case(
        "never answered: silence from day one counts",
        answers=[],
        until="2027-01-28 00:00",
        warnings=[
            ("2027-01-06 08:00", "tom", 1),
            ("2027-01-13 08:00", "tim", 2),
            ("2027-01-13 08:00", "tom", 2),
            ("2027-01-20 08:00", "pia", 3),
            ("2027-01-20 08:00", "tim", 3),
        ],
        states={
            "2027-01-04": "missed",
            "2027-01-11": "missed",
            "2027-01-18": "missed",
            "2027-01-25": "missed",  # the fourth miss: the ladder has no fourth step
        },
    ),
    Case(
        "an answer in the last second of the grace period is on time",
        answers=[("tom", "2027-01-06 08:59:59", "on_track")],
        until="2027-01-07 00:00",
        warnings=[],
        states={"2027-01-04": "answered"},
    ),
    Case(
        "an answer after the close is late, and ends the streak",
        answers=[("tom", "2027-01-06 12:00", "on_track")],
        until="2027-01-21 00:00",
        warnings=[
            ("2027-01-06 08:00", "tom", 1),
            ("2027-01-13 08:00", "tom", 1),  # a new streak starts at level 1
            ("2027-01-20 08:00", "tim", 2),
            ("2027-01-20 08:00", "tom", 2),
        ],
        states={"2027-01-04": "late", "2027-01-11": "missed", "2027-01-18": "missed"},
    ),
    Case(
        "missed -> nudge -> lead -> dropout, once each",
        answers=weekly_answers("tom", "2027-01-04", "2027-01-11"),
        until="2027-02-11 00:00",
        warnings=[
            ("2027-01-20 08:00", "tom", 1),
            ("2027-01-27 08:00", "tim", 2),
            ("2027-01-27 08:00", "tom", 2),
            ("2027-02-03 08:00", "pia", 3),
            ("2027-02-03 08:00", "tim", 3),
        ],
        states={
            "2027-01-04": "answered",
            "2027-01-11": "answered",
            "2027-01-18": "missed",
            "2027-01-25": "missed",
            "2027-02-01": "missed",
            "2027-02-08": "missed",
        },
    ),
    Case(
        "an answer resets the ladder",
        answers=[("tom", "2027-01-18 10:00", "on_track")],
        until="2027-02-04 00:00",
        warnings=[
            ("2027-01-06 08:00", "tom", 1),
            ("2027-01-13 08:00", "tim", 2),
            ("2027-01-13 08:00", "tom", 2),
            ("2027-01-27 08:00", "tom", 1),
            ("2027-02-03 08:00", "tim", 2),
            ("2027-02-03 08:00", "tom", 2),
        ],
        states={"2027-01-18": "answered", "2027-01-25": "missed", "2027-02-01": "missed"},
    ),
    Case(
        "a pause excuses without resetting; resuming sends no backlog",
        change=pause("2027-01-18", "2027-01-22"),
        answers=[],
        until="2027-02-04 00:00",
        warnings=[
            ("2027-01-06 08:00", "tom", 1),
            ("2027-01-13 08:00", "tim", 2),
            ("2027-01-13 08:00", "tom", 2),
            ("2027-01-27 08:00", "pia", 3),
            ("2027-01-27 08:00", "tim", 3),
        ],
        states={"2027-01-11": "missed", "2027-01-18": "excused", "2027-01-25": "missed"},
    ),
    Case(
        "an away week excuses without resetting",
        change=away("2027-01-11", "2027-01-15"),
        answers=[],
        until="2027-01-28 00:00",
        warnings=[
            ("2027-01-06 08:00", "tom", 1),
            ("2027-01-20 08:00", "tim", 2),
            ("2027-01-20 08:00", "tom", 2),
            ("2027-01-27 08:00", "pia", 3),
            ("2027-01-27 08:00", "tim", 3),
        ],
        states={"2027-01-04": "missed", "2027-01-11": "excused", "2027-01-18": "missed"},
    ),
    Case(
        "a nudge to someone who is away waits until they are back",
        change=away("2027-01-06", "2027-01-08"),
        answers=[],
        until="2027-01-09 12:00",
        warnings=[("2027-01-08 23:00", "tom", 1)],  # Saturday 00:00 in Amsterdam
        states={"2027-01-04": "missed"},
    ),
    Case(
        "a warning that would land in a pause waits until the pause is over",
        change=fridays(pauses=[{"from": "2027-01-11", "to": "2027-01-15"}]),
        answers=[],
        until="2027-01-26 00:00",
        warnings=[
            ("2027-01-15 23:00", "tom", 1),  # closed Monday 11th, in the pause
            ("2027-01-25 08:00", "tim", 2),
            ("2027-01-25 08:00", "tom", 2),
        ],
        states={"2027-01-08": "missed", "2027-01-15": "excused", "2027-01-22": "missed"},
    ),
    Case(
        "stopping raises the dropout warning at once, to the lead and the contact",
        answers=[("tom", "2027-01-04 12:00", "stopping")],
        until="2027-01-07 00:00",
        warnings=[("2027-01-04 11:00", "pia", 3), ("2027-01-04 11:00", "tim", 3)],
        states={"2027-01-04": "answered"},
    ),
    Case(
        "DST week: a window from Friday in CET closes Monday 09:00 CEST (07:00Z)",
        change=fridays(),
        answers=weekly_answers("tom", "2027-01-08", "2027-03-19"),
        until="2027-03-30 00:00",
        warnings=[("2027-03-29 07:00", "tom", 1)],
        states={"2027-03-19": "answered", "2027-03-26": "missed"},
    ),
    Case(
        "DST week: an answer at 08:59 CEST on Monday is still inside the grace",
        change=fridays(),
        answers=[
            *weekly_answers("tom", "2027-01-08", "2027-03-19"),
            ("tom", "2027-03-29 08:59", "on_track"),
        ],
        until="2027-03-30 00:00",
        warnings=[],
        states={"2027-03-26": "answered"},
    ),
    Case(
        "New York: windows at 09:00 local across the US clock change; the lead's "
        "warning waits for his reachable hours in Amsterdam",
        change=new_yorker,
        person="nora",
        answers=weekly_answers("nora", "2027-01-04", "2027-03-01", "16:00"),  # 10:00 in NY
        until="2027-03-26 00:00",
        warnings=[
            ("2027-03-10 14:00", "nora", 1),  # Wednesday 09:00 EST
            ("2027-03-17 13:00", "nora", 2),  # Wednesday 09:00 EDT
            ("2027-03-18 08:00", "tim", 2),  # 14:00 CET is after Tim's hours: Thursday 09:00
            ("2027-03-24 13:00", "pia", 3),
            ("2027-03-25 08:00", "tim", 3),
        ],
        states={"2027-03-01": "answered", "2027-03-08": "missed", "2027-03-15": "missed"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_ladder_on_the_clock(case: Case, store: Store, tmp_path: Path) -> None:
    played = play(store, tmp_path, plan_data(case.change), case.answers, case.until)
    assert played.warnings() == case.warnings
    states = played.states(case.person)
    assert {day: states.get(day) for day in case.states} == case.states
    levels = [d.item.data for d in played.deliveries if d.item.kind == "warning"]
    last = max((d["level"] for d in levels), default=0)
    assert all(d["dropout"] == (d["level"] == 3) for d in levels)
    assert last <= 3


def test_pause_week_is_silent(store: Store, tmp_path: Path) -> None:
    played = play(store, tmp_path, plan_data(pause("2027-01-18", "2027-01-22")), [], "2027-02-04")
    start, end = moment("2027-01-18 00:00"), moment("2027-01-23 00:00")
    during = [d for d in played.deliveries if start <= d.at < end and d.state == "sent"]
    assert during == []


def test_warning_items_carry_what_the_log_needs(tmp_path: Path) -> None:
    played = play(SqliteFor(tmp_path), tmp_path, plan_data(), [], "2027-01-21 00:00")
    lead = next(
        d for d in played.deliveries if d.item.recipient == "tim" and d.item.kind == "warning"
    )
    data = lead.item.data
    assert lead.item.kind == "warning" and lead.item.origin == "engine"
    assert data["about"] == "tom" and data["level"] == 2 and data["dropout"] is False
    assert data["template"] == "lead_warning" and data["since"] == "2027-01-04"
    assert data["missed"] == ["2027-01-04", "2027-01-11"]
    assert lead.channel == "email"


def SqliteFor(tmp: Path) -> Store:
    from worker.store.sqlite import SqliteStore

    return SqliteStore(tmp / "one.sqlite3")


# -- answers -------------------------------------------------------------------------


@pytest.fixture
def engine(store: Store, tmp_path: Path) -> Engine:
    found = make_engine(tmp_path, store)
    register(found, plan_from(plan_data(with_deadline)), moment(REGISTERED))
    return found


def with_deadline(data: dict[str, Any]) -> None:
    data["milestones"] = [
        {"id": "design", "title": "Design *approved*", "due": "2027-01-12", "owner": "tom"},
        {"id": "launch", "title": "Launch", "due": "2027-03-01", "owner": "tom"},
    ]


def test_second_answer_to_a_window_changes_the_row_and_adds_none(engine: Engine) -> None:
    plan = engine.plan("test-plan")
    first = record_checkin(engine, plan, "tom", moment("2027-01-04 10:00"), "on_track", "fine")
    again = record_checkin(engine, plan, "tom", moment("2027-01-04 10:05"), "on_track", "fine")
    changed = record_checkin(engine, plan, "tom", moment("2027-01-05 10:00"), "need_help", "x")
    assert (first.outcome, again.outcome, changed.outcome) == ("recorded", "unchanged", "updated")
    rows = engine.store.records(collection("test-plan"))
    assert list(rows) == ["tom/2027-01-04"]
    row = rows["tom/2027-01-04"]
    assert row["status"] == "need_help" and row["note"] == "x"
    assert row["answered_at"] == moment("2027-01-04 10:00")  # when it first came in stays
    assert "recorded (on_track)" in first.summary()


def test_between_windows_an_answer_goes_to_the_last_window_as_late(engine: Engine) -> None:
    plan = engine.plan("test-plan")
    result = record_checkin(engine, plan, "tom", moment("2027-01-08 10:00"), "blocked")
    assert (result.window, result.state) == ("2027-01-04", "late")


@pytest.mark.parametrize(
    ("person", "status", "at", "message"),
    [
        ("tom", "fine", "2027-01-04 10:00", "'fine' is not a check-in status: use on_track"),
        ("nobody", "on_track", "2027-01-04 10:00", "there is no person 'nobody'"),
        ("pia", "on_track", "2027-01-04 10:00", "Pia does not check in"),
        ("tom", "on_track", "2027-01-03 10:00", "no check-in window has opened yet for Tom"),
    ],
)
def test_bad_checkins_say_why_and_change_nothing(
    engine: Engine, person: str, status: str, at: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        record_checkin(engine, engine.plan("test-plan"), person, moment(at), status)
    assert engine.store.records(collection("test-plan")) == {}


def test_unknown_milestone_is_refused(engine: Engine) -> None:
    with pytest.raises(CheckinError, match="no milestone 'nope'"):
        record_checkin(
            engine,
            engine.plan("test-plan"),
            "tom",
            moment("2027-01-04 10:00"),
            "on_track",
            done=["nope"],
        )


def test_done_milestones_are_marked_once(engine: Engine) -> None:
    plan = engine.plan("test-plan")
    result = record_checkin(
        engine, plan, "tom", moment("2027-01-04 10:00"), "on_track", done=["design"]
    )
    assert result.done == ("design",)
    assert mark_done(engine, plan, "design", moment("2027-01-05 10:00")) is False
    assert mark_done(engine, plan, "launch", moment("2027-01-05 10:00")) is True
    assert set(engine.store.records("done:test-plan")) == {"design", "launch"}


def test_stopping_twice_raises_the_dropout_warning_once(engine: Engine) -> None:
    plan = engine.plan("test-plan")
    first = record_checkin(engine, plan, "tom", moment("2027-01-04 10:00"), "stopping", "moving")
    again = record_checkin(engine, plan, "tom", moment("2027-01-04 11:00"), "stopping", "moving")
    assert (first.warnings, again.warnings) == (2, 0)
    warnings = [i for i in engine.store.items("test-plan") if i.kind == "warning"]
    assert sorted(str(i.recipient) for i in warnings) == ["pia", "tim"]
    assert all(i.data["dropout"] and i.data["trigger"] == "stopping" for i in warnings)


def test_asking_for_help_reaches_the_lead_and_blocked_also_the_contact(engine: Engine) -> None:
    plan = engine.plan("test-plan")
    asked = record_checkin(engine, plan, "tom", moment("2027-01-04 10:00"), "need_help", "access")
    again = record_checkin(engine, plan, "tom", moment("2027-01-04 11:00"), "need_help", "still")
    stuck = record_checkin(engine, plan, "tom", moment("2027-01-04 12:00"), "blocked", "no access")
    assert (asked.warnings, again.warnings, stuck.warnings) == (1, 0, 2)
    helps = [i for i in engine.store.items("test-plan") if i.data.get("template") == "help_request"]
    assert sorted((str(i.data["trigger"]), str(i.recipient)) for i in helps) == [
        ("blocked", "pia"),
        ("blocked", "tim"),
        ("need_help", "tim"),
    ]
    deliveries = [d for d in run_due(engine, moment("2027-01-04 12:30")) if d.state == "sent"]
    subjects = sorted(d.subject for d in deliveries if d.item.kind == "warning")
    assert subjects == [
        "Test plan: Tom asks for help",
        "Test plan: Tom is blocked",
        "Test plan: Tom is blocked",
    ]


def test_the_lead_asking_for_help_is_heard_by_the_partner_contact(tmp_path: Path) -> None:
    data = plan_data()
    data["checkins"]["who"] = ["tim"]
    data["language"] = "nl"
    engine = make_engine(tmp_path)
    plan = plan_from(data)
    register(engine, plan, moment(REGISTERED))
    result = record_checkin(engine, plan, "tim", moment("2027-01-04 10:00"), "need_help", "tijd")
    assert result.warnings == 1
    sent = [d for d in run_due(engine, moment("2027-01-04 10:30")) if d.item.kind == "warning"]
    assert [(d.item.recipient, d.subject) for d in sent] == [
        ("pia", "Test plan: Tim vraagt om hulp")
    ]


# -- overdue deadlines -------------------------------------------------------------------


def test_overdue_deadline_is_reminded_once_to_owner_and_lead(engine: Engine) -> None:
    plan = engine.plan("test-plan")
    for day in ("2027-01-04", "2027-01-11", "2027-01-18", "2027-01-25"):
        run_until(engine, moment(f"{day} 09:30"))
        record_checkin(engine, plan, "tom", moment(f"{day} 10:00"), "on_track")
    deliveries = run_until(engine, moment("2027-01-28 00:00"))
    items = [i for i in engine.store.items("test-plan") if i.kind == "overdue"]
    # Due Tuesday 12th, overdue from Wednesday 00:00; found when the window closes at 09:00.
    assert sorted((utc(i.due), str(i.recipient)) for i in items) == [
        ("2027-01-13 08:00", "tim"),
        ("2027-01-13 08:00", "tom"),
    ]
    assert all(i.state == "sent" and i.data["log_kind"] == "reminder" for i in items)
    assert not [d for d in deliveries if d.item.kind == "overdue"]  # nothing after the first
    risk = standing(engine, plan, moment("2027-01-28 00:00")).people["tom"]
    assert [(r.code, r.level) for r in risk.reasons] == [("overdue", "at_risk")]


def test_a_deadline_done_in_time_is_not_reminded(engine: Engine) -> None:
    plan = engine.plan("test-plan")
    run_until(engine, moment("2027-01-04 09:30"))
    record_checkin(engine, plan, "tom", moment("2027-01-04 10:00"), "on_track", done=["design"])
    run_until(engine, moment("2027-01-11 09:30"))
    record_checkin(engine, plan, "tom", moment("2027-01-11 10:00"), "on_track")
    run_until(engine, moment("2027-01-14 00:00"))
    assert [i for i in engine.store.items("test-plan") if i.kind == "overdue"] == []


# -- registered mid-way, and racing evaluations ---------------------------------------------


def test_windows_before_registration_are_untracked(store: Store, tmp_path: Path) -> None:
    played = play(
        store, tmp_path, plan_data(), [], "2027-01-28 00:00", registered="2027-01-20 12:00"
    )
    assert played.warnings() == [("2027-01-27 08:00", "tom", 1)]
    states = played.states()
    assert [states[d] for d in ("2027-01-04", "2027-01-11", "2027-01-18")] == ["untracked"] * 3
    assert states["2027-01-25"] == "missed"


def daily_at_1933(data: dict[str, Any]) -> None:
    data["checkins"] = {"every": "daily", "at": "19:33", "grace": "1d", "who": ["tom"]}


def test_a_window_whose_request_never_went_is_not_missed(store: Store, tmp_path: Path) -> None:
    """Registered at 19:31 the day after the start: the first window's request had expired at
    registration and never went, so its close two minutes later is no miss and starts no
    ladder; the ladder counts from the first request that reached Tom."""
    plan = plan_from(plan_data(daily_at_1933))
    engine = make_engine(tmp_path, store)
    register(engine, plan, moment("2027-01-05 19:31"))
    first = run_until(engine, moment("2027-01-05 19:40"))
    assert [d.item.kind for d in first if d.item.kind == "warning"] == []
    requests = [(d.item.ref, d.state) for d in first if d.item.kind == "checkin_open"]
    assert requests == [("2027-01-05", "sent")]
    now = moment("2027-01-05 19:40")
    windows = standing(engine, plan, now).windows["tom"]
    assert [(w.day, w.state) for w in windows] == [
        ("2027-01-04", "untracked"),
        ("2027-01-05", "pending"),
    ]
    report = plan_status(engine, plan.id, now)
    assert report["risk"]["level"] == "ok"
    assert [w["state"] for w in report["checkins"]["tom"]] == ["untracked", "pending"]
    (row,) = [r for r in view(engine, plan, now)["rows"] if r.person.id == "tom"]  # status page
    assert (row.risk.level, [w.state for week in row.weeks for w in week]) == (
        "ok",
        ["untracked", "pending"],
    )
    later = run_until(engine, moment("2027-01-06 19:40"))
    nudges = [d.item for d in later if d.item.kind == "warning"]
    assert [(utc(i.due), i.recipient, i.data["since"]) for i in nudges] == [
        ("2027-01-06 18:33", "tom", "2027-01-05")
    ]


def test_close_evaluated_again_and_out_of_order_raises_nothing_new(
    store: Store, tmp_path: Path
) -> None:
    """A reaped lease runs a close a second time; a backlog runs closes out of order."""
    plan = plan_from(plan_data())
    engine = make_engine(tmp_path, store)
    register(engine, plan, moment(REGISTERED))
    closes = sorted(
        (i for i in store.items(plan.id) if i.kind == "checkin_close"), key=lambda i: -i.due
    )[-3:]  # the first three closes, newest first
    now = moment("2027-01-21 00:00")
    for item in closes:
        close_windows(engine, [item], now)
    close_windows(engine, closes, now)
    warnings = [i for i in store.items(plan.id) if i.kind == "warning"]
    assert sorted((i.data["level"], str(i.recipient)) for i in warnings) == [
        (1, "tom"),
        (2, "tim"),
        (2, "tom"),
        (3, "pia"),
        (3, "tim"),
    ]
    assert {i.data["since"] for i in warnings} == {"2027-01-04"}


def test_racing_sweepers_raise_each_warning_once(redis_server: Any, tmp_path: Path) -> None:
    """Sweepers in threads, each with its own connection, over the same closed windows."""
    from worker.store.redis import RedisStore

    team = [
        {"id": f"m{n:02d}", "name": f"Member {n}", "side": "team", "email": f"m{n}@t.example"}
        for n in range(12)
    ]

    def big_team(data: dict[str, Any]) -> None:
        data["people"].extend(team)
        data["checkins"]["who"] = "team"

    plan = plan_from(plan_data(big_team))
    prefix = f"race{id(tmp_path)}:"
    first = RedisStore(redis_server.url, prefix=prefix)
    register(make_engine(tmp_path / "0", first), plan, moment(REGISTERED))
    now = moment("2027-01-21 00:00")  # three closes of 13 people are due at once
    closes = [i for i in first.items(plan.id) if i.kind == "checkin_close" and i.due <= now]
    barrier = threading.Barrier(4)
    sent: list[Delivery] = []
    lock = threading.Lock()

    def sweeper(number: int) -> None:
        engine = make_engine(tmp_path / str(number), RedisStore(redis_server.url, prefix=prefix))
        barrier.wait()
        if number == 0:  # one also re-evaluates every window, as a reaped lease would
            close_windows(engine, closes, now)
        for _ in range(12):
            done = [d for d in run_due(engine, now) if d.state == "sent"]
            with lock:
                sent.extend(done)
        engine.store.close()

    threads = [threading.Thread(target=sweeper, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    warnings = [i for i in first.items(plan.id) if i.kind == "warning"]
    # Fourteen silent people (Tim, Tom and twelve more): level 1 to each; level 2 to each and,
    # but for Tim's own silence, to Tim as lead; level 3 to Tim and Pia, or Pia alone for Tim.
    people = 14
    assert len(warnings) == people + (2 * people - 1) + (2 * people - 1)
    assert all(i.state == "sent" for i in warnings)
    keys = [d.item.key for d in sent if d.item.kind == "warning"]
    assert sorted(keys) == sorted({i.key for i in warnings})  # each sent exactly once
    first.flush()
    first.close()


# -- risk ------------------------------------------------------------------------------


def window(day: str, state: str, status: str | None = None, delay_hours: float = 1) -> Window:
    opens = moment(f"{day} 09:00")
    answered = opens + delay_hours * 3600 if state in ("answered", "late") else None
    return Window("tom", day, opens, opens + 2 * 86400, state, status, "", answered)


def weeks(*states: str) -> list[Window]:
    start = date(2027, 1, 4)
    return [
        window((start + timedelta(days=7 * n)).isoformat(), state) for n, state in enumerate(states)
    ]


RISKS = [
    ("all answered", weeks("answered", "answered"), "2027-01-13 12:00", "ok", []),
    ("one miss", weeks("answered", "missed"), "2027-01-13 12:00", "watch", ["streak"]),
    ("two in a row", weeks("missed", "missed"), "2027-01-13 12:00", "at_risk", ["streak"]),
    (
        "three in a row",
        weeks("missed", "missed", "missed"),
        "2027-01-20 12:00",
        "dropout",
        ["streak"],
    ),
    (
        "misses apart",
        weeks("missed", "answered", "missed", "answered"),
        "2027-01-27 12:00",
        "watch",
        ["recent"],
    ),
    (
        "late twice",
        weeks("late", "answered", "late", "answered"),
        "2027-01-27 12:00",
        "watch",
        ["late"],
    ),
    (
        "blocked",
        [window("2027-01-04", "answered", "blocked")],
        "2027-01-06 12:00",
        "at_risk",
        ["status"],
    ),
    (
        "help",
        [window("2027-01-04", "answered", "need_help")],
        "2027-01-06 12:00",
        "watch",
        ["status"],
    ),
    (
        "stopping",
        [window("2027-01-04", "answered", "stopping")],
        "2027-01-06 12:00",
        "dropout",
        ["status"],
    ),
    (
        "help then fine",
        [
            window("2027-01-04", "answered", "need_help"),
            window("2027-01-11", "answered", "on_track"),
        ],
        "2027-01-13 12:00",
        "ok",
        [],
    ),
    (
        "later each time",
        [
            window("2027-01-04", "answered", delay_hours=2),
            window("2027-01-11", "answered", delay_hours=20),
            window("2027-01-18", "answered", delay_hours=40),
        ],
        "2027-01-20 12:00",
        "watch",
        ["trend"],
    ),
    (
        "untracked and excused count for nothing",
        [window("2027-01-04", "untracked"), window("2027-01-11", "excused")],
        "2027-01-13 12:00",
        "ok",
        [],
    ),
    (
        "quiet for weeks with nothing tracked since",
        [
            window("2027-01-04", "answered"),
            window("2027-01-11", "untracked"),
            window("2027-01-18", "untracked"),
            window("2027-01-25", "untracked"),
        ],
        "2027-01-29 12:00",
        "at_risk",
        ["silence"],
    ),
]


@pytest.mark.parametrize(
    ("windows", "now", "level", "codes"),
    [case[1:] for case in RISKS],
    ids=[case[0] for case in RISKS],
)
def test_risk_levels_with_reasons(
    windows: list[Window], now: str, level: str, codes: list[str]
) -> None:
    plan = plan_from(plan_data())
    risk = assess_person(plan, plan.person("tom"), windows, [], moment(now))
    assert (risk.level, [r.code for r in risk.reasons]) == (level, codes)
    for reason in risk.reasons:
        assert reason.text("en").endswith(".") and reason.text("nl").endswith(".")


def test_risk_reason_sentences_in_both_languages() -> None:
    plan = plan_from(plan_data(with_deadline))
    overdue = [Overdue(plan.milestone("design"), date(2027, 1, 12), 9)]
    windows = weeks("answered", "missed", "missed")
    risk = assess_person(plan, plan.person("tom"), windows, overdue, moment("2027-01-21 12:00"))
    texts = {lang: [r.text(lang) for r in risk.reasons] for lang in ("en", "nl")}
    assert texts["en"] == [
        "2 check-ins in a row were missed, since 11 January.",
        "“Design *approved*” was due on 12 January and is not done yet (9 days overdue).",
    ]
    assert texts["nl"] == [
        "Er zijn 2 check-ins op rij gemist, sinds 11 januari.",
        "“Design *approved*” moest klaar zijn op 12 januari en is nog niet af (9 dagen te laat).",
    ]


def test_status_json_shows_risk_reasons_checkins_milestones_and_warnings(engine: Engine) -> None:
    run_until(engine, moment("2027-01-14 00:00"))
    report = plan_status(engine, "test-plan", moment("2027-01-14 00:00"))
    assert report["risk"]["level"] == "at_risk"
    assert [r["text"] for r in report["risk"]["reasons"]] == [
        "Tom: 2 check-ins in a row were missed, since 4 January.",
        "Tom: “Design *approved*” was due on 12 January and is not done yet (2 days overdue).",
    ]
    assert report["risk"]["people"]["tom"]["factors"]["consecutive_misses"] == 2
    assert [w["state"] for w in report["checkins"]["tom"]] == ["missed", "missed"]
    assert report["milestones"][0] == {
        "id": "design",
        "title": "Design *approved*",
        "kind": "deadline",
        "when": "2027-01-12",
        "owner": "tom",
        "done": None,
        "overdue_days": 2,
    }
    kinds = sorted((w["template"], w["recipient"]) for w in report["warnings"])
    assert ("lead_warning", "tim") in kinds and ("overdue", "tom") in kinds


# -- the messages ------------------------------------------------------------------------


def outbox_texts(engine: Engine) -> dict[str, str]:
    texts = {}
    for path in sorted((engine.settings.outbox_dir).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        assert body is not None
        texts[f"{message['Subject']}"] = body.get_content()
    return texts


@pytest.mark.parametrize("language", ["en", "nl"])
def test_warning_messages_say_why_and_link(language: str, tmp_path: Path) -> None:
    def dutch(data: dict[str, Any]) -> None:
        data["language"] = language
        with_deadline(data)

    played = play(SqliteFor(tmp_path), tmp_path, plan_data(dutch), [], "2027-01-21 00:00")
    texts = outbox_texts(played.engine)
    words = {
        "en": ("not heard from you", "has missed 2", "may drop out"),
        "nl": ("niets van je gehoord", "heeft 2 check-ins", "af te haken"),
    }
    nudge, lead, dropout = (
        next(text for subject, text in texts.items() if part in subject) for part in words[language]
    )
    streak = {"en": "2 check-ins in a row were missed", "nl": "Er zijn 2 check-ins op rij gemist"}
    assert streak[language] in nudge and "/checkin/" in nudge
    assert streak[language] in lead and "/status/test-plan/" in lead
    assert "Design \\*approved\\*" in dropout  # plan text cannot become Markdown
    overdue = {"en": "is overdue", "nl": "is over de deadline"}
    assert any(overdue[language] in subject for subject in texts)
