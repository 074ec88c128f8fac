"""The subscribable feeds, served by uvicorn on a free loopback port (stopped by pid).

The app here is the smallest one around ``web.feeds.router`` (the lead includes the
router in ``web.app``); it shares a SQLite store with ``pactkeeper sync``, run as
a command, whose printed feed addresses are the ones fetched.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import recurring_ical_events
import requests
import vobject
from fastapi import FastAPI
from icalendar import Calendar

from config.load import load_plan
from config.settings import Settings
from tests.calendar_lint import lint_calendar
from tests.engine import moment
from tests.servers import free_port, wait_for_port
from tests.support import DUTCH, minimal_data, plan_from
from worker import tokens
from worker.calendar.events import events_for
from worker.engine import Engine
from worker.links import feed_url
from worker.plans.register import register
from worker.store.sqlite import SqliteStore

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-signing-key"


def feed_app() -> FastAPI:
    """The app uvicorn serves here (``--factory``): the feeds router and an engine."""
    from web import feeds

    app = FastAPI()
    app.state.engine = Engine(Settings())
    app.include_router(feeds.router)
    return app


@dataclass
class Served:
    base: str
    data_dir: Path
    env: dict[str, str]

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, secret_key=KEY, base_url=self.base, redis_url=None)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("feeds")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    env.update(
        PACTKEEPER_DATA_DIR=str(folder / "data"),
        PACTKEEPER_SECRET_KEY=KEY,
        PACTKEEPER_BASE_URL=base,
        PYTHONPATH=str(ROOT),
    )
    command = [sys.executable, "-m", "uvicorn", "tests.system.test_calendar_feeds:feed_app"]
    command += ["--factory", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    with (folder / "uvicorn.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30)
        yield Served(base, folder / "data", env)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


def sync(served: Served, plan_file: Path) -> dict[str, str]:
    """``pactkeeper sync``; the feed addresses it prints, by whom they are for.

    The plan is copied over one file beside the served data folder first: that file is
    edited in place, as a coordinator does (a second file with the same id is refused)."""
    served_plans = served.data_dir.parent / "plans"
    shutil.copytree(plan_file.parent, served_plans, dirs_exist_ok=True)
    shutil.copyfile(plan_file, served_plans / "plan.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "worker.run.cli", "sync", str(served_plans / "plan.yaml")],
        env=served.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(re.findall(r"^  feed of (.+): (\S+)$", result.stdout, re.MULTILINE))


def plan_copy(folder: Path, *edits: tuple[str, str]) -> Path:
    """The Dutch example, edited, with its documents beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(DUTCH.parent / "docs", folder / "docs", dirs_exist_ok=True)
    text = DUTCH.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path = folder / DUTCH.name
    path.write_text(text, encoding="utf-8")
    return path


def uids(data: bytes) -> set[str]:
    return {str(e["UID"]) for e in Calendar.from_ical(data).walk("VEVENT")}


def test_feeds_of_the_plan_and_of_each_person(served: Served, tmp_path: Path) -> None:
    addresses = sync(served, plan_copy(tmp_path / "v1"))
    plan = load_plan(DUTCH)
    assert set(addresses) == {"the whole plan"} | {p.name for p in plan.people}
    assert all(url.startswith(f"{served.base}/feeds/{plan.id}/") for url in addresses.values())

    whole = requests.get(addresses["the whole plan"], timeout=10)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "text/calendar; charset=utf-8"
    assert whole.headers["cache-control"] == "private, no-cache"
    assert lint_calendar(whole.content) == []
    calendar = Calendar.from_ical(whole.content)
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert uids(whole.content) == {str(e["UID"]) for e in events_for(plan)}
    assert recurring_ical_events.of(calendar).between((2027, 1, 1), (2027, 6, 1))
    assert vobject.readOne(whole.content.decode("utf-8")).vevent_list

    for person in plan.people:
        mine = requests.get(addresses[person.name], timeout=10)
        assert mine.status_code == 200 and lint_calendar(mine.content) == []
        assert uids(mine.content) == {str(e["UID"]) for e in events_for(plan, person.id)}
        assert mine.headers["etag"] != whole.headers["etag"]


