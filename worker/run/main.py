"""``pactkeeper run``: the main job on one machine.

Starts a Celery worker with an embedded beat (and the web app when it is
installed) as child processes, registers the plans of PLANS_DIR first so that
errors show at once, and stops everything cleanly on Ctrl-C or SIGTERM.

On real time it uses DATA_DIR. A rehearsal (``--as-of``) uses DATA_DIR/rehearsal,
reset at every start, so that it never uses up a real delivery; each folder is
marked with its clock and refused by a process of the other (``worker.datafolder``).
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import IO

from config.load import PlanError
from config.settings import Settings
from worker import clock, datafolder
from worker.engine import Engine, IdTaken
from worker.plans.register import register_file
from worker.plans.watch import plan_files

STOP_SECONDS = 30
REHEARSAL = "rehearsal"  # the rehearsal's folder, inside DATA_DIR
FUTURE_SLACK = 3600.0  # leases and clocks differ by seconds, not by an hour
# Celery's and uvicorn's own lines (banner, every task received and done) come back with
# PACTKEEPER_VERBOSE=1 (``run -v``); by default the log has start-up lines, one line per
# delivery and warnings.
VERBOSE_ENV = "PACTKEEPER_VERBOSE"


def worker_command(
    concurrency: int, beat: bool = True, name: str = "pactkeeper", verbose: bool = False
) -> list[str]:
    """The Celery worker's command line (with an embedded beat for ``run``)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.run.app",
        *([] if verbose else ["--quiet"]),  # no banner
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


def web_command(settings: Settings, verbose: bool = False) -> list[str] | None:
    if importlib.util.find_spec("web") is None or importlib.util.find_spec("uvicorn") is None:
        return None
    quiet = [] if verbose else ["--log-level", "warning"]
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
        *quiet,
    ]


def register_folder(settings: Settings, folder: Path) -> int:
    """Register every valid plan in the folder now; report the invalid ones."""
    engine = Engine(settings)
    bad = 0
    try:
        for path in plan_files(folder):
            try:
                result = register_file(engine, path, clock.now()).result
            except IdTaken as error:
                engine.store.once(error.once_key)  # said here: the watcher need not repeat it
                print(error.report(), file=sys.stderr)
                bad += 1
                continue
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
    settings: Settings,
    plans_dir: Path | None,
    concurrency: int,
    as_of: float | None = None,
    verbose: bool | None = None,
) -> int:
    """``pactkeeper run``: on real time in DATA_DIR, or (``as_of``) a rehearsal apart."""
    if plans_dir is not None and not plans_dir.is_dir():
        print(f"pactkeeper: {plans_dir} is not a folder", file=sys.stderr)
        return 2
    try:
        if as_of is None:
            datafolder.claim(settings.data_dir, virtual=False)
            env = dict(os.environ, PACTKEEPER_DATA_DIR=str(settings.data_dir.resolve()))
            lock = None
        else:
            lock = _rehearsal_lock(settings.data_dir)
            settings, env = _rehearsal(settings, as_of)
    except datafolder.WrongClock as error:
        print(f"pactkeeper: {error}", file=sys.stderr)
        return 2
    verbose = os.environ.get(VERBOSE_ENV) == "1" if verbose is None else verbose
    if verbose:
        env[VERBOSE_ENV] = "1"
    if as_of is None:
        _warn_of_the_future(settings, clock.now())
    if plans_dir is not None:
        register_folder(settings, plans_dir)
        env["PACTKEEPER_PLANS_DIR"] = str(plans_dir.resolve())
    _banner(settings, plans_dir, rehearsal=as_of is not None)
    commands = [worker_command(concurrency, verbose=verbose)]
    web = web_command(settings, verbose)
    if web:
        commands.append(web)
        print(f"pactkeeper: web app on http://{settings.web_host}:{settings.web_port}")
    print("pactkeeper: press Ctrl-C to stop", flush=True)
    children = [subprocess.Popen(command, env=env) for command in commands]
    try:
        return _supervise(children)
    finally:
        if lock is not None:
            lock.close()


