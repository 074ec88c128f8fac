"""The store and the broker on a redis-server that speaks TLS only (issue 15, Must show 5).

The server listens on a TLS port alone (``--port 0``) and asks every client for a
certificate signed by the test's CA (``--tls-auth-clients yes``), so nothing here
can pass over plain TCP or without the client-certificate settings. The store runs
a delivery's whole compare-and-set path (register, claim, begin, finish); a real
Celery worker takes a sweep published over TLS and delivers to a local webhook sink;
a CA that did not sign the server's certificate is refused with one line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from tests import processes
from tests.http_sink import start_sink
from tests.redis_ha import (
    Certificates,
    TlsRedisServer,
    make_certificates,
    other_ca,
    reminders,
    webhook_plan,
)
from tests.support import run_cli
from worker.engine import Engine
from worker.plans.register import register
from worker.run.app import create_app
from worker.store import open_store
from worker.store.redis import RedisStore

pytestmark = [pytest.mark.system]

PREFIX = "tls:"
KEY = "tls-test-signing-key"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def server(tmp_path: Path, certificates: Certificates) -> Iterator[TlsRedisServer]:
    server = TlsRedisServer(tmp_path / "redis", certificates).start()
    try:
        yield server
    finally:
        server.stop()


def tls_settings(server: TlsRedisServer, data_dir: Path) -> dict[str, str]:
    """The deployment's settings, as PACTKEEPER_ names without the prefix."""
    c = server.certificates
    return {
        "redis_url": server.url,
        "redis_tls_ca": str(c.ca),
        "redis_tls_cert": str(c.client_cert),
        "redis_tls_key": str(c.client_key),
        "redis_prefix": PREFIX,
        "data_dir": str(data_dir),
        "secret_key": KEY,
    }


def test_the_store_keeps_its_ledger_over_tls(tmp_path: Path, server: TlsRedisServer) -> None:
    settings = Settings(**tls_settings(server, tmp_path / "data"), plans_dir=None)
    store = open_store(settings)
    assert isinstance(store, RedisStore) and store.place.secure
    try:
        plan = webhook_plan("https://hooks.example/pk")
        now = time.time()
        register(Engine(settings, store), plan, now)
        store.schedule(reminders(plan.id, 3, now - 1, per_second=10))
        claims = store.claim(now, limit=10, lease=60)
        assert sorted(c.key for c in claims) == ["stream000000", "stream000001", "stream000002"]
        item = store.begin(claims[0], now, lease=60)
        assert item is not None and item.state == "sending"
        assert store.finish(claims[0], "sent", now, detail="200", subject="Reminder")
        assert not store.finish(claims[0], "sent", now)  # the compare-and-set holds over TLS
        sent = store.get(claims[0].key)
        assert sent is not None and sent.state == "sent"
        assert store.counts(plan.id)["claimed"] == 2
    finally:
        store.close()


def test_a_celery_worker_delivers_through_a_tls_broker(
    tmp_path: Path, server: TlsRedisServer
) -> None:
    sink = start_sink(tmp_path / "sink")
    names = tls_settings(server, tmp_path / "data")
    settings = Settings(**names, plans_dir=None)
    store = open_store(settings)
    env = processes.celery_env(
        tmp_path / "data",
        server.url,
        PREFIX,
        **{f"PACTKEEPER_{name.upper()}": value for name, value in names.items()},
        PACTKEEPER_SWEEP_INTERVAL="3600",  # only the sweep this test publishes
    )
    worker = processes.worker(env, "tls", tmp_path / "worker.log", concurrency=1)
    try:
        plan = webhook_plan(f"{sink.url}/hook")
        now = time.time()
        register(Engine(settings, store), plan, now)
        (item,) = reminders(plan.id, 1, now - 1, per_second=1)
        store.schedule([item])
        sender = create_app(settings)
        assert sender.conf.broker_use_ssl["ssl_ca_certs"] == str(server.certificates.ca)
        sender.send_task("pactkeeper.sweep", queue="pactkeeper")
        log = tmp_path / "worker.log"
        assert processes.wait_until(lambda: len(sink.requests()) >= 1, 60), log.read_text()
        assert processes.wait_until(lambda: _state(store, item.key) == "sent", 30)
        (request,) = sink.requests()
        assert request["headers"]["Idempotency-Key"] == item.key
        assert json.loads(request["body"])["key"] == item.key
        sender.close()
    finally:
        processes.stop(worker)
        sink.stop()
        store.close()


def _state(store: RedisStore, key: str) -> str | None:
    item = store.get(key)
    return item.state if item is not None else None


def test_a_wrong_ca_is_one_clear_line(tmp_path: Path, server: TlsRedisServer) -> None:
    names = tls_settings(server, tmp_path / "data")
    names["redis_tls_ca"] = str(other_ca(tmp_path / "other-ca"))
    env = {f"PACTKEEPER_{name.upper()}": value for name, value in names.items()}
    result = run_cli("status", **env)
    lines = result.stderr.strip().splitlines()
    print(result.stderr)
    assert result.returncode != 0
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "cannot reach the Redis store" in lines[0]
    assert "certificate verify failed" in lines[0]


def test_a_missing_certificate_file_is_one_clear_line(
    tmp_path: Path, server: TlsRedisServer
) -> None:
    names = tls_settings(server, tmp_path / "data")
    names["redis_tls_cert"] = str(tmp_path / "nowhere.crt")
    env = {f"PACTKEEPER_{name.upper()}": value for name, value in names.items()}
    result = run_cli("status", **env)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"pactkeeper: PACTKEEPER_REDIS_TLS_CERT={tmp_path / 'nowhere.crt'} cannot be read: "
        "No such file or directory"
    ]
