"""The status page, served by uvicorn, opened in headless Chromium: the DOM, not pixels.

Three weeks into the plan Tom has answered no check-in (the dropout level),
Tim answered each week, once asking for help, the "Design approved" deadline
has passed unfinished and one e-mail failed. The page must show the grid and
the risk with its reasons, load no script and log no JavaScript error. A
screenshot is kept in the test's folder for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, sync_playwright

from tests.engine import moment
from tests.system.test_web import serve, web_plan
from worker.store.base import Item

pytestmark = pytest.mark.system

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANSWERS = (
    ("tim", "2027-01-04 10:00", "on_track"),
    ("tim", "2027-01-11 10:00", "need_help"),
    ("tim", "2027-01-18 10:00", "on_track"),
)


def failed_email() -> Item:
    return Item(
        key="failed-email",
        plan_id="test-plan",
        kind="reminder",
        due=moment("2027-01-20 10:00"),
        ref="launch",
        recipient="pia",
        channel="email",
        origin="engine",
    )


def test_status_page_in_chromium(tmp_path: Path) -> None:
    with serve(tmp_path, web_plan(), "2027-01-21 12:00", answers=ANSWERS) as served:
        store = served.engine.store
        store.schedule([failed_email()])
        (claim,) = [
            c for c in store.claim(moment("2027-01-21 12:00"), 10, 60) if c.key == "failed-email"
        ]
        assert store.begin(claim, moment("2027-01-21 12:00"), 60) is not None
        store.finish(claim, "failed", moment("2027-01-21 12:00"), "550 5.1.1 mailbox unavailable")
        url = f"{served.base}/status/{served.plan.id}/{served.status_token()}"
        errors: list[str] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.on("console", lambda m: _console(m, errors))
                page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
                response = page.goto(url)
                assert response is not None and response.status == 200
                grid = page.locator("#checkins")
                assert grid.is_visible()
                assert page.locator("#checkins tbody tr").count() == 2
                tom = page.locator('#checkins tr[data-person="tom"]')
                assert tom.get_attribute("data-level") == "dropout"
                assert tom.locator('[data-state="missed"]').count() == 3
                tim = page.locator('#checkins tr[data-person="tim"]')
                assert tim.locator('[data-state="answered"]').count() == 3
                assert page.locator("#checkins thead th.week").count() == 3
                risk = page.locator("#risk")
                assert risk.is_visible() and risk.get_attribute("data-level") == "dropout"
                reasons = page.locator("#reasons li").all_inner_texts()
                assert "Tom: 3 check-ins in a row were missed, since 4 January." in reasons
                assert any("Design approved" in reason for reason in reasons)
                assert page.locator("#plan-level").inner_text() == "about to drop out"
                assert "550 5.1.1 mailbox unavailable" in page.locator("#failed").inner_text()
                assert page.locator("#warnings tbody tr").count() >= 5
                assert page.locator('#milestones tr[data-state="overdue"]').count() == 1
                assert page.locator("script").count() == 0
                page.screenshot(path=str(tmp_path / "status.png"), full_page=True)
            finally:
                browser.close()
        assert errors == []
        assert (tmp_path / "status.png").stat().st_size > 10_000


def _console(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(message.text)


def test_status_page_without_a_valid_link_is_refused_in_chromium(tmp_path: Path) -> None:
    with serve(tmp_path, web_plan()) as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            response = page.goto(f"{served.base}/status/{served.plan.id}/forged.token")
            assert response is not None and response.status == 403
            assert page.locator("h1").inner_text() == "This link does not work"
            assert page.locator("#reason").get_attribute("data-code") == "invalid"
        finally:
            browser.close()