def _rehearsal_lock(data_dir: Path) -> IO[str]:
    """Held while a rehearsal runs: a second one would reset the folder under the first."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / "rehearsal.lock").open("a")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise datafolder.WrongClock(
            f"a rehearsal is already running on {data_dir}; stop it first"
        ) from None
    return handle


def _rehearsal(settings: Settings, as_of: float) -> tuple[Settings, dict[str, str]]:
    """A rehearsal's settings and environment: its own folder, reset now, on a clock that
    starts at ``as_of``; the embedded store and broker; its own signing key."""
    folder = (settings.data_dir / REHEARSAL).resolve()
    datafolder.claim_to_reset(folder)
    shutil.rmtree(folder, ignore_errors=True)
    # Every process shares one offset, so the clock runs at normal speed from as_of on.
    offset = (as_of - time.time()) or 1e-6  # 0 would read as real time
    datafolder.claim(folder, virtual=True)
    rehearsal = settings.model_copy(
        update={"data_dir": folder, "clock_offset": offset, "redis_url": None, "secret_key": None}
    )
    vars(rehearsal).pop("signing_key", None)  # a copy keeps a key already read: not this one
    clock.use(clock.OffsetClock(offset))
    # Sentinels alone also say "Redis" (config.settings fills in the URL): hidden as well.
    hidden = {
        "PACTKEEPER_REDIS_URL",
        "PACTKEEPER_REDIS_URL_FILE",
        "PACTKEEPER_REDIS_SENTINELS",
        "PACTKEEPER_REDIS_MASTER",
        "PACTKEEPER_SECRET_KEY_FILE",
    }
    env = {name: value for name, value in os.environ.items() if name not in hidden}
    env.update(
        PACTKEEPER_DATA_DIR=str(folder),
        PACTKEEPER_CLOCK_OFFSET=repr(offset),
        PACTKEEPER_SECRET_KEY=rehearsal.signing_key.decode(),
        **{datafolder.REHEARSAL_ENV: "1"},
    )
    print(f"pactkeeper: a rehearsal: the clock starts at {_iso(as_of)} and runs at normal speed")
    print(
        f"pactkeeper: the rehearsal keeps to {folder} (reset at every start); real time's data "
        f"in {settings.data_dir} is left alone"
    )
    print(f"pactkeeper: every message of the rehearsal goes to its outbox, {rehearsal.outbox_dir}")
    return rehearsal, env


def _warn_of_the_future(settings: Settings, now: float) -> None:
    """A ledger sent or leased into the future was written on another clock (a rehearsal
    before rehearsals kept to their own folder): those deliveries will not go out."""
    engine = Engine(settings)
    try:
        future = [
            item
            for plan_id in engine.store.plan_ids()
            for item in engine.store.items(plan_id, ("sent", "claimed", "sending"))
            if max(item.sent_at or 0.0, item.lease or 0.0) > now + FUTURE_SLACK
        ]
    finally:
        engine.close()
    if future:
        latest = max(max(item.sent_at or 0.0, item.lease or 0.0) for item in future)
        print(
            f"pactkeeper: warning: {len(future)} deliveries in {settings.data_dir} are recorded "
            f"as sent or taken up to {_iso(latest)}, after now: a rehearsal on this folder used "
            "them up, and they will not go out on real time; start from a new data folder",
            file=sys.stderr,
        )


def _iso(moment: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _banner(settings: Settings, plans_dir: Path | None, rehearsal: bool) -> None:
    embedded = rehearsal or settings.redis_url is None
    store = f"SQLite in {settings.data_dir}" if embedded else "Redis"
    line = f"pactkeeper: store {store}; broker {'filesystem' if embedded else 'Redis'}"
    if not rehearsal:
        line += f"; messages without a configured channel go to {settings.outbox_dir}"
    print(line)
    if plans_dir is not None:
        print(f"pactkeeper: watching {plans_dir} for plan changes")


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
