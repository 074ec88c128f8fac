"""schemathesis against the app's own OpenAPI, served by uvicorn: no 5xx, every error clear.

Every operation is called with generated input; half the cases carry a real
signed token, so the fuzzing reaches past the signature check into the form,
the API body and the status report. On top of schemathesis' own checks (status
codes, content types and bodies as documented), each error answer must explain
itself: a JSON ``Problem`` (or the health body) on ``/api`` and ``/health``, a
page with the reason on the HTML routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import positive_data_acceptance

from tests.system.test_web import Served, serve, web_plan

pytestmark = pytest.mark.system

schema = schemathesis.pytest.from_fixture("web_schema")


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("schema"), web_plan()) as found:
        yield found


@pytest.fixture(scope="module")
def web_schema(web_server: Served) -> Any:
    return schemathesis.openapi.from_url(f"{web_server.base}/openapi.json")


def clear_errors(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """An error answer says what is wrong, in the form its route promises."""
    if response.status_code < 400:
        return None
    kind = response.headers.get("content-type", [""])[0]
    if case.path.startswith("/api/") or case.path == "/health":
        assert kind.startswith("application/json"), f"{case.path}: {kind}"
        body = response.json()
        if case.path == "/health":
            assert body["status"] == "unavailable"
        else:
            assert body["error"] and body["code"], body
            assert body["message"].endswith("."), body
        return True
    assert kind.startswith("text/html"), f"{case.path}: {kind}"
    assert 'id="reason"' in response.text or 'id="problem"' in response.text
    return True


def with_real_token(case: Case, server: Served) -> None:
    """Put a valid token where the case has one (the right kind for the route).

    New containers are assigned, not changed in place, so that schemathesis sees
    the change and judges the request as it is sent.
    """
    if case.path_parameters and "token" in case.path_parameters:
        if case.path.startswith(("/status", "/api/status")):
            real = {"token": server.status_token(), "plan_id": server.plan.id}
        else:
            real = {"token": server.checkin_token()}
        case.path_parameters = {**case.path_parameters, **real}
    if isinstance(case.body, dict) and "token" in case.body:
        case.body = {**case.body, "token": server.checkin_token()}


@schema.parametrize()
@schema.given(real=st.booleans())
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_answer_is_clear_and_none_is_a_server_error(
    case: Case, real: bool, web_server: Served
) -> None:
    if real:
        with_real_token(case, web_server)
    # Generated tokens are refused (403) by design, so schema-valid input need not be accepted.
    case.call_and_validate(
        additional_checks=[clear_errors], excluded_checks=[positive_data_acceptance]
    )


def test_the_schema_documents_every_route(web_schema: Any, web_server: Served) -> None:
    import requests

    paths = requests.get(f"{web_server.base}/openapi.json", timeout=10).json()["paths"]
    assert set(paths) == {
        "/checkin/{token}",
        "/api/checkins",
        "/status/{plan_id}/{token}",
        "/api/status/{plan_id}/{token}",
        "/health",
    }
    assert Path  # the module's imports stay honest
