"""Benchmark fixtures: both backends in one run, on the same machine, with the same data.

`bench_store` is parametrized over mysql and redis (ids [mysql]/[redis]); each backend gets one
scratch MySQL database / Redis key prefix for the whole session, removed at the end.
"""
from __future__ import annotations

import uuid
from typing import Iterator

import pytest
import redis as redis_lib

from relaystore.config import Settings, load_settings
from relaystore.mysql.schema import drop_database, init_database
from relaystore.store import Store

BENCH_ENCRYPTION_KEY = "relaystore-bench-encryption-key-32"


def bench_settings(**overrides: object) -> Settings:
    return load_settings(None, environ={"ENCRYPTION_KEY": BENCH_ENCRYPTION_KEY}, **overrides)


@pytest.fixture(scope="session")
def bench_mysql_store() -> Iterator[Store]:
    name = f"relaystore_bench_{uuid.uuid4().hex[:8]}"
    init_database(bench_settings(), database=name)
    store = Store(bench_settings(database_type="mysql", mysql_database=name))
    yield store
    store.close()
    drop_database(bench_settings(), name)


@pytest.fixture(scope="session")
def bench_redis_store() -> Iterator[Store]:
    prefix = f"rs_bench_{uuid.uuid4().hex[:8]}:"
    store = Store(bench_settings(database_type="redis", redis_key_prefix=prefix))
    yield store
    store.close()
    client = redis_lib.Redis(host="127.0.0.1", port=6379)
    batch = list(client.scan_iter(match=prefix + "*", count=5000))
    for start in range(0, len(batch), 5000):
        client.delete(*batch[start:start + 5000])
    client.close()


@pytest.fixture(params=["mysql", "redis"])
def bench_store(request: pytest.FixtureRequest) -> Store:
    """The backend under measurement; compare [mysql] with [redis] inside each benchmark group."""
    return request.getfixturevalue(f"bench_{request.param}_store")
