"""Two beats, three Celery workers and three bare sweepers on one Redis: each key once.

Over a thousand reminders (and the kickoffs) are due at once. Everything that
could race does: two beats schedule sweeps every second, workers run them and
the deliveries, three more processes sweep and deliver on their own. The SMTP
server counts what arrives, per Message-ID.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests import processes
from tests.engine import moment
from tests.servers import RedisServer
from tests.smtp_sink import start_smtp
from tests.support import minimal_data, plan_from
from worker.engine import Engine
from worker.plans.register import register
from worker.store.redis import RedisStore

pytestmark = [pytest.mark.system, pytest.mark.slow]

PEOPLE = 20
MEETINGS = 25


def crowd() -> dict[str, Any]:
    """20 people, 25 meetings everyone attends, two reminders each: 1,000 reminders."""
    data = minimal_data()
    data["start"], data["end"] = "2027-03-01", "2027-06-30"
    data["people"] += [
        {
            "id": f"p{n:02d}",
            "name": f"Person {n}",
            "side": "team",
            "email": f"p{n:02d}@team.example",
        }
        for n in range(PEOPLE - 2)
    ]
    data["milestones"] = [
        {
            "id": f"m{n:02d}",
            "title": f"Meeting {n}",
            "at": f"2027-03-10 {8 + n // 4:02d}:{(n % 4) * 15:02d}",
            "duration": "30m",
            "remind": ["1d", "2h"],
        }
        for n in range(MEETINGS)
    ]
    return data


def test_each_key_is_delivered_exactly_once(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=False).start()
    smtp = start_smtp(tmp_path / "smtp")
    running = []
    try:
        plan = plan_from(crowd())
        store = RedisStore(server.url, prefix="race:")
        engine = Engine(_settings(tmp_path, server.url, smtp.port), store)
        register(engine, plan, moment("2027-03-01 00:00"))
        now = moment("2027-03-10 15:00")
        keys = {i.key for i in store.items(plan.id) if i.due <= now}
        expected = len(keys)
        # Reminders, kickoffs, and an invitation per person and meeting (sent on sync).
        assert expected == PEOPLE * MEETINGS * 3 + PEOPLE
        # Everyone's clock reads 2027-03-10 15:00: every reminder and kickoff is due.
        offset = now - time.time()
        env = processes.celery_env(
            tmp_path / "data",
            server.url,
            "race:",
            PACTKEEPER_SMTP_HOST="127.0.0.1",
            PACTKEEPER_SMTP_PORT=str(smtp.port),
            PACTKEEPER_SMTP_TLS="none",
            PACTKEEPER_CLOCK_OFFSET=repr(offset),
        )
        logs = tmp_path / "logs"
        logs.mkdir()
        running += [
            processes.beat(env, tmp_path / f"beat{n}", logs / f"beat{n}.log") for n in range(2)
        ]
        running += [processes.worker(env, f"w{n}", logs / f"worker{n}.log") for n in range(3)]
        running += [processes.sweeper(env, logs / f"sweeper{n}.log", 60) for n in range(3)]
        assert processes.wait_until(
            lambda: processes.settled(store, plan.id, before=now), timeout=240
        ), store.counts(plan.id)
        states = Counter(i.state for i in store.items(plan.id) if i.key in keys)
        assert states == {"sent": expected}, states
        arrived = Counter(str(m["Message-ID"]) for m in smtp.messages())
        assert len(arrived) == expected
        assert max(arrived.values()) == 1, arrived.most_common(3)
        # The work was really shared: several processes delivered.
        senders = [log for log in logs.iterdir() if "sent reminder" in log.read_text()]
        assert len(senders) >= 2
    finally:
        for process in running:
            processes.stop(process)
        smtp.stop()
        server.stop()


def _settings(tmp_path: Path, redis_url: str, smtp_port: int) -> Any:
    from config.settings import Settings

    return Settings(
        data_dir=tmp_path / "data",
        redis_url=redis_url,
        redis_prefix="race:",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_tls="none",
        secret_key="test-signing-key",
        plans_dir=None,
    )
