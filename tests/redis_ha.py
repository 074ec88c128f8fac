"""Redis as people run it, for the tests: over TLS, and a primary with replicas and Sentinels.

Every server is a real ``redis-server`` on a free loopback port, started here and
stopped by its pid. Certificates are made with the ``openssl`` command (the
``cryptography`` package is not in the lock): a CA, a server certificate for
127.0.0.1 and localhost, and a client certificate, all signed by that CA.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from config.plan import Plan
from config.settings import Settings
from tests import processes
from tests.http_sink import start_sink
from tests.servers import free_port, wait_for_port
from tests.support import minimal_data, plan_from
from worker.engine import Engine
from worker.plans.register import register
from worker.store.base import Item
from worker.store.redis import store_for

MASTER = "pkprimary"


def _openssl(*args: str, folder: Path) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)


@dataclass(frozen=True)
class Certificates:
    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.folder / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.folder / "client.key"


def make_ca(folder: Path, name: str = "ca") -> None:
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN=pactkeeper test {name}",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.crt",
        folder=folder,
    )


def _signed(folder: Path, name: str, extensions: str) -> None:
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        f"/CN=pactkeeper test {name}",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        folder=folder,
    )
    (folder / f"{name}.ext").write_text(extensions)
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        f"{name}.ext",
        "-out",
        f"{name}.crt",
        folder=folder,
    )


def make_certificates(folder: Path) -> Certificates:
    """A CA and the server and client certificates it signs, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    make_ca(folder)
    _signed(folder, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _signed(folder, "client", "extendedKeyUsage=clientAuth\n")
    return Certificates(folder)


def other_ca(folder: Path) -> Path:
    """A CA that signed nothing the server shows: trusting it alone must fail."""
    folder.mkdir(parents=True, exist_ok=True)
    make_ca(folder, "other")
    return folder / "other.crt"


def _start(command: list[str], folder: Path) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def _kill(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL) -> None:
    if process is not None and process.poll() is None:
        os.kill(process.pid, sig)
        process.wait(timeout=10)


class TlsRedisServer:
    """A redis-server that speaks TLS only (``--port 0``) and asks clients for a
    certificate signed by the CA."""

    def __init__(self, folder: Path, certificates: Certificates) -> None:
        self.folder = folder
        self.certificates = certificates
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    def start(self) -> TlsRedisServer:
        c = self.certificates
        self.process = _start(
            [
                "redis-server",
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--tls-cert-file",
                str(c.server_cert),
                "--tls-key-file",
                str(c.server_key),
                "--tls-ca-cert-file",
                str(c.ca),
                "--tls-auth-clients",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--logfile",
                str(self.folder / "redis.log"),
            ],
            self.folder,
        )
        wait_for_port(self.port)
        client = redis.Redis.from_url(self.url, **self.client_tls())
        _until(lambda: bool(client.ping()), "the TLS redis-server did not answer PING")
        client.close()
        return self

    def client_tls(self) -> dict[str, Any]:
        c = self.certificates
        return {
            "ssl_ca_certs": str(c.ca),
            "ssl_certfile": str(c.client_cert),
            "ssl_keyfile": str(c.client_key),
        }

    def stop(self) -> None:
        _kill(self.process)
        self.process = None


class RedisNode:
    """One data node of the group: a primary, or a replica of ``primary_port``."""

    def __init__(self, folder: Path, primary_port: int | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.primary_port = primary_port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisNode:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.folder),
            "--logfile",
            str(self.folder / "redis.log"),
        ]
        if self.primary_port is not None:
            command += ["--replicaof", "127.0.0.1", str(self.primary_port)]
        self.process = _start(command, self.folder)
        wait_for_port(self.port)
        return self

    def kill(self) -> None:
        _kill(self.process)
        self.process = None


