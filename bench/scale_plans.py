"""Generated plans for ``bench_scale``: a country's partnerships, and one Monday's burst.

``plan_data(n)`` is one varied partnership, the same for the same ``n``: its zone
(Amsterdam, London, New York, Jakarta, ...), 4 to 20 people (10 on average, so
10,000 plans hold 100,000 people), a weekly, biweekly or monthly check-in on its
own day and hour, 5 to 20 milestones, 3 to 12 months, and people on e-mail, Slack,
Telegram and SMS (those on SMS with a phone number and a consent day). Each plan is
dumped as plan YAML and read back through ``config.load``, so it holds the text the
store keeps and the workers parse again, as a registered plan file would.

``burst_data(n, url, monday)`` is a plan built for the Monday 09:00 burst: ten people
in one zone, weekly check-ins on Monday at 09:00 from that Monday on, each person
reached by the signed webhook at ``url`` (it sends the ledger key as
``Idempotency-Key``, so the sink can count every key once).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from config.load import load_text
from config.plan import Plan
from tests.support import dump, minimal_data

ZONES = [
    "Europe/Amsterdam",
    "Europe/Amsterdam",
    "Europe/Amsterdam",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "Asia/Jakarta",
    "Asia/Singapore",
    "Australia/Sydney",
]
# Mean 10: 10,000 plans hold 100,000 people.
SIZES = [4, 5, 6, 8, 10, 10, 12, 12, 13, 20]
RHYTHMS = ["weekly", "weekly", "weekly", "biweekly", "monthly"]
DAYS_EN = ["monday", "tuesday", "wednesday", "thursday", "friday"]
DAYS_NL = ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag"]
HOURS = ["09:00", "09:00", "09:30", "10:00", "13:00", "16:00"]
# Preference lists: each person's first channel, with e-mail as the fallback.
CHANNEL_MIXES = [["email"], ["slack", "email"], ["telegram", "email"], ["sms", "email"]]
FIRST_DAY = date(2027, 1, 4)
# The environment variables the generated plans name for their secrets.
SECRETS = {"BENCH_SLACK_HOOK": "https://hooks.slack.example/bench", "BENCH_TG_TOKEN": "1:bench"}


def plan_data(n: int) -> dict[str, Any]:
    """Plan number ``n`` as plain data; deterministic in ``n``."""
    pick = random.Random(n)
    language = "nl" if pick.random() < 0.6 else "en"
    zone = ZONES[n % len(ZONES)]
    start = FIRST_DAY + timedelta(days=pick.randrange(0, 120))
    end = start + timedelta(days=30 * pick.randint(3, 12))
    data = minimal_data()
    data.update(id=f"scale-{n:06d}", title=f"Partnership {n}", language=language)
    data.update(timezone=zone, start=str(start), end=str(end))
    data["people"] = _people(pick, SIZES[pick.randrange(len(SIZES))], zone, start)
    data["partner"]["contact"], data["team"]["lead"] = "p0", "p1"
    data["communication"] = _communication(pick)
    data["milestones"] = _milestones(pick, start, end, len(data["people"]))
    data["checkins"] = _checkins(pick, language)
    data["handover"] = {"at": f"{end - timedelta(days=2)}T14:00"}
    return data


def _people(pick: random.Random, size: int, zone: str, start: date) -> list[dict[str, Any]]:
    """``size`` people, alternating sides, some in another zone, on mixed channels."""
    people = []
    for k in range(size):
        channels = CHANNEL_MIXES[pick.randrange(len(CHANNEL_MIXES))]
        person: dict[str, Any] = {
            "id": f"p{k}",
            "name": f"Person {k}",
            "side": "partner" if k % 2 == 0 else "team",
            "email": f"p{k}@example.org",
            "channels": list(channels),
        }
        if "sms" in channels:
            person.update(phone=f"+3161{pick.randrange(10**7):07d}", consent=str(start))
        if pick.random() < 0.15:
            person["timezone"] = ZONES[pick.randrange(len(ZONES))]
        if pick.random() < 0.3:
            person["reachable"] = "Mon-Fri 09:00-17:00"
        people.append(person)
    return people


def _communication(pick: random.Random) -> dict[str, Any]:
    return {
        "remind_before": pick.choice([["7d", "1d"], ["1w", "1d", "2h"], ["2d"]]),
        "deadline_time": pick.choice(["09:00", "10:00", "12:00"]),
        "channels": {
            "email": {},
            "slack": {"webhook": "env:BENCH_SLACK_HOOK"},
            "telegram": {"token": "env:BENCH_TG_TOKEN", "chat_id": "-100123"},
            "sms": {"provider": "twilio"},
        },
    }


def _milestones(pick: random.Random, start: date, end: date, size: int) -> list[dict[str, Any]]:
    """5 to 20 milestones spread over the plan: meetings and deadlines in turn."""
    count = pick.randint(5, 20)
    span = (end - start).days - 4
    milestones = []
    for k in range(count):
        day = start + timedelta(days=2 + span * (k + 1) // (count + 1))
        if k % 2 == 0:
            moment = f"{day}T{pick.choice(['10:00', '14:00', '15:30'])}"
            fields: dict[str, Any] = {"at": moment, "duration": "1h"}
        else:
            fields = {"due": str(day), "owner": f"p{1 + 2 * pick.randrange(size // 2)}"}
        milestones.append({"id": f"m{k:02d}", "title": f"Milestone {k}", **fields})
    return milestones


def _checkins(pick: random.Random, language: str) -> dict[str, Any]:
    days = DAYS_NL if language == "nl" else DAYS_EN
    return {
        "every": pick.choice(RHYTHMS),
        "on": pick.choice(days),
        "at": pick.choice(HOURS),
        "grace": "2d",
        "who": pick.choice(["team", "everyone"]),
    }


def burst_data(n: int, url: str, monday: date, size: int = 10) -> dict[str, Any]:
    """A plan whose ``size`` people all check in at 09:00 Amsterdam on ``monday``.

    It starts that Monday, so nothing falls due before the burst; its kickoff is at
    17:00 that day (the deadline time), after the burst has drained."""
    data = minimal_data()
    data.update(id=f"burst-{n:05d}", title=f"Burst {n}", timezone="Europe/Amsterdam")
    data.update(start=str(monday), end=str(monday + timedelta(days=84)))
    data["people"] = [
        {
            "id": f"p{k}",
            "name": f"Person {k}",
            "side": "partner" if k % 2 == 0 else "team",
            "email": f"p{k}@example.org",
            "channels": ["webhook"],
        }
        for k in range(size)
    ]
    data["partner"]["contact"], data["team"]["lead"] = "p0", "p1"
    data["communication"] = {"deadline_time": "17:00", "channels": {"webhook": {"url": url}}}
    data["checkins"] = {"every": "weekly", "on": "monday", "at": "09:00", "who": "everyone"}
    return data


def load(data: dict[str, Any]) -> Plan:
    """Plain data as a plan, through the loader: the text is what a plan file holds."""
    return load_text(dump(data), f"<{data['id']}>")


def make_plans(count: int, first: int = 0) -> list[Plan]:
    return [load(plan_data(n)) for n in range(first, first + count)]