def test_etag_and_304_until_the_plan_changes(served: Served, tmp_path: Path) -> None:
    url = sync(served, plan_copy(tmp_path / "v1"))["the whole plan"]
    first = requests.get(url, timeout=10)
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = requests.get(url, headers={"If-None-Match": header}, timeout=10)
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and head.headers["etag"] == etag
    assert requests.get(url, headers={"If-None-Match": '"other"'}, timeout=10).content == (
        first.content
    )

    sync(served, plan_copy(tmp_path / "v1"))  # the same plan again: the same feed
    assert requests.get(url, headers={"If-None-Match": etag}, timeout=10).status_code == 304

    sync(served, plan_copy(tmp_path / "v2", ("due: 2027-04-01", "due: 2027-04-08")))
    changed = requests.get(url, headers={"If-None-Match": etag}, timeout=10)
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    moved = [
        e
        for e in Calendar.from_ical(changed.content).walk("VEVENT")
        if "Formulier live" in str(e["SUMMARY"])
    ]
    assert int(moved[0]["SEQUENCE"]) == 1 and str(moved[0].decoded("DTSTART")) == "2027-04-08"


def test_every_wrong_token_is_the_same_404(served: Served, tmp_path: Path) -> None:
    addresses = sync(served, plan_copy(tmp_path / "v1"))
    plan_id = load_plan(DUTCH).id
    settings = served.settings()
    good = addresses["Ana de Vries"].rsplit("/", 1)[1].removesuffix(".ics")
    payload, _, signature = good.partition(".")
    other = tokens.sign(KEY.encode(), "feed", {"p": plan_id, "u": "bram"}).partition(".")[0]
    wrong = {
        "forged": tokens.sign(b"not-our-key", "feed", {"p": plan_id, "u": "ana"}),
        "altered": f"{other}.{signature}",
        "another use": tokens.sign(KEY.encode(), "checkin", {"p": plan_id, "u": "ana"}),
        "incomplete": payload,
        "garbage": "x" * 40,
        "overlong": "a" * 5000,
    }
    paths = {name: f"/feeds/{plan_id}/{token}.ics" for name, token in wrong.items()}
    # A valid token of a plan not kept here, and one used under another plan's name.
    paths["plan not kept"] = feed_url(settings, "ghost-plan").removeprefix(served.base)
    paths["other plan"] = f"/feeds/ghost-plan/{good}.ics"
    bodies = set()
    for name, path in paths.items():
        answer = requests.get(served.base + path, timeout=10)
        assert answer.status_code == 404, name
        assert "etag" not in answer.headers and plan_id not in answer.text, name
        bodies.add(answer.text)
    assert len(bodies) == 1  # nothing tells one refusal from another
    assert requests.get(addresses["Ana de Vries"], timeout=10).status_code == 200


def test_someone_taken_off_the_plan_gets_an_empty_calendar(served: Served) -> None:
    engine = Engine(served.settings(), SqliteStore(served.data_dir / "pactkeeper.sqlite3"))
    data = minimal_data()
    data["id"] = "feeds-leaving"
    data["people"].append({"id": "tom", "name": "Tom", "side": "team", "email": "tom@t.example"})
    data["milestones"] = [
        {"id": "kickoff-meeting", "title": "Kick-off", "at": "2027-02-01 10:00", "duration": "1h"}
    ]
    register(engine, plan_from(data), moment("2027-01-04 08:00"))
    url = feed_url(engine.settings, "feeds-leaving", "tom")
    assert len(uids(requests.get(url, timeout=10).content)) == 1
    data["people"] = data["people"][:2]
    register(engine, plan_from(data), moment("2027-01-05 08:00"))
    empty = requests.get(url, timeout=10)
    assert empty.status_code == 200 and lint_calendar(empty.content) == []
    assert uids(empty.content) == set()
    engine.close()


def test_f10_the_feed_of_a_person_taken_off_the_plan_is_still_a_valid_calendar(
    served: Served,
) -> None:
    engine = Engine(served.settings(), SqliteStore(served.data_dir / "pactkeeper.sqlite3"))
    data = minimal_data()
    data["id"] = "feeds-f10"
    data["people"].append({"id": "tom", "name": "Tom", "side": "team", "email": "tom@t.example"})
    data["milestones"] = [{"id": "m", "title": "Kick-off", "at": "2027-02-01 10:00"}]
    register(engine, plan_from(data), moment("2027-01-04 08:00"))
    data["people"] = data["people"][:2]
    register(engine, plan_from(data), moment("2027-01-05 08:00"))
    answer = requests.get(feed_url(engine.settings, "feeds-f10", "tom"), timeout=10)
    assert answer.status_code == 200
    calendar = Calendar.from_ical(answer.content)
    # RFC 5545 §3.6: at least one component; here the plan's time zone, and no event.
    assert [c.name for c in calendar.subcomponents] == ["VTIMEZONE"]
    assert str(calendar.subcomponents[0]["TZID"]) == "Europe/Amsterdam"
    assert lint_calendar(answer.content) == [] and uids(answer.content) == set()
    (parsed,) = vobject.readComponents(answer.content.decode("utf-8"))
    assert parsed.name == "VCALENDAR"
    engine.close()
