"""Retention: the Dutch example run to its close, then ``pactkeeper purge`` past keep_days.

The plan (examples/voedselbank.yaml) is played on a virtual clock with the check-ins of
``tests/fixtures/checkins_eva_silent_after_week3.csv`` (notes included) and the replies of
``examples/voedselbank-replies.csv``, through the same engine and tasks as ``simulate``,
into a ``run``-style data folder (marked real time, the store under its usual name, the
outbox and the bundle copy where a deployment keeps them). ``simulate`` itself writes its
report (``log.jsonl``, ``handover.zip``) beside a virtual clock's folder, which ``purge``
refuses: a simulation is thrown away, not purged.

Then the ``purge`` command runs in a process of its own, ``--as-of`` past the close plus
keep_days (365, the default). Afterwards no byte of the data folder (the SQLite file and
its -wal/-shm, the outbox, handover/, everything) and no key or value under the Redis
prefix holds an e-mail address, phone number, full name, check-in note or reply text of
the plan's people; ``status`` shows the same counts; the download link answers 410.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as day_time
from pathlib import Path

import pytest
import requests

from config.load import load_plan
from config.plan import Plan
from config.settings import SQLITE_STORE, Settings
from tests.servers import RedisServer, free_port, wait_for_port, web_env
from worker import clock, datafolder, links
from worker.engine import Engine
from worker.handover.close import bundle_path
from worker.plans.register import register
from worker.run import simulate, simulate_replies
from worker.store import Store
from worker.store.redis import RedisStore
from worker.store.sqlite import SqliteStore

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "examples" / "voedselbank.yaml"
CHECKINS = ROOT / "tests" / "fixtures" / "checkins_eva_silent_after_week3.csv"
REPLIES = ROOT / "examples" / "voedselbank-replies.csv"
KEY = "retention-test-signing-key-0123456789abcdef"
AS_OF = "2028-06-01T00:00:00Z"  # the close (2027-04-30) plus 365 days has passed


@dataclass
class Played:
    data_dir: Path
    plan: Plan
    env: dict[str, str]
    link: str  # the bundle's download link, made at the close
    status: str  # the path of the plan's status page (its secret link)
    expired: str  # a download link whose 30 days are over (as they are by a purge)


def needles(plan: Plan) -> list[str]:
    """What must not be left: every address, number, name, note and reply text."""
    found: set[str] = set()
    for person in plan.people:
        found.add(person.name)
        found.add(person.email or person.name)
        if person.phone:
            found.add(person.phone)
            found.add(person.phone.lstrip("+"))
    for path, column in ((CHECKINS, "note"), (REPLIES, "text")):
        with path.open(encoding="utf-8") as handle:
            found.update(row[column] for row in csv.DictReader(handle) if row[column].strip())
    # A one-word command (STOP, START) is not about anyone, and "stop" is in "stopping".
    return sorted(word for word in found if " " in word or "@" in word or word[-4:].isdigit())


def found_in(blobs: dict[str, bytes], words: list[str]) -> list[str]:
    """``word in where`` for each word found (case-insensitive, as UTF-8 and as JSON)."""
    hits = []
    for where, blob in blobs.items():
        lowered = blob.lower()
        for word in words:
            forms = {word.encode(), json.dumps(word)[1:-1].encode()}
            if any(form.lower() in lowered for form in forms):
                hits.append(f"{word!r} in {where}")
    return hits


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def redis_bytes(url: str, prefix: str) -> dict[str, bytes]:
    """Every key under the prefix and everything it holds, whatever its type."""
    import redis

    client = redis.Redis.from_url(url)
    found: dict[str, bytes] = {}
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        kind = client.type(key).decode()
        values: list[bytes] = [key]
        if kind == "string":
            values.append(client.get(key) or b"")
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                values += [field, value]
        elif kind == "list":
            values += client.lrange(key, 0, -1)
        elif kind == "set":
            values += list(client.smembers(key))
        elif kind == "zset":
            values += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            for _, entry in client.xrange(key):
                for field, value in entry.items():
                    values += [field, value]
        found[f"redis {key.decode(errors='replace')}"] = b"\n".join(values)
    client.close()
    return found


def play(tmp: Path, store: Store, settings: Settings) -> Played:
    """The plan from its start through its close, check-ins and replies on their days."""
    plan = load_plan(PLAN)
    rows = simulate.read_checkins(CHECKINS, plan)
    replies = simulate_replies.read_replies(REPLIES, plan)
    engine = Engine(settings, store, outbox_only=True)
    start = datetime.combine(plan.start, day_time(0), tzinfo=plan.zone).timestamp()
    end = datetime.combine(plan.end + timedelta(days=3), day_time(0), tzinfo=plan.zone)
    virtual = clock.VirtualClock(start)
    report = io.StringIO()  # what simulate writes to log.jsonl: not part of the data folder
    with simulate.eager(engine, virtual):
        register(engine, plan, start)
        simulate._run(
            engine, plan, rows, replies, end.timestamp(), virtual, simulate.Simulation(), report
        )
    bundle = bundle_path(settings, plan.id).read_bytes()
    link = links.download_link(settings, plan.id, bundle, expires=end.timestamp() + 30 * 86400)
    status_path = f"/status/{plan.id}/{links.status_token(settings, plan)}"
    expired = links.download_link(settings, plan.id, bundle, expires=time.time() - 60)
    engine.close()
    url = settings.redis_url.get_secret_value() if settings.redis_url else None
    redis = {"redis_url": url, "redis_prefix": settings.redis_prefix} if url else {}
    env = web_env(
        settings.data_dir, 0.0, KEY, **redis, reply_address=simulate_replies.SIMULATED_ADDRESS
    )
    return Played(settings.data_dir, plan, env, link, status_path, expired)


def settings_for(data_dir: Path, redis_url: str | None = None, prefix: str = "pk:") -> Settings:
    datafolder.claim(data_dir, virtual=False)  # what `run` marks its folder with
    return Settings(
        data_dir=data_dir,
        redis_url=redis_url,
        redis_prefix=prefix,
        smtp_host=None,
        plans_dir=None,
        secret_key=KEY,
        reply_address=simulate_replies.SIMULATED_ADDRESS,
        twilio_auth_token=simulate_replies.SIMULATED_TOKEN,
    )


def pactkeeper(played: Played, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "worker.run.cli", *args]
    return subprocess.run(
        command, env=played.env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def status(played: Played) -> dict[str, object]:
    done = pactkeeper(played, "status", played.plan.id, "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@contextmanager
def web(played: Played) -> Iterator[str]:
    """uvicorn on the data folder, on real time (a clock offset would refuse the folder):
    the link, made for 30 days after the close, is still valid then."""
    env = played.env
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "web.app:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-access-log"]
    log = played.data_dir.parent / "uvicorn.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


def digest(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in folder_bytes(folder).items()}


def check_purge(played: Played, leftovers: Callable[[], dict[str, bytes]]) -> None:
    words = needles(played.plan)
    assert found_in(leftovers(), words), "the played plan should hold its people's data"
    before = status(played)
    assert str(before["data_until"]).startswith("2028-04-")  # closed 2027-04-30, 365 days

    unchanged = digest(played.data_dir)
    dry = pactkeeper(played, "purge", "--dry-run", "--as-of", AS_OF)
    assert dry.returncode == 0, dry.stderr
    assert f"{played.plan.id}: closed 2027-" in dry.stdout and "would erase" in dry.stdout
    assert digest(played.data_dir) == unchanged, "a dry run changed the data folder"

    done = pactkeeper(played, "purge", "--as-of", AS_OF)
    assert done.returncode == 0, done.stderr
    assert "erased" in done.stdout and "would" not in done.stdout
    print(done.stdout)
    assert found_in(leftovers(), words) == []

    after = status(played)
    assert after["counts"] == before["counts"]
    assert after["purged"] and after["data_until"] is None
    kept = ("id", "title", "kind", "when", "done")  # overdue_days: as of the close
    assert [{k: m[k] for k in kept} for m in after["milestones"]] == [  # type: ignore[attr-defined]
        {k: m[k] for k in kept}
        for m in before["milestones"]  # type: ignore[attr-defined]
    ]
    text = pactkeeper(played, "status", played.plan.id)
    assert "personal data erased on" in text.stdout

    again = pactkeeper(played, "purge", "--as-of", AS_OF)
    assert again.returncode == 0 and "nothing to purge" in again.stdout

    refused = pactkeeper(played, "sync", str(PLAN))
    assert refused.returncode == 1
    assert "personal data was erased on" in refused.stderr
    assert "a new partnership needs a new id" in refused.stderr
    assert found_in(leftovers(), words) == [], "a refused sync brought the people back"

    with web(played) as base:
        for lang, words_expected in (("nl", "verlopen"), ("en", "expired")):
            for link in (played.link, played.expired):
                path = link.split("/bundles/", 1)[1]
                answer = requests.get(
                    f"{base}/bundles/{path}", headers={"Accept-Language": lang}, timeout=10
                )
                assert answer.status_code == 410
                assert words_expected in answer.text.lower()
        page = requests.get(base + played.status, timeout=10)
        assert page.status_code == 200 and 'id="purged"' in page.text
        assert "verwijderd" in page.text  # the plan's language, Dutch
        assert found_in({"status page": page.content}, words) == []
        api = requests.get(base + played.status.replace("/status/", "/api/status/"), timeout=10)
        assert api.status_code == 200 and api.json()["counts"] == before["counts"]


def test_purge_leaves_no_personal_data_in_the_sqlite_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = settings_for(data_dir)
    played = play(tmp_path, SqliteStore(data_dir / SQLITE_STORE), settings)
    check_purge(played, lambda: folder_bytes(data_dir))
    names = set(folder_bytes(data_dir))
    assert not any(name.startswith("handover/") for name in names)
    assert not any(name.startswith("outbox/") and "voedselbank" in name for name in names)


def test_purge_leaves_no_personal_data_in_redis(tmp_path: Path, redis_server: RedisServer) -> None:
    data_dir = tmp_path / "data"
    prefix = f"ret{os.getpid()}:"
    settings = settings_for(data_dir, redis_server.url, prefix)
    store = RedisStore(redis_server.url, prefix=prefix)
    played = play(tmp_path, store, settings)
    check_purge(played, lambda: {**folder_bytes(data_dir), **redis_bytes(redis_server.url, prefix)})


def test_purge_refuses_a_simulation_folder(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    env = web_env(out, 0.0, KEY)
    command = [sys.executable, "-m", "worker.run.cli"]
    ran = subprocess.run(
        [*command, "simulate", str(PLAN), "--until", "2027-01-20", "--out", str(out)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    before = digest(out)
    refused = subprocess.run(
        [*command, "purge", "--as-of", AS_OF],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "virtual" in refused.stderr
    assert digest(out) == before


def test_purge_bad_moment_is_one_line(tmp_path: Path) -> None:
    env = web_env(tmp_path / "data", 0.0, KEY)
    ran = subprocess.run(
        [sys.executable, "-m", "worker.run.cli", "purge", "--as-of", "next tuesday"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 1
    assert ran.stderr.count("\n") == 1 and "--as-of" in ran.stderr
