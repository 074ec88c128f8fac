"""The privacy notice behind its secret link, served by uvicorn, opened in headless Chromium.

The two example plans are registered and served: the Dutch one (voedselbank) and the
English one (reading-club). Each notice must be in the plan's language whatever the
browser asks for, name who is responsible and whom to write to, give the day the data is
erased, list only the channels and the kinds of data the plan really uses, load no
script and log no JavaScript error. A forged link, another plan's link, a link of another
page and one for a plan not kept here are refused with the clear page every link has;
so is the link a while after the plan's data was erased.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from config.load import load_plan
from config.settings import Settings
from tests.support import DUTCH, ENGLISH, minimal_data, plan_from
from tests.system.test_web import KEY, Served, serve
from tests.system.test_web_status import ARGS, CHROMIUM
from worker import links, tokens
from worker.kickoff.privacy import LINK_DAYS_AFTER, erased_on

pytestmark = pytest.mark.system

BEFORE_START = "2027-01-05 12:00"  # registered, nothing sent yet


@dataclass(frozen=True)
class Expected:
    lang: str
    heading: str
    controller: str
    contact: str
    keep_date: str  # the day of erasure as the page writes it
    channels: str  # data-channels: the channels someone in the plan is reached on
    services: list[str]
    kept: set[str]


EXPECTED = {
    "nl": Expected(
        lang="nl",
        heading="Privacyverklaring: Online aanmelden voor vrijwilligers",
        controller="Voedselbank Utrecht",
        contact="Ana de Vries (ana@voedselbank.example)",
        keep_date="30 april 2028",
        channels="email sms whatsapp slack telegram",  # not the webhook: nobody is on it
        services=["email", "sms", "whatsapp", "slack", "telegram"],
        kept={"names", "emails", "phones", "reachable", "zones", "away", "checkins"}
        | {"replies", "calendar", "consent", "deliveries"},
    ),
    "en": Expected(
        lang="en",
        heading="Privacy notice: Reading buddies for year-4 pupils",
        controller="Read Together",
        contact="Maya Patel (maya@readtogether.example)",
        keep_date="30 June 2028",
        channels="email sms teams mattermost",  # not Apprise: nobody is on it
        services=["email", "sms", "teams", "mattermost"],
        kept={"names", "emails", "phones", "reachable", "zones", "away", "checkins"}
        | {"replies", "calendar", "consent", "deliveries"},
    ),
}
PLANS = {"nl": DUTCH, "en": ENGLISH}


@pytest.fixture(scope="module", params=["nl", "en"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    lang = str(request.param)
    with serve(
        tmp_path_factory.mktemp(f"privacy-{lang}"), load_plan(PLANS[lang]), BEFORE_START
    ) as found:
        yield found


def _url(served: Served) -> str:
    made = links.privacy_link(served.engine.settings, served.plan)
    return served.base + made.removeprefix(served.engine.settings.base_url.rstrip("/"))


def _console(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(message.text)


def _open(url: str, browser_language: str, check: Callable[[Page, Any], None]) -> list[str]:
    """Open ``url`` in Chromium preferring ``browser_language``; the JavaScript errors seen."""
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(locale=browser_language)
            page = context.new_page()
            page.on("console", lambda m: _console(m, errors))
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            check(page, page.goto(url))
        finally:
            browser.close()
    return errors


def test_the_privacy_notice_in_the_plans_language_in_chromium(
    served: Served, tmp_path: Path
) -> None:
    expected = EXPECTED[served.plan.language]
    other = "en-GB" if expected.lang == "nl" else "nl-NL"  # the browser asks for the other

    def check(page: Page, response: Any) -> None:
        assert response is not None and response.status == 200
        assert page.locator("html").get_attribute("lang") == expected.lang
        assert page.locator("h1").inner_text() == expected.heading
        assert page.locator("#controller").inner_text() == expected.controller
        assert page.locator("#responsible .contact").inner_text() == expected.contact
        assert page.locator("#keep-date").inner_text() == expected.keep_date
        assert page.locator("#channels-used").get_attribute("data-channels") == expected.channels
        services = page.locator("#services li").evaluate_all(
            "items => items.map(item => item.dataset.channel)"
        )
        assert services == expected.services
        kept = page.locator("#kept-list li").evaluate_all(
            "items => items.map(item => item.dataset.kind)"
        )
        assert set(kept) == expected.kept
        assert page.locator("#consent").is_visible()
        assert page.locator("script").count() == 0
        page.screenshot(path=str(tmp_path / f"privacy-{expected.lang}.png"), full_page=True)

    errors = _open(_url(served), other, check)
    assert errors == []
    assert (tmp_path / f"privacy-{expected.lang}.png").stat().st_size > 10_000


def test_the_notice_goes_out_with_the_headers_of_every_page(served: Served) -> None:
    answer = requests.get(_url(served), timeout=10)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert "<script" not in answer.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("forged", "invalid"),
        ("other plan's", "other_plan"),
        ("a runbook link", "wrong_page"),
        ("a plan not kept here", "unknown_plan"),
    ],
)
def test_a_wrong_privacy_link_is_refused_in_chromium(
    served: Served, name: str, reason: str
) -> None:
    plan = served.plan.id
    token = {
        "forged": tokens.sign(b"not-our-key-but-long-enough", "privacy", {"p": plan}),
        "other plan's": tokens.sign(KEY.encode(), "privacy", {"p": "other"}),
        "a runbook link": tokens.sign(KEY.encode(), "runbook", {"p": plan}),
        "a plan not kept here": tokens.sign(KEY.encode(), "privacy", {"p": "gone"}),
    }[name]
    if name == "a plan not kept here":
        plan = "gone"

    def check(page: Page, response: Any) -> None:
        assert response is not None and response.status == 403, name
        assert page.locator("#reason").get_attribute("data-code") == reason
        assert page.locator("h1").inner_text() == "This link does not work"  # the browser's
        assert served.plan.contact.name not in page.content()  # nothing of the plan shows

    errors = _open(f"{served.base}/privacy/{plan}/{token}", "en-GB", check)
    # Chromium reports the refused page's own 403 on the console; nothing else may be there.
    assert [e for e in errors if "status of 403" not in e] == []


def test_after_the_erasure_the_notice_says_so_and_a_month_later_its_link_is_refused(
    tmp_path: Path,
) -> None:
    data = minimal_data()
    data["privacy"] = {"keep_days": 0}  # erased at the close: 00:00 on 1 July 2027
    plan = plan_from(data)
    assert erased_on(plan_settings(), plan) == date(2027, 7, 1)
    assert LINK_DAYS_AFTER == 30  # so the link answers until 00:00 on 31 July, local time
    with serve(tmp_path / "last-minute", plan, "2027-07-30 23:59") as served:
        answer = requests.get(_url(served), timeout=10)
        assert answer.status_code == 200
        assert "was erased on" in answer.text and "1 July 2027" in answer.text
    with serve(tmp_path / "a-minute-later", plan, "2027-07-31 00:01") as served:
        answer = requests.get(_url(served), timeout=10)
        assert answer.status_code == 403
        assert 'data-code="expired"' in answer.text
        assert "Pia" not in answer.text  # the contact's name is no longer shown


def plan_settings() -> Settings:
    return Settings(data_dir=Path("unused"), redis_url=None, secret_key=KEY)
