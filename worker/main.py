"""``pactkeeper run``: the main job on one machine.

Starts a Celery worker with an embedded beat (and the web app when it is
installed) as child processes, registers the plans of PLANS_DIR first so that
errors show at once, and stops everything cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from config.load import PlanError
from config.settings import Settings
from worker import clock
from worker.engine import Engine, register_file
from worker.watch import plan_files

STOP_SECONDS = 30


def worker_command(concurrency: int, beat: bool = True, name: str = "pactkeeper") -> list[str]:
    """The Celery worker's command line (with an embedded beat for ``run``)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.app",
        "worker",
        "-l",
        "INFO",
        "-c",
        str(concurrency),
        "-Q",
        "pactkeeper",
        "-n",
        f"{name}@{socket.gethostname()}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    return [*command, "-B"] if beat else command


def web_command(settings: Settings) -> list[str] | None:
    if importlib.util.find_spec("web") is None or importlib.util.find_spec("uvicorn") is None:
        return None
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "web.app:app",
        "--host",
        settings.web_host,
        "--port",
        str(settings.web_port),
        "--no-access-log",
    ]


def register_folder(settings: Settings, folder: Path) -> int:
    """Register every valid plan in the folder now; report the invalid ones."""
    engine = Engine(settings)
    bad = 0
    try:
        for path in plan_files(folder):
            try:
                result = register_file(engine, path, clock.now()).result
            except PlanError as error:
                print(error.report(), file=sys.stderr)
                bad += 1
                continue
            print(
                f"{path.name}: {len(result.added)} scheduled, {result.kept} unchanged, "
                f"{len(result.removed)} cancelled"
            )
    finally:
        engine.close()
    return bad


def run_main(
    settings: Settings, plans_dir: Path | None, concurrency: int, as_of: float | None = None
) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PACTKEEPER_DATA_DIR=str(settings.data_dir.resolve()))
    if as_of is not None:
        # A rehearsal: every process shares one offset, so the clock runs at normal speed
        # from the chosen moment on.
        offset = as_of - time.time()
        env["PACTKEEPER_CLOCK_OFFSET"] = repr(offset)
        clock.use(clock.OffsetClock(offset))
        print(f"pactkeeper: rehearsal, the clock starts at {_iso(as_of)}")
    if plans_dir is not None:
        if not plans_dir.is_dir():
            print(f"pactkeeper: {plans_dir} is not a folder", file=sys.stderr)
            return 2
        register_folder(settings, plans_dir)
        env["PACTKEEPER_PLANS_DIR"] = str(plans_dir.resolve())
    _banner(settings, plans_dir)
    commands = [worker_command(concurrency)]
    web = web_command(settings)
    if web:
        commands.append(web)
    children = [subprocess.Popen(command, env=env) for command in commands]
    return _supervise(children)


def _iso(moment: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _banner(settings: Settings, plans_dir: Path | None) -> None:
    store = "Redis" if settings.redis_url else f"SQLite in {settings.data_dir}"
    print(
        f"pactkeeper: store {store}; broker {'Redis' if settings.redis_url else 'filesystem'};"
        f" messages without a configured channel go to {settings.outbox_dir}"
    )
    if plans_dir is not None:
        print(f"pactkeeper: watching {plans_dir} for plan changes")
    print("pactkeeper: press Ctrl-C to stop", flush=True)


def _supervise(children: list[subprocess.Popen[bytes]]) -> int:
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        exited = [child for child in children if child.poll() is not None]
        if exited:
            code = exited[0].returncode or 1
            print(f"pactkeeper: a child process stopped (exit {code}); stopping", file=sys.stderr)
            break
        time.sleep(0.5)
    _stop(children)
    return code


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)  # Celery: warm shutdown, finish the task at hand
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    print("pactkeeper: stopped", flush=True)
