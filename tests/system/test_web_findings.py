"""What a hostile or careless use of the check-in links found, against a real uvicorn.

The server runs on the clock of ``tests.system.test_web``: Tuesday 12 January 2027,
noon in Amsterdam. Tom missed the window of 4 January; that of 11 January is open.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.system.test_web import KEY, Served, serve, web_plan
from web.limits import BODY_LIMIT
from worker import tokens
from worker.checkins.answers import NOTE_LIMIT
from worker.handover.close import close_plan

pytestmark = pytest.mark.system


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Served]:
    with serve(tmp_path, web_plan()) as found:
        yield found


def link_for(served: Served, window: str, person: str = "tom") -> str:
    """A check-in token for one window, as the request for that window carries it."""
    fields = {"p": served.plan.id, "u": person, "w": window}
    return tokens.sign(KEY.encode(), "checkin", fields, served.now() + 7 * 86400)


def warnings(served: Served) -> list[str]:
    return sorted(i.key for i in served.engine.store.items(served.plan.id) if i.kind == "warning")


# -- #12: a link answers its own window ---------------------------------------------------


def test_a_checkin_link_answers_only_its_own_window(fresh: Served) -> None:
    last_week = link_for(fresh, "2027-01-04")
    api = requests.post(
        f"{fresh.base}/api/checkins",
        json={"token": last_week, "status": "blocked", "note": "this is about last week"},
        timeout=10,
    )
    assert api.status_code == 200, api.text
    assert (api.json()["window"], api.json()["state"]) == ("2027-01-04", "late")
    rows = fresh.rows()
    assert rows["tom/2027-01-04"]["state"] == "late"
    assert rows["tom/2027-01-04"]["note"] == "this is about last week"
    assert "tom/2027-01-11" not in rows  # this week's window is still open, unanswered

    one_click = requests.get(
        f"{fresh.base}/checkin/{last_week}", params={"status": "on_track"}, timeout=10
    )
    assert one_click.status_code == 200
    assert "4 January" in one_click.text and "11 January" not in one_click.text
    assert fresh.rows() == rows  # a GET records nothing

    form = requests.post(
        f"{fresh.base}/checkin/{last_week}", data={"status": "on_track"}, timeout=10
    )
    assert 'data-outcome="updated"' in form.text
    rows = fresh.rows()
    assert rows["tom/2027-01-04"]["status"] == "on_track"
    assert "tom/2027-01-11" not in rows


@pytest.mark.parametrize(
    ("window", "code"),
    [("2027-01-18", "no_window"), ("2027-01-05", "window_gone")],
    ids=["not opened yet", "no such window"],
)
def test_a_link_for_a_window_not_open_or_gone_records_nothing(
    fresh: Served, window: str, code: str
) -> None:
    token = link_for(fresh, window)
    before = fresh.rows()
    api = requests.post(
        f"{fresh.base}/api/checkins", json={"token": token, "status": "on_track"}, timeout=10
    )
    assert (api.status_code, api.json()["code"]) == (409, code)
    page = requests.get(f"{fresh.base}/checkin/{token}", timeout=10)
    assert page.status_code == 409 and f'data-code="{code}"' in page.text
    posted = requests.post(f"{fresh.base}/checkin/{token}", data={"status": "on_track"}, timeout=10)
    assert posted.status_code == 409
    assert fresh.rows() == before


# -- #15: nothing is recorded once the plan is closed -------------------------------------


@pytest.mark.parametrize(
    ("language", "title"),
    [("en", "This partnership has been closed"), ("nl", "Deze samenwerking is afgesloten")],
)
def test_after_the_close_checkins_are_refused_and_raise_no_warning(
    tmp_path: Path, language: str, title: str
) -> None:
    with serve(tmp_path, web_plan(language)) as served:
        close_plan(served.engine, served.plan, served.now())
        before, raised = served.rows(), warnings(served)
        token = served.checkin_token()
        page = requests.get(f"{served.base}/checkin/{token}", params={"status": "stopping"})
        assert page.status_code == 409
        assert title in page.text and 'data-code="closed"' in page.text
        form = requests.post(f"{served.base}/checkin/{token}", data={"status": "stopping"})
        assert form.status_code == 409 and title in form.text
        api = requests.post(
            f"{served.base}/api/checkins",
            json={"token": token, "status": "stopping", "note": "after close"},
            timeout=10,
        )
        assert api.status_code == 409
        assert api.json()["code"] == "closed"
        assert api.json()["message"] == (
            "This partnership has been closed: check-ins are no longer recorded."
        )
        assert served.rows() == before
        assert warnings(served) == raised


# -- #11: request bodies are capped before they are read ----------------------------------


def largest_checkin(token: str) -> bytes:
    """The largest body a valid check-in can have: every text at its limit, in emoji, which
    JSON writes as 12-byte surrogate escapes."""
    text = "\U0001f600" * NOTE_LIMIT
    body = {"token": token, "status": "on_track", "note": text, "answers": [text] * 50}
    body["done"] = ["design"]
    return json.dumps(body).encode()


def test_request_bodies_over_the_limit_are_refused_before_they_are_read(fresh: Served) -> None:
    token = fresh.checkin_token()
    largest = largest_checkin(token)
    assert len(largest) < BODY_LIMIT
    headers = {"content-type": "application/json"}
    url = f"{fresh.base}/api/checkins"
    accepted = requests.post(url, data=largest, headers=headers, timeout=30)
    assert accepted.status_code == 200, accepted.text[:200]

    too_large = json.dumps({"token": token, "status": "on_track", "note": "x" * BODY_LIMIT})
    announced = requests.post(url, data=too_large.encode(), headers=headers, timeout=30)
    assert announced.status_code == 413
    assert announced.json()["code"] == "too_large"
    assert announced.json()["message"] == "This request is larger than any check-in can be."

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"token": "' + token.encode() + b'", "status": "on_track", "note": "'
        for _ in range(BODY_LIMIT // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    chunked = requests.post(url, data=chunks(), headers=headers, timeout=30)
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413
    assert chunked.json()["code"] == "too_large"

    form = requests.post(
        f"{fresh.base}/checkin/{token}", data={"status": "on_track", "note": "x" * BODY_LIMIT}
    )
    assert form.status_code == 413 and 'data-code="too_large"' in form.text
    health = requests.get(f"{fresh.base}/health", timeout=10)
    assert health.status_code == 200  # the server is fine
