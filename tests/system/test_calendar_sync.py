"""Exactly what changed, and nothing else: a 50-event plan, a real aiosmtpd and Radicale.

The plan has 50 calendar events: 24 meetings, 24 deadlines, the handover meeting
and one check-in series. After the first sync:

- moving one meeting sends one update per attendee of that meeting (here three
  e-mails: one each to Pia, Tim and Tom, the meeting's attendees; none to anyone
  else), all with the meeting's UID and SEQUENCE 1, and makes one CalDAV PUT, of
  that meeting's resource;
- moving one deadline sends no e-mail (deadlines live in feeds and CalDAV) and
  makes one CalDAV PUT;
- syncing the unchanged plan sends nothing and writes nothing (one PROPFIND).

Request counts are read from Radicale's own log.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from tests.calendar_lint import lint_calendar
from tests.engine import make_engine, moment, run_due
from tests.smtp_sink import SmtpSink, start_smtp
from tests.support import minimal_data, plan_from
from tests.system.test_calendar_caldav import PASSWORD, USER, Radicale, collection_at
from worker.calendar.events import events_for
from worker.engine import Engine
from worker.plans.register import register

pytestmark = pytest.mark.system

MEETINGS = DEADLINES = 24
PEOPLE = ("pia", "tim", "tom", "tess")


def fifty() -> dict[str, Any]:
    data = minimal_data()
    data["people"] += [
        {"id": "tom", "name": "Tom", "side": "team", "email": "tom@t.example"},
        {"id": "tess", "name": "Tess", "side": "team", "email": "tess@t.example"},
    ]
    data["milestones"] = [
        {
            "id": f"meeting-{n:02d}",
            "title": f"Werksessie {n}",
            "at": f"2027-{2 + n // 6:02d}-{1 + (n % 6) * 4:02d} 10:00",
            "duration": "1h",
            # Three of the four people, a different one left out each time.
            "attendees": [p for i, p in enumerate(PEOPLE) if i != n % 4],
        }
        for n in range(MEETINGS)
    ] + [
        {
            "id": f"deadline-{n:02d}",
            "title": f"Oplevering {n}",
            "due": f"2027-{2 + n // 6:02d}-{2 + (n % 6) * 4:02d}",
            "owner": "tom",
        }
        for n in range(DEADLINES)
    ]
    data["checkins"] = {"every": "weekly", "on": "monday", "who": ["tess"]}
    data["handover"] = {"at": "2027-06-28 14:00", "duration": "1h"}
    return data


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[SmtpSink, Radicale]]:
    smtp = start_smtp(tmp_path / "smtp")
    radicale = Radicale(tmp_path / "radicale").start()
    yield smtp, radicale
    radicale.stop()
    smtp.stop()


def sync(engine: Engine, data: dict[str, Any], now: float) -> None:
    register(engine, plan_from(data), now)
    done = run_due(engine, now)
    assert all(d.state in ("sent", "done") for d in done), done


def test_one_change_in_a_50_event_plan_is_one_update_per_attendee_and_one_put(
    tmp_path: Path, servers: tuple[SmtpSink, Radicale]
) -> None:
    smtp, radicale = servers
    url = radicale.calendar("fifty")
    engine = make_engine(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="none",
        caldav_url=url,
        caldav_user=USER,
        caldav_password=PASSWORD,
    )
    data = fifty()
    plan = plan_from(data)
    assert len(events_for(plan)) == 50
    start = moment("2027-01-04 00:00")  # the plan's first moment: nothing else is due yet

    mark = radicale.mark()
    sync(engine, data, start)
    invitations = smtp.messages()
    assert len(invitations) == MEETINGS * 3 + 2  # three attendees each; handover: Pia and Tim
    assert radicale.counts_since(mark) == {"PROPFIND": 1, "PUT": 50}
    collection = collection_at(url)
    before = collection.etags()
    assert len(before) == 50

    mark = radicale.mark()
    sync(engine, data, start + 60)
    assert len(smtp.messages()) == len(invitations)
    assert radicale.counts_since(mark) == {"PROPFIND": 1}

    moved = copy.deepcopy(data)
    moved["milestones"][7]["at"] = "2027-03-05 11:30"  # meeting-07: Pia, Tim and Tom
    uid = str(events_for(plan_from(moved))[7]["UID"])
    mark = radicale.mark()
    sync(engine, moved, start + 120)
    updates = smtp.messages()[len(invitations) :]
    assert sorted(str(m["To"].addresses[0].addr_spec) for m in updates) == [
        "pia@partner.example",
        "tim@team.example",
        "tom@t.example",
    ]
    for mail in updates:
        part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
        data_bytes = part.get_payload(decode=True)
        assert isinstance(data_bytes, bytes) and lint_calendar(data_bytes) == []
        (event,) = Calendar.from_ical(data_bytes).walk("VEVENT")
        assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, 1)
        assert part.get_param("method") == "REQUEST"
    href = collection.href_of(uid)
    assert radicale.requests_since(mark) == [("PROPFIND", f"/{USER}/fifty/"), ("PUT", href)]
    after = collection.etags()
    assert {h for h in after if after[h] != before[h]} == {href}

    deadline = copy.deepcopy(moved)
    deadline["milestones"][MEETINGS + 3]["due"] = "2027-02-20"
    mark, sent = radicale.mark(), len(smtp.messages())
    sync(engine, deadline, start + 180)
    assert len(smtp.messages()) == sent  # deadlines are not e-mailed
    assert radicale.counts_since(mark) == {"PROPFIND": 1, "PUT": 1}

    mark = radicale.mark()
    sync(engine, deadline, start + 240)
    assert len(smtp.messages()) == sent
    assert radicale.counts_since(mark) == {"PROPFIND": 1}
