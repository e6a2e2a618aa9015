"""Fixtures on the real servers: each test gets its own MySQL database and Redis key prefix."""
from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest
import redis as redis_lib

from relaystore.config import Settings, load_settings
from relaystore.mysql.schema import drop_database, init_database
from relaystore.store import Store

TEST_ENCRYPTION_KEY = "relaystore-test-encryption-key-32"
_START_HINT = {
    3306: "start MariaDB: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd "
          "(or run scripts/setup.sh)",
    6379: "start Redis: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no "
          "(or run scripts/setup.sh)",
}


def _require_server(port: int) -> None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        pytest.fail(f"no server on 127.0.0.1:{port}; {_START_HINT[port]}", pytrace=False)


def base_settings(**overrides: object) -> Settings:
    """Test settings: the real local servers, a fixed encryption key, nothing from the caller's env."""
    return load_settings(None, environ={"ENCRYPTION_KEY": TEST_ENCRYPTION_KEY}, **overrides)


@pytest.fixture
def mysql_database() -> Iterator[str]:
    """A fresh database with schema and seed applied, dropped afterwards."""
    _require_server(3306)
    name = f"relaystore_test_{uuid.uuid4().hex[:8]}"
    settings = base_settings()
    init_database(settings, database=name)
    try:
        yield name
    finally:
        drop_database(settings, name)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique key prefix; every key under it is deleted afterwards."""
    _require_server(6379)
    prefix = f"rs_test_{uuid.uuid4().hex[:8]}:"
    try:
        yield prefix
    finally:
        client = redis_lib.Redis(host="127.0.0.1", port=6379)
        batch = list(client.scan_iter(match=prefix.replace("[", "\\[") + "*", count=1000))
        for start in range(0, len(batch), 1000):
            client.delete(*batch[start:start + 1000])
        client.close()


@pytest.fixture
def mysql_store(mysql_database: str) -> Iterator[Store]:
    store = Store(base_settings(database_type="mysql", mysql_database=mysql_database))
    yield store
    store.close()


@pytest.fixture
def redis_store(redis_prefix: str) -> Iterator[Store]:
    store = Store(base_settings(database_type="redis", redis_key_prefix=redis_prefix))
    yield store
    store.close()


@pytest.fixture(params=["mysql", "redis"])
def store(request: pytest.FixtureRequest) -> Store:
    """The contract fixture: every test using it runs once per backend ([mysql] and [redis])."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def raw_redis(redis_store: Store) -> redis_lib.Redis:
    """The Redis client behind redis_store, for writing and reading upstream's layout directly."""
    return redis_store.redis
