"""A Redis failover during a steady stream of deliveries (issue 15, Must show 4).

A real primary, a replica and three Sentinels on loopback ports; a Celery beat and
two Celery workers that reach the store and the broker through the Sentinels only
(``PACTKEEPER_REDIS_SENTINELS`` + ``PACTKEEPER_REDIS_MASTER``); reminders falling due
50 a second for 25 seconds to a signed webhook (the local HTTP sink). Eight seconds
in, the primary is SIGKILLed. The Sentinels promote the replica, the killed node
comes back as its replica, and the workers carry on. Counted by item key at the
sink: nothing lost, and nothing sent blind a second time; a key that arrived twice
must be one the ledger re-sent after an unknown outcome (same Idempotency-Key, so
the receiver acts once). ``bench/bench_failover.py --runs 5`` repeats it, with and
without WAIT.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import SettingsError
from config.settings import Settings
from tests.redis_ha import MASTER, SentinelGroup, failover_run
from worker.store.redis import store_for

pytestmark = [pytest.mark.system, pytest.mark.slow]


def test_a_killed_primary_loses_and_repeats_nothing(tmp_path: Path) -> None:
    report = failover_run(tmp_path, wait_replicas=1)
    print(f"\nfailover report: {report.line()}")
    assert report.lost == 0, _what_happened(tmp_path)
    assert report.scheduled == 1250
    assert report.sent_before_kill > 0  # the kill landed inside the stream
    assert report.sent_before_kill < report.scheduled
    assert report.blind_duplicates == 0
    assert report.duplicated == report.resent_after_unknown
    assert report.states.get("sent", 0) + report.states.get("unknown", 0) == report.scheduled
    # Must show 4 asks for the measured failover; generous bound, the figure is printed.
    assert report.promotion_seconds < 20


def test_the_store_finds_the_primary_through_the_sentinels(tmp_path: Path) -> None:
    group = SentinelGroup(tmp_path / "ha", replicas=1).start()
    try:
        settings = Settings(
            data_dir=tmp_path / "data",
            redis_sentinels=group.addresses,
            redis_master=MASTER,
            secret_key="sentinel-test-signing-key",
        )
        assert settings.redis_url is not None  # Sentinels alone say "Redis"
        assert settings.redis_wait == 1
        store = store_for(settings)
        assert store.once("sentinel-test")
        assert not store.once("sentinel-test")
        assert store.redis.info("server")["tcp_port"] == group.primary.port
        assert store.redis.info("replication")["role"] == "master"
        store.close()
    finally:
        group.stop()


def _what_happened(folder: Path) -> str:
    """The last lines of the workers' logs and the Sentinels' events, for a failure."""
    logs = sorted((folder / "logs").glob("*.log")) + sorted((folder / "ha").glob("sentinel*/*.log"))
    return "\n".join(f"--- {log}\n" + "\n".join(log.read_text().splitlines()[-15:]) for log in logs)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"redis_sentinels": "127.0.0.1:26379"},
            "Sentinels are set but PACTKEEPER_REDIS_MASTER is not",
        ),
        (
            {"redis_url": "sentinel://127.0.0.1:26379;sentinel://127.0.0.1:26380"},
            "Sentinels are set but PACTKEEPER_REDIS_MASTER is not",
        ),
        (
            {"redis_sentinels": "127.0.0.1", "redis_master": "m"},
            "PACTKEEPER_REDIS_SENTINELS is not valid: '127.0.0.1' is not host:port",
        ),
        (
            {"redis_url": "redis://:s3cret@localhost/0", "redis_master": "m"},
            "PACTKEEPER_REDIS_MASTER is set but no Sentinels are",
        ),
        (
            {"redis_url": "redis://:s3cret@localhost/0", "redis_tls_ca": "/etc/hostname"},
            "PACTKEEPER_REDIS_TLS_CA is set but PACTKEEPER_REDIS_URL is redis:// (no TLS)",
        ),
        (
            {"redis_url": "rediss://:s3cret@localhost/0", "redis_tls_key": "/etc/hostname"},
            "PACTKEEPER_REDIS_TLS_KEY is set but PACTKEEPER_REDIS_TLS_CERT is not",
        ),
    ],
)
def test_settings_that_cannot_work_together_are_one_line(
    tmp_path: Path, values: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(data_dir=tmp_path, **values)
    text = str(refused.value)
    assert text.startswith(message)
    assert "\n" not in text and "s3cret" not in text
