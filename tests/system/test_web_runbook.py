"""The runbook behind its secret link, for the readers whose channel carries no attachment.

The kickoff on e-mail attaches the runbook; on every other channel it carries the
runbook's link instead, and uvicorn (started here on a free port) serves the page.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.system.test_web import KEY, Served, serve, web_plan
from worker import links, tokens
from worker.delivery.compose import compose

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("runbook"), web_plan("nl")) as found:
        yield found


def _link(served: Served) -> str:
    made = links.runbook_link(served.engine.settings, served.plan)
    return served.base + made.removeprefix(served.engine.settings.base_url.rstrip("/"))


def test_the_runbook_link_shows_the_runbook_in_the_plans_language(served: Served) -> None:
    answer = requests.get(_link(served), timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert '<html lang="nl">' in answer.text
    assert served.plan.title in answer.text
    assert "Design approved" in answer.text  # a milestone of the plan


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("forged", "invalid"),
        ("other plan's", "other_plan"),
        ("a status link", "wrong_page"),
        ("a plan not kept here", "unknown_plan"),
    ],
)
def test_a_wrong_runbook_link_is_refused_with_a_clear_page(
    served: Served, name: str, reason: str
) -> None:
    plan = served.plan.id
    token = {
        "forged": tokens.sign(b"not-our-key-but-long-enough", "runbook", {"p": plan}, None),
        "other plan's": tokens.sign(KEY.encode(), "runbook", {"p": "other"}, None),
        "a status link": served.status_token(),
        "a plan not kept here": tokens.sign(KEY.encode(), "runbook", {"p": "gone"}, None),
    }[name]
    if name == "a plan not kept here":
        plan = "gone"
    answer = requests.get(f"{served.base}/runbook/{plan}/{token}", timeout=10)
    assert answer.status_code == 403, name
    assert "Traceback" not in answer.text
    assert f'data-code="{reason}"' in answer.text, answer.text[:500]
    assert "Design approved" not in answer.text  # nothing of the plan shows


@pytest.mark.parametrize("channel", ["email", "slack", "whatsapp", "telegram", "sms"])
def test_every_kickoff_links_the_runbook_and_only_email_attaches_it(
    served: Served, channel: str
) -> None:
    plan = served.plan
    (item,) = [
        i
        for i in served.engine.store.items(plan.id)
        if i.kind == "kickoff" and i.recipient == "tom"
    ]
    message = compose(served.engine, plan, item, plan.person("tom"), channel, served.now())
    link = links.runbook_link(served.engine.settings, plan)
    assert message.link == link
    assert link in message.text
    if channel == "email":
        assert message.attachments
        assert "In de bijlage staat het draaiboek" in message.text
        assert message.html is not None and f'href="{link}"' in message.html
    else:
        assert "bijlage" not in message.text
        assert "staat achter de link hieronder" in message.text
    page = requests.get(_link(served), timeout=10)
    assert page.status_code == 200
