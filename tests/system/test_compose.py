"""docker-compose.yml, run without Docker: each service's command line against a local Redis.

Docker is not available on this machine, so the test reads the compose file and
starts the worker, the beat and the web service exactly as written (their
commands and environment), with the Redis URL, the data folder and the web port
pointed at what the test started. A plan dropped in the plans folder is picked
up by the watcher and its reminder goes through; the services' own health checks
pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests import processes
from tests.engine import moment
from tests.http_sink import start_sink
from tests.servers import RedisServer, free_port, wait_for_port
from tests.support import dump, minimal_data

pytestmark = [pytest.mark.system, pytest.mark.slow]

COMPOSE = processes.ROOT / "docker-compose.yml"


def compose() -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def service_env(service: dict[str, Any], replace: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    env.update({k: str(v) for k, v in service.get("environment", {}).items()})
    env.update(replace)
    env["PYTHONPATH"] = str(processes.ROOT)
    # `celery` and `uvicorn` as the image has them on PATH: the scripts of this interpreter
    # (a fresh pyenv or venv need not have them on PATH otherwise).
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_compose_file_is_what_the_design_asks() -> None:
    services = compose()["services"]
    assert {"redis", "worker", "beat", "web"} <= set(services)
    redis = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis and "--maxmemory-policy noeviction" in redis
    for name in ("redis", "worker", "beat", "web"):
        assert "healthcheck" in services[name], name
    for name in ("worker", "beat", "web"):
        env = services[name]["environment"]
        assert env["PACTKEEPER_REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["caldav"]["profiles"] == ["demo"] and services["smtp"]["profiles"] == ["demo"]


def test_services_come_up_and_a_reminder_goes_through(tmp_path: Path) -> None:
    services = compose()["services"]
    server = RedisServer(tmp_path / "redis").start()
    sink = start_sink(tmp_path / "sink")
    plans = tmp_path / "plans"
    plans.mkdir()
    web_port = free_port()
    now = moment("2027-03-09 11:59")
    replace = {
        "PACTKEEPER_REDIS_URL": server.url,
        "PACTKEEPER_DATA_DIR": str(tmp_path / "data"),
        "PACTKEEPER_PLANS_DIR": str(plans),
        "PACTKEEPER_SWEEP_INTERVAL": "1",
        "PACTKEEPER_CLOCK_OFFSET": repr(now - time.time()),
        "COMPOSE_HOOK": f"{sink.url}/hooks/compose",
    }
    running: list[subprocess.Popen[bytes]] = []
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        for name in ("worker", "beat", "web"):
            command = [str(part) for part in services[name]["command"]]
            if name == "web":
                command[command.index("--port") + 1] = str(web_port)
                command[command.index("--host") + 1] = "127.0.0.1"
            if name == "beat":
                command[command.index("-s") + 1] = str(tmp_path / "data" / "beat-schedule")
            (tmp_path / "data").mkdir(exist_ok=True)
            handle = (logs / f"{name}.log").open("ab")
            running.append(
                subprocess.Popen(
                    command,
                    env=service_env(services[name], replace),
                    cwd=tmp_path,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        (plans / "plan.yaml").write_text(dump(plan_data()))
        arrived = processes.wait_until(lambda: len(sink.requests()) >= 1, timeout=90)
        assert arrived, "\n".join(p.read_text()[-2000:] for p in logs.iterdir())
        body = json.loads(sink.requests()[0]["body"])
        assert "Planning session" in body["text"]
        wait_for_port(web_port)
        for name in ("worker", "web"):
            check = services[name]["healthcheck"]["test"]
            assert _healthy(check, services[name], replace, web_port), name
    finally:
        for process in running:
            processes.stop(process)
        sink.stop()
        server.stop()


def plan_data() -> dict[str, Any]:
    data = minimal_data()
    data["start"] = "2027-03-09"
    data["communication"]["channels"]["mattermost"] = {"webhook": "env:COMPOSE_HOOK"}
    data["people"][1]["channels"] = ["mattermost"]
    data["milestones"] = [
        {
            "id": "m",
            "title": "Planning session",
            "at": "2027-03-10 12:00",
            "duration": "1h",
            "attendees": ["tim"],
            "remind": ["1d"],
        }
    ]
    return data


def _healthy(
    test: list[str], service: dict[str, Any], replace: dict[str, str], web_port: int
) -> bool:
    """Run a service's health check as compose would (CMD or CMD-SHELL), here."""
    kind, *rest = test
    env = service_env(service, replace) | {"HOSTNAME": _hostname()}
    if kind == "CMD-SHELL":
        command = ["sh", "-c", rest[0].replace("$$", "$")]
    else:
        command = [part.replace(":8000/", f":{web_port}/") for part in rest]
    result = subprocess.run(
        command, env=env, cwd=processes.ROOT, capture_output=True, timeout=60, check=False
    )
    return result.returncode == 0


def _hostname() -> str:
    return os.uname().nodename
