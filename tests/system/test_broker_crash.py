"""The embedded broker under publishers killed mid-write: the worker never stops.

A real Celery worker (the command ``pactkeeper run`` starts, plus this module's
recording task) consumes from the embedded filesystem broker while 100 publisher
processes, one after another, are SIGKILLed at random moments. Their writes are
slowed (the message reaches the disk in small pieces, as for a publisher that a
loaded machine keeps descheduling) so that the kills land inside the write. Every
message whose publish returned must be consumed exactly once, and the worker must
keep running. With kombu's own ``filesystem://`` transport the worker stopped
within seconds ("Unrecoverable error: JSONDecodeError").
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from config.settings import Settings
from tests import processes
from worker.run.app import app, create_app

pytestmark = [pytest.mark.system, pytest.mark.slow]

PUBLISHERS = 100
TASK = "test.broker.record"
RECORDED = "BROKER_TEST_RECORDED"


@app.task(name=TASK, ignore_result=True)
def record(ident: str, padding: str) -> None:
    """One file per message consumed; a second consumption of one message is noted."""
    folder = Path(os.environ[RECORDED])
    try:
        os.close(os.open(folder / ident, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        with (folder.parent / "duplicates").open("a") as handle:
            handle.write(ident + "\n")


PUBLISHER = """
import os, sys, time
from pathlib import Path
from worker.run import broker
from worker.run.app import app

def slowed(path: Path, data: bytes) -> None:
    with path.open("xb") as handle:
        for start in range(0, len(data), 8192):
            handle.write(data[start : start + 8192])
            handle.flush()
            time.sleep(0.001)

broker.write_draft = slowed
padding = "x" * 200_000
with open(sys.argv[1], "a") as log:
    for n in range(1000):
        ident = f"{os.getpid()}-{n}"
        app.send_task("test.broker.record", args=[ident, padding], queue="pactkeeper")
        log.write(ident + "\\n")  # written only once the publish has returned
        log.flush()
"""


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    from worker.run.main import worker_command

    command = [*worker_command(2, beat=False, name="broker-test"), "-I", __name__]
    return subprocess.Popen(
        command,
        env=env,
        cwd=processes.ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def has_published(log: Path, count: int) -> bool:
    return len(lines(log)) >= count


def worker_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The folder where the worker records what it consumed, and the worker's environment."""
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    env.update(
        PACTKEEPER_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(processes.ROOT),
        **{RECORDED: str(recorded)},
    )
    return recorded, env


def test_publishers_killed_mid_write_never_stop_the_worker(tmp_path: Path) -> None:
    rng = random.Random(1551)
    recorded, env = worker_env(tmp_path)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    restarts, killed = 0, 0
    published: list[str] = []
    try:
        for n in range(PUBLISHERS):
            sent = tmp_path / f"published-{n}"
            publisher = subprocess.Popen(
                [sys.executable, "-c", PUBLISHER, str(sent)], env=env, cwd=processes.ROOT
            )
            # Let it publish 0-3 messages, then kill it somewhere inside the next write.
            wanted = rng.randint(0, 3)
            processes.wait_until(partial(has_published, sent, wanted), 30, step=0.005)
            time.sleep(rng.uniform(0.0, 0.03))
            publisher.send_signal(signal.SIGKILL)
            publisher.wait()
            killed += 1
            published += lines(sent)
            if worker.poll() is not None:
                restarts += 1
                worker = start_worker(env, log)
        processes.wait_until(lambda: set(published) <= set(os.listdir(recorded)), 180)
    finally:
        alive = worker.poll() is None
        processes.stop(worker)
    consumed = set(os.listdir(recorded))
    lost = set(published) - consumed
    duplicates = lines(tmp_path / "duplicates")
    torn = len(os.listdir(tmp_path / "data" / "broker" / "drafts"))
    print(
        f"publishers killed: {killed}, killed mid-write: {torn}, messages published: "
        f"{len(published)}, consumed: {len(consumed)}, lost: {len(lost)}, "
        f"duplicates: {len(duplicates)}, worker restarts: {restarts}"
    )
    assert restarts == 0 and alive, log.read_text()[-3000:]
    assert "Unrecoverable" not in log.read_text()
    assert not lost and not duplicates
    assert torn > 0  # the kills did land inside writes
    assert len(published) > PUBLISHERS // 2


def test_an_unreadable_message_is_set_aside_and_the_worker_keeps_running(
    tmp_path: Path,
) -> None:
    recorded, env = worker_env(tmp_path)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    queue = tmp_path / "data" / "broker" / "queue"
    sender = create_app(Settings(data_dir=tmp_path / "data", redis_url=None))
    try:
        sender.send_task(TASK, args=["before", ""], queue="pactkeeper")
        assert processes.wait_until(lambda: (recorded / "before").exists(), 60), log.read_text()
        # What a torn or foreign file looks like: empty, cut off, not a message at all.
        (queue / "1_empty.pactkeeper.msg").write_bytes(b"")
        (queue / "2_cut.pactkeeper.msg").write_bytes(b'{"body": "eyJ')
        (queue / "3_foreign.pactkeeper.msg").write_bytes(b'["not", "a", "message"]')
        sender.send_task(TASK, args=["after", ""], queue="pactkeeper")
        assert processes.wait_until(lambda: (recorded / "after").exists(), 60), log.read_text()
    finally:
        alive = worker.poll() is None
        processes.stop(worker)
    broken = sorted(os.listdir(tmp_path / "data" / "broker" / "broken"))
    assert broken == ["1_empty.pactkeeper.msg", "2_cut.pactkeeper.msg", "3_foreign.pactkeeper.msg"]
    assert alive
    text = log.read_text()
    assert text.count("a message that cannot be read was set aside") == 3, text[-3000:]


def test_stale_drafts_go_and_stale_claims_come_back(tmp_path: Path) -> None:
    from worker.run import broker

    root = tmp_path / "broker"
    broker.transport_options(root)
    old = time.time() - 2 * broker.STALE_SECONDS
    for folder, name in (("drafts", "old"), ("drafts", "new"), ("claimed", "1_x.q.msg")):
        (root / folder / name).write_bytes(b"{}")
    os.utime(root / "drafts" / "old", (old, old))
    os.utime(root / "claimed" / "1_x.q.msg", (old, old))
    broker.tidy(root, time.time())
    assert os.listdir(root / "drafts") == ["new"]  # its publisher may still be writing
    assert os.listdir(root / "queue") == ["1_x.q.msg"]
