"""Quiet hours (docs/architecture.md §4): announcements move back, reactions move forward.

A person reachable 09:00-17:00: a reminder due at 22:00 goes at 17:00 that day; a
nudge due at 22:00 goes at 09:00 on the next reachable day. A team member in
Singapore gets both in Singapore hours. Checked on the deliveries the engine makes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.engine import make_engine, moment, registered, run_until
from tests.support import minimal_data, plan_from

SINGAPORE = ZoneInfo("Asia/Singapore")


def local(at: float, zone: str) -> str:
    return datetime.fromtimestamp(at, UTC).astimezone(ZoneInfo(zone)).strftime("%a %d %H:%M")


def plan_data() -> dict[str, Any]:
    data = minimal_data()
    data["start"] = "2027-03-01"  # a Monday
    data["people"][1]["reachable"] = "mon-fri 09:00-17:00"  # Tim, the lead, Amsterdam
    data["people"].append(
        {
            "id": "sia",
            "name": "Sia",
            "side": "team",
            "email": "sia@t.example",
            "timezone": "Asia/Singapore",
            "reachable": "mon-fri 09:00-17:00",
        }
    )
    data["milestones"] = [
        # 12h before Thursday 11 March 10:00 in Amsterdam is Wednesday 22:00 for Tim.
        {
            "id": "ams",
            "title": "Amsterdam meeting",
            "at": "2027-03-11 10:00",
            "duration": "1h",
            "attendees": ["tim"],
            "remind": ["12h"],
        },
        # 03:00 in Amsterdam is 10:00 in Singapore: 12h before is Wednesday 22:00 for Sia.
        {
            "id": "sgp",
            "title": "Singapore meeting",
            "at": "2027-03-11 03:00",
            "duration": "1h",
            "attendees": ["sia"],
            "remind": ["12h"],
        },
    ]
    # Windows open on Tuesdays at 22:00 (each in their own zone), close a day later at 22:00.
    data["checkins"] = {
        "every": "weekly",
        "on": "tuesday",
        "at": "22:00",
        "grace": "1d",
        "who": ["tim", "sia"],
        "escalate": [{"after": 1, "notify": ["self"]}],
    }
    return data


def test_reminders_move_back_and_nudges_move_forward(tmp_path: Path) -> None:
    plan = plan_from(plan_data())
    engine = registered(make_engine(tmp_path), plan, moment("2027-03-01 00:00"))
    deliveries = run_until(engine, moment("2027-03-12 00:00"))
    sent = [d for d in deliveries if d.state == "sent"]
    reminders = {d.item.recipient: d.at for d in sent if d.item.kind == "reminder"}
    assert local(reminders["tim"], "Europe/Amsterdam") == "Wed 10 17:00"
    assert local(reminders["sia"], "Asia/Singapore") == "Wed 10 17:00"
    # Nobody answers: the first window (Tuesday 2 March) closes Wednesday 3 March at 22:00;
    # the nudge waits for the next reachable moment, Thursday 09:00, in each one's zone.
    nudges = {d.item.recipient: d.at for d in sent if d.item.kind == "warning"}
    assert local(nudges["tim"], "Europe/Amsterdam") == "Thu 04 09:00"
    assert local(nudges["sia"], "Asia/Singapore") == "Thu 04 09:00"
