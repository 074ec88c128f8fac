"""The web app served by uvicorn on a free loopback port, started here and stopped by pid.

The server and the test share one store (a SQLite file, or a redis-server of
our own); the server's clock is set with ``PACTKEEPER_CLOCK_OFFSET`` so that it
stands in the plan's weeks (Tuesday 12 January 2027, noon in Amsterdam: Tom and
Tim missed the check-in of 4 January, and that of 11 January is open) and then
runs at normal speed.
``serve`` and the plan here are shared with the other ``test_web_*`` modules.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from config.plan import Plan
from config.settings import Settings
from tests.engine import moment, run_until
from tests.servers import RedisServer, free_port, wait_for_port, web_env
from tests.support import minimal_data, plan_from
from worker import tokens
from worker.checkins.answers import record_checkin
from worker.engine import Engine
from worker.plans.register import register
from worker.store.base import Store
from worker.store.records import checkin_rows as collection
from worker.store.sqlite import SqliteStore

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-signing-key"
NOW = "2027-01-12 12:00"


def web_plan(language: str = "en") -> Plan:
    data = minimal_data()
    data["language"] = language
    data["people"].append({"id": "tom", "name": "Tom", "side": "team", "email": "tom@t.example"})
    data["checkins"] = {
        "every": "weekly",
        "on": "monday",
        "grace": "2d",
        "who": ["tom", "tim"],
        "questions": ["What did you do this week?", "Is anything in your way?"],
    }
    data["milestones"] = [
        {"id": "design", "title": "Design approved", "due": "2027-01-12", "owner": "tom"},
        {"id": "launch", "title": "Launch", "due": "2027-03-01", "owner": "tom"},
    ]
    return plan_from(data)


@dataclass
class Served:
    base: str
    engine: Engine
    plan: Plan
    offset: float
    process: subprocess.Popen[bytes]
    log: Path

    def now(self) -> float:
        return time.time() + self.offset

    def checkin_token(self, person: str = "tom", plan: str | None = None, **extra: Any) -> str:
        fields = {"p": plan or self.plan.id, "u": person, "w": "2027-01-11"}
        expires = extra.pop("expires", self.now() + 7 * 86400)
        return tokens.sign(extra.pop("key", KEY).encode(), "checkin", fields, expires)

    def status_token(self, plan: str | None = None) -> str:
        return tokens.sign(KEY.encode(), "status", {"p": plan or self.plan.id}, None)

    def rows(self) -> dict[str, dict[str, Any]]:
        return self.engine.store.records(collection(self.plan.id))


def server_env(data_dir: Path, offset: float, redis_url: str | None, prefix: str) -> dict[str, str]:
    redis = {"redis_url": redis_url, "redis_prefix": prefix} if redis_url else {}
    return web_env(data_dir, offset, KEY, base_url="http://127.0.0.1", **redis)


@contextmanager
def serve(
    tmp: Path,
    plan: Plan,
    at: str = NOW,
    store: Store | None = None,
    redis_url: str | None = None,
    prefix: str = "pk:",
    answers: tuple[tuple[str, str, str], ...] = (),
) -> Iterator[Served]:
    """Register ``plan``, play it up to ``at`` with ``answers`` (person, local time, status),
    then start uvicorn with its clock there."""
    data_dir = tmp / "data"
    settings = Settings(
        data_dir=data_dir, redis_url=None, smtp_host=None, plans_dir=None, secret_key=KEY
    )
    engine = Engine(settings, store or SqliteStore(data_dir / "pactkeeper.sqlite3"), True)
    register(engine, plan, moment("2027-01-01 00:00"))
    for person, when, status in answers:
        run_until(engine, moment(when) - 0.001)
        record_checkin(engine, plan, person, moment(when), status, "", source="test")
    run_until(engine, moment(at))
    offset = moment(at) - time.time()
    port = free_port()
    log = tmp / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "web.app:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-access-log"]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            env=server_env(data_dir, offset, redis_url, prefix),
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, timeout=30)
        yield Served(f"http://127.0.0.1:{port}", engine, plan, offset, process, log)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        engine.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("web"), web_plan()) as found:
        yield found


def altered(token: str) -> str:
    """The same signature over a payload that names another person."""
    payload, _, signature = token.partition(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["f"]["u"] = "tim"
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + signature


def refused_links(served: Served) -> list[tuple[str, str, str, dict[str, str] | None, str]]:
    """(name, method, path, form, reason code) for every way a link can be wrong."""
    tom = served.checkin_token()
    return [
        ("forged", "GET", f"/checkin/{served.checkin_token(key='not-our-key')}", None, "invalid"),
        (
            "expired",
            "GET",
            f"/checkin/{served.checkin_token(expires=served.now() - 60)}",
            None,
            "expired",
        ),
        ("altered", "GET", f"/checkin/{altered(tom)}", None, "invalid"),
        ("incomplete", "GET", f"/checkin/{tom.partition('.')[0]}", None, "incomplete"),
        (
            "other person's",
            "POST",
            f"/checkin/{tom}",
            {"status": "on_track", "person": "tim"},
            "other_person",
        ),
        (
            "other plan's",
            "POST",
            f"/checkin/{tom}",
            {"status": "on_track", "plan": "other"},
            "other_plan",
        ),
        (
            "a plan not kept here",
            "GET",
            f"/checkin/{served.checkin_token(plan='other')}",
            None,
            "unknown_plan",
        ),
        (
            "someone who does not check in",
            "GET",
            f"/checkin/{served.checkin_token('pia')}",
            None,
            "not_checking",
        ),
        (
            "other plan's status link",
            "GET",
            f"/status/{served.plan.id}/{served.status_token('other')}",
            None,
            "other_plan",
        ),
        (
            "a check-in link as status link",
            "GET",
            f"/status/{served.plan.id}/{tom}",
            None,
            "wrong_page",
        ),
        ("not ASCII", "GET", "/checkin/%C3%A9t%C3%A9.x", None, "invalid"),
    ]


REFUSED = [
    "forged",
    "expired",
    "altered",
    "incomplete",
    "other person's",
    "other plan's",
    "a plan not kept here",
    "someone who does not check in",
    "other plan's status link",
    "a check-in link as status link",
    "not ASCII",
]


@pytest.mark.parametrize("name", REFUSED)
def test_wrong_links_are_refused_with_a_clear_page(served: Served, name: str) -> None:
    cases = {case[0]: case for case in refused_links(served)}
    assert list(cases) == REFUSED
    _, method, path, form, code = cases[name]
    before = served.rows()
    response = requests.request(method, served.base + path, data=form, timeout=10)
    assert response.status_code == 403, name
    assert response.headers["content-type"].startswith("text/html")
    assert f'data-code="{code}"' in response.text, name
    assert "This link does not work" in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    assert served.rows() == before  # nothing recorded


@pytest.mark.parametrize(
    ("name", "body", "code"),
    [
        ("forged", {"token": "eyJ4IjoxfQ.c2lnbmF0dXJl"}, "invalid"),
        ("other person", {"person": "tim"}, "other_person"),
        ("other plan", {"plan": "other"}, "other_plan"),
    ],
)
def test_api_refuses_with_a_clear_json_body(
    served: Served, name: str, body: dict[str, str], code: str
) -> None:
    request = {"token": served.checkin_token(), "status": "on_track", **body}
    response = requests.post(f"{served.base}/api/checkins", json=request, timeout=10)
    assert response.status_code == 403
    answer = response.json()
    assert (answer["error"], answer["code"]) == ("forbidden", code)
    assert answer["message"].endswith(".")


def test_expired_token_in_the_api(served: Served) -> None:
    token = served.checkin_token(expires=served.now() - 1)
    response = requests.post(
        f"{served.base}/api/checkins", json={"token": token, "status": "on_track"}, timeout=10
    )
    assert (response.status_code, response.json()["code"]) == (403, "expired")


# -- one answer, however often a link is used -------------------------------------------


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Served]:
    with serve(tmp_path, web_plan()) as found:
        yield found


def test_one_click_link_records_once_however_often_it_is_used(fresh: Served) -> None:
    link = f"{fresh.base}/checkin/{fresh.checkin_token()}"
    before = fresh.rows()
    assert set(before) == {"tim/2027-01-04", "tom/2027-01-04"}  # missed
    for _ in range(5):  # what a mail scanner does: open every link, more than once
        shown = requests.get(link, params={"status": "on_track"}, timeout=10)
        assert shown.status_code == 200 and 'id="confirm"' in shown.text
        assert 'class="status status-on_track chosen" autofocus' in shown.text
    assert fresh.rows() == before

    def post() -> requests.Response:
        return requests.post(link, data={"status": "on_track", "note": "all good"}, timeout=10)

    first = post()
    assert 'data-outcome="recorded"' in first.text
    results: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: results.append(post())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all('data-outcome="unchanged"' in r.text for r in results)
    api = requests.post(
        f"{fresh.base}/api/checkins",
        json={"token": fresh.checkin_token(), "status": "on_track", "note": "all good"},
        timeout=10,
    )
    assert api.json()["outcome"] == "unchanged"
    rows = fresh.rows()
    assert set(rows) == {*before, "tom/2027-01-11"}
    assert rows["tom/2027-01-11"]["revision"] == 0
    assert rows["tom/2027-01-11"]["state"] == "answered"
    assert rows["tom/2027-01-11"]["source"] == "web"


def test_form_answers_questions_and_ticks_milestones(fresh: Served) -> None:
    link = f"{fresh.base}/checkin/{fresh.checkin_token()}"
    form = requests.get(link, timeout=10).text
    assert "What did you do this week?" in form and "Is anything in your way?" in form
    assert 'name="done" value="design"' in form and 'name="done" value="launch"' in form
    answer = {
        "status": "need_help",
        "answer": ["Wrote the form", "Waiting for the logo"],
        "note": "<b>not bold</b>",
        "done": ["design"],
    }
    thanks = requests.post(link, data=answer, timeout=10)
    assert thanks.status_code == 200 and 'id="done"' in thanks.text
    assert "Design approved" in thanks.text
    row = fresh.rows()["tom/2027-01-11"]
    assert row["answers"] == [
        ["What did you do this week?", "Wrote the form"],
        ["Is anything in your way?", "Waiting for the logo"],
    ]
    assert row["state"] == "answered"  # the window closes tomorrow at 09:00
    assert fresh.engine.store.get_record("done:test-plan", "design") is not None
    again = requests.get(link, timeout=10).text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in again and "<b>not bold</b>" not in again
    assert 'value="design"' not in again  # done milestones are no longer offered


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"status": "fine"}, "Choose one of the four answers"),
        ({}, "Choose one of the four answers"),
        ({"status": "on_track", "done": "intake-that-is-not-mine"}, "is not one of yours"),
    ],
)
def test_bad_form_input_says_why_and_records_nothing(
    fresh: Served, form: dict[str, str], problem: str
) -> None:
    before = fresh.rows()
    response = requests.post(f"{fresh.base}/checkin/{fresh.checkin_token()}", data=form, timeout=10)
    assert response.status_code == 400
    assert 'id="problem"' in response.text and problem in response.text
    assert fresh.rows() == before


def test_stopping_through_the_form_warns_lead_and_contact_at_once(fresh: Served) -> None:
    link = f"{fresh.base}/checkin/{fresh.checkin_token()}"
    response = requests.post(link, data={"status": "stopping", "note": "new job"}, timeout=10)
    assert "partner's contact person have been told" in response.text
    warnings = [
        i
        for i in fresh.engine.store.items(fresh.plan.id)
        if i.kind == "warning" and i.data.get("trigger") == "stopping"
    ]
    assert sorted(str(i.recipient) for i in warnings) == ["pia", "tim"]
    assert all(i.data["dropout"] and i.due <= fresh.now() for i in warnings)


def test_pages_in_the_plans_language(tmp_path: Path) -> None:
    with serve(tmp_path, web_plan("nl")) as dutch:
        form = requests.get(f"{dutch.base}/checkin/{dutch.checkin_token()}", timeout=10).text
        assert 'lang="nl"' in form and "Ik heb hulp nodig" in form and "Hoi Tom" in form
        status = f"{dutch.base}/status/{dutch.plan.id}/{dutch.status_token()}"
        page = requests.get(status, timeout=10).text
        assert "Check-ins per week" in page and "Mijlpalen" in page
        assert "Tom: De check-in van 4 januari is gemist." in page
        refused = requests.post(
            f"{dutch.base}/checkin/{dutch.checkin_token()}", data={"person": "tim"}, timeout=10
        )
        assert refused.status_code == 403 and "Deze link is van iemand anders." in refused.text


def test_unknown_pages_and_methods(served: Served) -> None:
    page = requests.get(f"{served.base}/nothing-here", timeout=10)
    assert page.status_code == 404 and 'data-code="not_found"' in page.text
    api = requests.get(f"{served.base}/api/nothing-here", timeout=10)
    assert api.status_code == 404 and api.json()["error"] == "not_found"
    wrong = requests.put(f"{served.base}/api/checkins", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    assert wrong.headers["allow"] == "POST"


# -- health ------------------------------------------------------------------------------


def test_health_is_ok_with_the_embedded_store(served: Served) -> None:
    response = requests.get(f"{served.base}/health", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok", "store": "sqlite"})


def test_health_is_503_when_redis_is_down(tmp_path: Path) -> None:
    from worker.store.redis import RedisStore

    server = RedisServer(tmp_path / "redis").start()
    store = RedisStore(server.url, prefix="health:")
    try:
        with serve(tmp_path, web_plan(), store=store, redis_url=server.url, prefix="health:") as up:
            assert requests.get(f"{up.base}/health", timeout=10).json()["status"] == "ok"
            server.stop()
            started = time.monotonic()
            down = requests.get(f"{up.base}/health", timeout=30)
            assert down.status_code == 503
            assert down.json() == {"status": "unavailable", "store": "redis"}
            assert time.monotonic() - started < 10
            assert server.url not in up.log.read_text()  # no connection string in the log
    finally:
        server.stop()
