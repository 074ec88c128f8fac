"""Real pactkeeper processes for system tests: Celery workers and beats on a test Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from worker.store.base import Store

ROOT = Path(__file__).resolve().parent.parent


def celery_env(data_dir: Path, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PACTKEEPER_")}
    env.update(
        {
            "PACTKEEPER_DATA_DIR": str(data_dir),
            "PACTKEEPER_REDIS_URL": redis_url,
            "PACTKEEPER_REDIS_PREFIX": prefix,
            "PACTKEEPER_SWEEP_INTERVAL": "1",
            "PACTKEEPER_SECRET_KEY": "test-signing-key",
            "PACTKEEPER_PACING": "off",  # as before pacing (tests of pacing set it)
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


def worker(
    env: dict[str, str], name: str, log: Path, concurrency: int = 2
) -> subprocess.Popen[bytes]:
    from worker.run.main import worker_command

    command = worker_command(concurrency, beat=False, name=name)
    return _start(command, env, log)


def beat(env: dict[str, str], schedule: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.run.app",
        "beat",
        "-l",
        "INFO",
        "-s",
        str(schedule),
    ]
    return _start(command, env, log)


SWEEPER = """
import time
from config.settings import Settings
from worker import clock
from worker.delivery import dispatch
from worker.engine import Engine
settings = Settings()
clock.from_settings(settings.clock_offset)
engine = Engine(settings)
end = time.monotonic() + {seconds}
while time.monotonic() < end:
    for claim in dispatch.sweep(engine, clock.now(), limit=25):
        dispatch.deliver(engine, claim, clock.now())
    time.sleep(0.05)
"""


def sweeper(env: dict[str, str], log: Path, seconds: float) -> subprocess.Popen[bytes]:
    """A bare sweeper loop in its own process: sweep and deliver, no Celery."""
    command = [sys.executable, "-c", SWEEPER.format(seconds=seconds)]
    return _start(command, env, log)


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 20.0) -> None:
    """Stop a process and its children (a Celery worker's pool) by pid."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def settled(store: Store, plan_id: str, before: float | None = None) -> bool:
    """Nothing of the plan due (before ``before``), claimed or sending any more."""
    for item in store.items(plan_id, ("due", "claimed", "sending")):
        if item.state != "due" or before is None or item.due <= before:
            return False
    return True


def pool_children(worker_pid: int) -> list[int]:
    """The pool processes of a Celery worker (to SIGKILL one mid-send)."""
    result = subprocess.run(
        ["pgrep", "-P", str(worker_pid)], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in result.stdout.split()]
