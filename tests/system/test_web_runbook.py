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
    assert answer.headers["cache-control"] == "private, no-store"
    assert '<html lang="nl">' in answer.text
    assert served.plan.title in answer.text
    assert "Design approved" in answer.text  # a milestone of the plan


@pytest.mark.parametrize(
    ("name", "reason"),
    [("forged", "invalid"), ("other plan's", "other_plan"), ("a status link", "wrong_page")],
)
def test_a_wrong_runbook_link_is_refused_with_a_clear_page(
    served: Served, name: str, reason: str
) -> None:
    plan = served.plan.id
    token = {
        "forged": tokens.sign(b"not-our-key-but-long-enough", "runbook", {"p": plan}, None),
        "other plan's": tokens.sign(KEY.encode(), "runbook", {"p": "other"}, None),
        "a status link": served.status_token(),
    }[name]
    answer = requests.get(f"{served.base}/runbook/{plan}/{token}", timeout=10)
    assert answer.status_code == 403, name
    assert "Traceback" not in answer.text
    assert f'data-code="{reason}"' in answer.text, answer.text[:500]
    assert "Design approved" not in answer.text  # nothing of the plan shows