class SentinelNode:
    def __init__(self, folder: Path, primary_port: int, quorum: int) -> None:
        self.folder = folder
        self.port = free_port()
        self.primary_port = primary_port
        self.quorum = quorum
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, down_after_ms: int, failover_timeout_ms: int) -> SentinelNode:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "sentinel.conf"  # Sentinel rewrites it: one file each
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.folder}\n"
            f"logfile {self.folder / 'sentinel.log'}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} {self.quorum}\n"
            f"sentinel down-after-milliseconds {MASTER} {down_after_ms}\n"
            f"sentinel failover-timeout {MASTER} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )
        self.process = _start(["redis-server", str(config), "--sentinel"], self.folder)
        wait_for_port(self.port)
        return self

    def primary(self) -> tuple[str, int] | None:
        client = redis.Redis(port=self.port, socket_timeout=1, decode_responses=True)
        try:
            address = client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
        except redis.RedisError:
            return None
        finally:
            client.close()
        return (address[0], int(address[1])) if address else None

    def kill(self) -> None:
        _kill(self.process)
        self.process = None


class SentinelGroup:
    """A primary, ``replicas`` replicas and three Sentinels (quorum 2) watching them.

    ``down_after_ms`` and ``failover_timeout_ms`` are small so that a killed primary is
    replaced within a few seconds.
    """

    def __init__(
        self,
        folder: Path,
        replicas: int = 1,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
    ) -> None:
        self.folder = folder
        self.primary = RedisNode(folder / "node0")
        self.replicas = [
            RedisNode(folder / f"node{n + 1}", self.primary.port) for n in range(replicas)
        ]
        self.sentinels = [
            SentinelNode(folder / f"sentinel{n}", self.primary.port, quorum=2) for n in range(3)
        ]
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms

    @property
    def addresses(self) -> str:
        """PACTKEEPER_REDIS_SENTINELS for this group."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    @property
    def nodes(self) -> list[RedisNode]:
        return [self.primary, *self.replicas]

    def start(self) -> SentinelGroup:
        try:
            return self._start()
        except BaseException:
            self.stop()  # no server outlives a group that did not come up
            raise

    def _start(self) -> SentinelGroup:
        self.primary.start()
        for replica in self.replicas:
            replica.start()
        _until(self._replicas_in_sync, "the replicas did not catch up with the primary")
        for sentinel in self.sentinels:
            sentinel.start(self.down_after_ms, self.failover_timeout_ms)
        _until(self._sentinels_see_everyone, "the Sentinels did not find each other", 30)
        return self

    def _replicas_in_sync(self) -> bool:
        client = redis.Redis(port=self.primary.port, decode_responses=True)
        try:
            info = client.info("replication")
        finally:
            client.close()
        online = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
        return len([r for r in online if r.get("state") == "online"]) == len(self.replicas)

    def _sentinels_see_everyone(self) -> bool:
        client = redis.Redis(port=self.sentinels[0].port, decode_responses=True)
        try:
            master = client.execute_command("SENTINEL", "master", MASTER)
        finally:
            client.close()
        # redis-py answers with a dict (its SENTINEL MASTER parser)
        fields = master if isinstance(master, dict) else {}
        return int(fields.get("num-other-sentinels", 0)) == len(self.sentinels) - 1 and int(
            fields.get("num-slaves", 0)
        ) == len(self.replicas)

    def current_primary(self) -> int | None:
        """The primary's port as the Sentinels tell it."""
        for sentinel in self.sentinels:
            address = sentinel.primary()
            if address is not None:
                return address[1]
        return None

    def kill_primary(self) -> RedisNode:
        """SIGKILL the node the Sentinels call primary now; the killed node."""
        port = self.current_primary()
        node = next(n for n in self.nodes if n.port == port)
        node.kill()
        return node

    def wait_for_promotion(self, old_port: int, timeout: float = 30.0) -> float:
        """Seconds until every Sentinel names a new primary (and that node says so)."""
        start = time.monotonic()

        def promoted() -> bool:
            ports = {s.primary() for s in self.sentinels}
            if len(ports) != 1 or None in ports:
                return False
            (address,) = ports
            assert address is not None
            if address[1] == old_port:
                return False
            client = redis.Redis(port=address[1], decode_responses=True, socket_timeout=1)
            try:
                return client.info("replication").get("role") == "master"
            except redis.RedisError:
                return False
            finally:
                client.close()

        _until(promoted, "the Sentinels promoted no replica", timeout)
        return time.monotonic() - start

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.kill()
        for node in self.nodes:
            node.kill()


