"""Fixtures: real servers started by the tests, one store of each kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import clients
from tests.clients import Client
from tests.servers import RedisServer
from worker.store.base import Store


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session; tests that restart it use their own."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each contract test runs against both backends."""
    if request.param == "sqlite":
        from worker.store.sqlite import SqliteStore

        sqlite_store = SqliteStore(tmp_path / "store.sqlite3")
        yield sqlite_store
        sqlite_store.close()
        return
    from worker.store.redis import RedisStore

    server: RedisServer = request.getfixturevalue("redis_server")
    redis_store = RedisStore(server.url, prefix=f"t{id(tmp_path)}:")
    yield redis_store
    redis_store.flush()
    redis_store.close()


@pytest.fixture(scope="session")
def calendar_clients(tmp_path_factory: pytest.TempPathFactory) -> tuple[Client, Client]:
    """ical.js and libical (compiled once per session). Missing ones fail the tests that
    need them, saying what to run: a skipped client would prove nothing."""
    try:
        return clients.icaljs(), clients.libical(tmp_path_factory.mktemp("libical"))
    except clients.ClientMissing as missing:
        problem = str(missing)
    pytest.fail(problem, pytrace=False)  # outside the except: no chained traceback
