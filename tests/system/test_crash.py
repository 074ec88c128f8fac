"""Crashes with real processes: nothing lost, nothing sent twice, unknowns reported.

Celery workers on a Redis of our own (AOF on) deliver reminders to a local HTTP
sink standing in for Mattermost, which answers slowly so that sends are in
flight. Twenty times the test SIGKILLs either a worker's pool child (mid-send)
or a whole worker with its children (mid-batch, then starts it again); half way
it kills Redis and starts it again from its append-only file. Then it lets the
system settle and counts, per item: delivered, unknown (reported to the lead,
not re-sent, because Mattermost does not de-duplicate), lost and duplicated.
A worker killed between writing an outcome down and telling the lead leaves
the telling to the reaper (tests/system/test_follow_up.py shows it step by step).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests import processes
from tests.engine import moment
from tests.http_sink import start_sink
from tests.servers import RedisServer
from tests.support import minimal_data, plan_from
from worker.engine import Engine
from worker.plans.register import register
from worker.store.redis import RedisStore

pytestmark = [pytest.mark.system, pytest.mark.slow]

PEOPLE = 12
MEETINGS = 12
ROUNDS = 20


def plan_data() -> dict[str, Any]:
    data = minimal_data()
    data["start"], data["end"] = "2027-03-01", "2027-06-30"
    data["communication"]["channels"]["mattermost"] = {"webhook": "env:CRASH_MM_HOOK"}
    for person in data["people"]:
        person["channels"] = ["mattermost"]
    data["people"] += [
        {
            "id": f"p{n:02d}",
            "name": f"Person {n:02d}",
            "call_name": f"Person {n:02d}",
            "side": "team",
            "channels": ["mattermost"],
        }
        for n in range(PEOPLE - 2)
    ]
    data["milestones"] = [
        {
            "id": f"m{n:02d}",
            "title": f"Meeting {n:02d}",
            "at": f"2027-03-10 {9 + n // 4:02d}:{(n % 4) * 15:02d}",
            "duration": "30m",
            "remind": ["1d"],
        }
        for n in range(MEETINGS)
    ]
    return data


def identity(request: dict[str, Any]) -> tuple[str, str]:
    """What one message is: its title (kind, meeting) and its greeting (the person)."""
    lines = str(json.loads(request["body"])["text"]).splitlines()
    return lines[0].removeprefix("#### "), lines[2]


def test_kills_and_a_redis_restart_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(20271)
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    sink = start_sink(tmp_path / "sink")
    sink.script(200, delay=0.3)  # every send is in flight for a while
    hook = f"{sink.url}/hooks/crash-test-secret"
    monkeypatch.setenv("CRASH_MM_HOOK", hook)
    logs = tmp_path / "logs"
    logs.mkdir()
    workers: list[Any] = []
    beat = None
    report: dict[str, Any] = {"child_kills": 0, "worker_kills": 0, "redis_restarts": 0}
    try:
        plan = plan_from(plan_data())
        store = RedisStore(server.url, prefix="crash:")
        settings = _settings(tmp_path, server.url)
        register(Engine(settings, store), plan, moment("2027-03-01 00:00"))
        now = moment("2027-03-10 12:00")
        keys = {i.key for i in store.items(plan.id) if i.due <= now}
        offset = now - time.time()
        env = processes.celery_env(
            tmp_path / "data",
            server.url,
            "crash:",
            CRASH_MM_HOOK=hook,
            PACTKEEPER_CLOCK_OFFSET=repr(offset),
            PACTKEEPER_LEASE_SECONDS="6",
            PACTKEEPER_REAP_INTERVAL="2",
            PACTKEEPER_HTTP_READ_TIMEOUT="2",
        )
        beat = processes.beat(env, tmp_path / "beat", logs / "beat.log")
        workers = [processes.worker(env, f"w{n}", logs / f"w{n}.log") for n in range(2)]
        for round_number in range(ROUNDS):
            time.sleep(rng.uniform(0.4, 1.5))
            if round_number == ROUNDS // 2:
                server.restart()
                report["redis_restarts"] += 1
                continue
            index = rng.randrange(len(workers))
            children = processes.pool_children(workers[index].pid)
            if round_number % 2 == 0 and children:
                os.kill(rng.choice(children), signal.SIGKILL)
                report["child_kills"] += 1
            else:
                processes.stop(workers[index], signal.SIGKILL)
                workers[index] = processes.worker(
                    env, f"w{index}-{round_number}", logs / f"w{index}.log"
                )
                report["worker_kills"] += 1
        assert processes.wait_until(
            # Settled, and every outcome acted on (the reaper does what a killed worker left).
            lambda: processes.settled(store, plan.id, before=now) and not store.follow_ups(),
            timeout=180,
        ), store.counts(plan.id)
        items = {i.key: i for i in store.items(plan.id)}
        # Notices to the lead are left out: two notices about one person read alike.
        arrived = Counter(
            identity(r) for r in sink.requests() if "may not have arrived" not in r["body"]
        )
        states = Counter(items[key].state for key in keys)
        sent_texts = [_text(items[key], plan) for key in keys if items[key].state == "sent"]
        report.update(
            items=len(keys),
            states=dict(states),
            lost=sum(1 for key in keys if items[key].state not in ("sent", "unknown"))
            + sum(1 for text in sent_texts if arrived[text] == 0),
            duplicated=sum(1 for count in arrived.values() if count > 1),
            unknown_reported=_reported(store, plan.id, keys),
        )
        print(f"\ncrash test report: {json.dumps(report)}")
        (tmp_path / "crash-report.json").write_text(json.dumps(report, indent=1))
        assert report["lost"] == 0
        assert report["duplicated"] == 0
        assert states["sent"] + states["unknown"] == len(keys)
        # Every unknown outcome is told to the team lead, none re-sent on its own.
        assert report["unknown_reported"] == states["unknown"]
    finally:
        for worker in workers:
            processes.stop(worker, signal.SIGKILL)
        if beat is not None:
            processes.stop(beat)
        sink.stop()
        server.stop()


def _text(item: Any, plan: Any) -> tuple[str, str]:
    """The identity of a sent item as the sink saw it, from the ledger's subject."""
    return str(item.subject), f"Hello {plan.person(item.recipient).called},"


def _reported(store: RedisStore, plan_id: str, keys: set[str]) -> int:
    notices = [i for i in store.items(plan_id) if i.kind == "notice"]
    about = {i.data.get("about") for i in notices if i.data.get("problem") == "unknown"}
    return sum(1 for key in keys if key in about)


def _settings(tmp_path: Path, redis_url: str) -> Any:
    from config.settings import Settings

    return Settings(
        data_dir=tmp_path / "data",
        redis_url=redis_url,
        redis_prefix="crash:",
        secret_key="test-signing-key",
        plans_dir=None,
    )