def _until(condition: Any, failure: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            pass
        time.sleep(0.05)
    raise TimeoutError(failure)


def webhook_plan(url: str) -> Plan:
    """The minimal plan with one meeting, and Tim reached by a signed webhook at ``url``
    (it sends the ledger key as ``Idempotency-Key``)."""
    data = minimal_data()
    data["communication"]["channels"]["webhook"] = {"url": url}
    data["people"][1]["channels"] = ["webhook"]
    data["milestones"] = [
        {
            "id": "m",
            "title": "Planning session",
            "at": "2027-06-10 12:00",
            "duration": "1h",
            "attendees": ["tim"],
            "remind": ["1d"],
        }
    ]
    return plan_from(data)


def reminders(plan_id: str, count: int, first_due: float, per_second: float) -> list[Item]:
    """``count`` reminders to Tim falling due ``per_second`` a second from ``first_due``."""
    return [
        Item(
            key=f"stream{n:06d}",
            plan_id=plan_id,
            kind="reminder",
            ref="m",
            due=first_due + n / per_second,
            recipient="tim",
            channel="webhook",
            origin="engine",
            data={"zone": "Europe/Amsterdam"},
        )
        for n in range(count)
    ]


@dataclass
class FailoverReport:
    """What one failover run did: counts by item key, and the moments that matter."""

    wait_replicas: int
    scheduled: int = 0
    delivered: int = 0  # keys that reached the sink at least once
    lost: int = 0  # scheduled, never reached the sink
    duplicated: int = 0  # keys that reached the sink more than once, of which:
    # re-sent by the ledger after an unknown outcome (a "sent" lost at the failover), with
    # the same Idempotency-Key: the receiver acts once, and channels that do not
    # de-duplicate tell the lead instead of re-sending;
    resent_after_unknown: int = 0
    # sent again with no attempt recorded: the ledger lost "sending" and sent blind.
    blind_duplicates: int = 0
    requests: int = 0
    states: dict[str, int] = field(default_factory=dict)
    sent_before_kill: int = 0
    promotion_seconds: float = 0.0
    longest_gap_seconds: float = 0.0  # the longest pause between two arrivals at the sink
    settle_seconds: float = 0.0
    unconfirmed_waits: int = 0  # deliveries put back because no replica confirmed "sending"
    # How each duplicate came about: its attempts and the ledger's last detail.
    duplicates: list[str] = field(default_factory=list)

    def line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def failover_run(
    folder: Path,
    wait_replicas: int,
    seconds: float = 25.0,
    per_second: float = 50.0,
    kill_after: float = 8.0,
) -> FailoverReport:
    """A steady stream to a webhook sink through Celery workers on a Sentinel group; the
    primary is SIGKILLed ``kill_after`` seconds in, and started again (as a container's
    restart policy would) once the Sentinels promoted the replica, so that it rejoins as
    the new primary's replica."""
    group = SentinelGroup(folder / "ha", replicas=1, down_after_ms=2000, failover_timeout_ms=6000)
    sink = start_sink(folder / "sink")
    workers: list[subprocess.Popen[bytes]] = []
    beat = None
    report = FailoverReport(wait_replicas)
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    group.start()
    try:
        settings = _failover_settings(folder, group, wait_replicas)
        store = store_for(settings)
        plan = webhook_plan(f"{sink.url}/hook")
        now = time.time()
        register(Engine(settings, store), plan, now)
        first_due = now + 5
        items = reminders(plan.id, int(seconds * per_second), first_due, per_second)
        store.schedule(items)
        report.scheduled = len(items)
        env = _failover_env(folder, group, wait_replicas)
        beat = processes.beat(env, folder / "beat-schedule", logs / "beat.log")
        workers = [processes.worker(env, f"w{n}", logs / f"w{n}.log") for n in range(2)]
        time.sleep(max(0.0, first_due + kill_after - time.time()))
        report.sent_before_kill = len(sink.requests())
        killed = group.kill_primary()
        report.promotion_seconds = round(group.wait_for_promotion(killed.port), 2)
        killed.start()  # comes back empty; the Sentinels make it the new primary's replica
        started = time.monotonic()
        keys = {item.key for item in items}
        processes.wait_until(lambda: _settled(store, plan.id, keys), timeout=240, step=1.0)
        report.settle_seconds = round(time.monotonic() - started, 1)
        _count(report, store, plan.id, keys, sink.requests())
        report.unconfirmed_waits = sum(
            (logs / f"w{n}.log").read_text().count("replicas confirmed the start") for n in range(2)
        )
        store.close()
    finally:
        for worker in workers:
            processes.stop(worker, signal.SIGKILL)
        if beat is not None:
            processes.stop(beat)
        sink.stop()
        group.stop()
    return report


def _failover_settings(folder: Path, group: SentinelGroup, wait_replicas: int) -> Settings:
    return Settings(
        data_dir=folder / "data",
        redis_sentinels=group.addresses,
        redis_master=MASTER,
        redis_prefix="ha:",
        redis_wait_replicas=wait_replicas,
        secret_key="failover-test-signing-key",
        plans_dir=None,
    )


def _failover_env(folder: Path, group: SentinelGroup, wait_replicas: int) -> dict[str, str]:
    env = processes.celery_env(
        folder / "data",
        "",
        "ha:",
        PACTKEEPER_REDIS_SENTINELS=group.addresses,
        PACTKEEPER_REDIS_MASTER=MASTER,
        PACTKEEPER_REDIS_WAIT_REPLICAS=str(wait_replicas),
        PACTKEEPER_SECRET_KEY="failover-test-signing-key",
        PACTKEEPER_SWEEP_INTERVAL="0.5",
        PACTKEEPER_LEASE_SECONDS="10",
        PACTKEEPER_REAP_INTERVAL="2",
        PACTKEEPER_HTTP_READ_TIMEOUT="5",
    )
    del env["PACTKEEPER_REDIS_URL"]  # the Sentinels alone name the Redis
    return env


def _settled(store: Any, plan_id: str, keys: set[str]) -> bool:
    """Every streamed item at an end (sent, unknown, failed) and every outcome acted on."""
    try:
        open_items = store.items(plan_id, ("due", "claimed", "sending"))
        return not any(i.key in keys for i in open_items) and not store.follow_ups()
    except redis.RedisError:
        return False


def _count(
    report: FailoverReport,
    store: Any,
    plan_id: str,
    keys: set[str],
    requests: list[dict[str, Any]],
) -> None:
    arrivals = Counter(r["headers"].get("Idempotency-Key") for r in requests)
    report.requests = len(requests)
    report.delivered = sum(1 for key in keys if arrivals[key] > 0)
    report.lost = sum(1 for key in keys if arrivals[key] == 0)
    report.duplicated = sum(1 for key in keys if arrivals[key] > 1)
    items = {i.key: i for i in store.items(plan_id) if i.key in keys}
    report.states = dict(Counter(items[key].state if key in items else "gone" for key in keys))
    twice = [key for key in keys if arrivals[key] > 1 and key in items]
    report.resent_after_unknown = sum(1 for key in twice if items[key].attempts > 0)
    report.blind_duplicates = sum(1 for key in twice if items[key].attempts == 0)
    report.duplicates = [
        f"{key}: attempts {items[key].attempts}, {items[key].detail!r}"
        for key in sorted(keys)
        if arrivals[key] > 1 and key in items
    ]
    moments = sorted(float(r["at"]) for r in requests)
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    report.longest_gap_seconds = round(max(gaps, default=0.0), 2)
