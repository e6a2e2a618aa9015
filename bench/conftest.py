"""Benchmark fixtures: both backends in one run, on the same machine, with the same data.

The data set is relaystore.benchload's: RELAYSTORE_BENCH_KEYS API keys (default 10,000, a short
run; the release runs use 100,000 and 1,000,000), identical records in a scratch MySQL database
and a scratch Redis prefix, dropped at the end. With RELAYSTORE_BENCH_KEEP=1 the data lives in
`relaystore_bench_<N>` / `rs_bench_<N>:` instead, is kept, and is reused by the next run when it
is complete (so a 1,000,000-key run loads once).

`bench_store` is parametrized over mysql and redis (ids [mysql]/[redis]); compare them inside a
benchmark group. Cases set `benchmark.extra_info["backend"]` so `relaystore bench-report` pairs them.
"""
from __future__ import annotations

import os
import platform
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import pymysql
import pytest
import redis as redis_lib

from relaystore import benchload
from relaystore.config import Settings, load_settings
from relaystore.mysql.pool import connect_args
from relaystore.mysql.schema import drop_database, init_database
from relaystore.store import Store

BENCH_ENCRYPTION_KEY = "relaystore-bench-encryption-key-32"
SCALE_BASE_KEYS = 10_000


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").replace("_", "").replace(",", "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise pytest.UsageError(f"{name} must be a positive whole number, got {os.environ[name]!r}")
    return int(raw)


BENCH_KEYS = _env_int("RELAYSTORE_BENCH_KEYS", SCALE_BASE_KEYS)
KEEP = os.environ.get("RELAYSTORE_BENCH_KEEP", "") not in ("", "0")


# Where the servers are may come from the environment; what the bench writes (database, key prefix,
# encryption key, key prefix of raw keys) never does, so a run cannot touch a relay's own data.
SERVER_VARIABLES = ("MYSQL_HOST", "MYSQL_PORT", "MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_POOL_SIZE",
                    "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB", "REDIS_URL", "REDIS_POOL_SIZE")


def bench_settings(**overrides: object) -> Settings:
    environ = {name: os.environ[name] for name in SERVER_VARIABLES if name in os.environ}
    return load_settings(None, environ=environ | {"ENCRYPTION_KEY": BENCH_ENCRYPTION_KEY}, **overrides)


@dataclass
class BenchData:
    """One loaded data set: its generator and a store per backend over the same records."""

    data: benchload.DataSet
    stores: dict[str, Store]

    @property
    def keys(self) -> int:
        return self.data.keys

    def sample_raw_keys(self, n: int, seed: int = 7) -> list[str]:
        """Raw keys of n distinct random keys (fewer if the set is smaller), built outside timed code."""
        rng = random.Random(seed)
        return [self.data.raw_key(i) for i in rng.sample(range(self.keys), min(n, self.keys))]


def _open_mysql(name: str, data: benchload.DataSet) -> tuple[Store, bool]:
    """The store on `name` and whether it still needs loading (a kept, complete set does not)."""
    init_database(bench_settings(), database=name)
    store = Store(bench_settings(database_type="mysql", mysql_database=name))
    target = benchload.MySQLTarget(store.pool)
    if KEEP and benchload.is_loaded(data, target):
        return store, False
    if target.count("api_keys"):  # a kept set that is incomplete or another size: start over
        store.close()
        drop_database(bench_settings(), name)
        init_database(bench_settings(), database=name)
        store = Store(bench_settings(database_type="mysql", mysql_database=name))
    return store, True


def _open_redis(prefix: str, data: benchload.DataSet) -> tuple[Store, bool]:
    store = Store(bench_settings(database_type="redis", redis_key_prefix=prefix))
    if KEEP and benchload.is_loaded(data, benchload.RedisTarget(store.redis, store.keys)):
        return store, False
    benchload.clear_redis_prefix(store.redis, prefix)
    return store, True


def _warm_mysql(store: Store) -> None:
    """Read the usage rows, then the auth index and the rows once, so the buffer pool holds what fits
    in it, as on a relay that has been serving for a while (Redis is in memory by construction). The
    auth data is read last: when not everything fits, the hottest path keeps its pages."""
    store.pool.fetchone("SELECT SUM(requests) AS n FROM usage_rollups")
    store.pool.fetchone("SELECT COUNT(key_hash) AS n FROM api_keys FORCE INDEX (uq_api_keys_key_hash)")
    store.pool.fetchone("SELECT SUM(LENGTH(extra)) AS n FROM api_keys")


def _data_set(request: pytest.FixtureRequest, keys: int) -> Iterator[BenchData]:
    tag = str(keys) if KEEP else f"{keys}_{uuid.uuid4().hex[:8]}"
    name, prefix = f"relaystore_bench_{tag}", f"rs_bench_{tag}:"
    data = benchload.DataSet(keys=keys, encryption_key=BENCH_ENCRYPTION_KEY,
                             timezone_offset=bench_settings().timezone_offset)
    mysql, mysql_pending = _open_mysql(name, data)
    redis_store, redis_pending = _open_redis(prefix, data)
    pending = ([benchload.MySQLTarget(mysql.pool)] if mysql_pending else []) + \
              ([benchload.RedisTarget(redis_store.redis, redis_store.keys)] if redis_pending else [])
    if pending:
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():  # show the progress bar of a long load
            sys.stderr.write(f"\nloading the benchmark data set ({keys:,} keys) into "
                             + " and ".join(t.backend for t in pending) + "\n")
            benchload.load(data, pending, progress=benchload.Progress)
    _warm_mysql(mysql)
    try:
        yield BenchData(data=data, stores={"mysql": mysql, "redis": redis_store})
    finally:
        mysql.close()
        if not KEEP:
            drop_database(bench_settings(), name)
            benchload.clear_redis_prefix(redis_store.redis, prefix)
        redis_store.close()


@pytest.fixture(scope="session")
def bench_data(request: pytest.FixtureRequest) -> Iterator[BenchData]:
    """The main data set: RELAYSTORE_BENCH_KEYS keys on both backends."""
    yield from _data_set(request, BENCH_KEYS)


@pytest.fixture(scope="session")
def scale_base_data(request: pytest.FixtureRequest, bench_data: BenchData) -> Iterator[BenchData]:
    """The 10,000-key set the scale case compares the main set with (the main set when that small)."""
    if BENCH_KEYS == SCALE_BASE_KEYS:
        yield bench_data
    else:
        yield from _data_set(request, SCALE_BASE_KEYS)


@pytest.fixture(scope="session")
def bench_mysql_store(bench_data: BenchData) -> Store:
    return bench_data.stores["mysql"]


@pytest.fixture(scope="session")
def bench_redis_store(bench_data: BenchData) -> Store:
    return bench_data.stores["redis"]


@pytest.fixture(params=["mysql", "redis"])
def bench_store(request: pytest.FixtureRequest) -> Store:
    """The backend under measurement; compare [mysql] with [redis] inside each benchmark group."""
    return request.getfixturevalue(f"bench_{request.param}_store")


def _server_facts() -> dict[str, Any]:
    """Versions and the server settings that move these numbers, for the report's machine section."""
    facts: dict[str, Any] = {"bench keys": f"{BENCH_KEYS:,}", "load average (1/5/15 min)":
                             " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"}
    settings = bench_settings()
    try:
        con = pymysql.connect(**connect_args(settings))
        try:
            with con.cursor() as cur:
                cur.execute("SELECT VERSION() AS v, @@innodb_buffer_pool_size AS bp, "
                            "@@innodb_flush_log_at_trx_commit AS flush, @@sync_binlog AS sync_binlog, "
                            "@@log_bin AS log_bin, @@thread_handling AS threads")
                row = cur.fetchone()
            facts["mysql server"] = (f"{row['v']}; innodb_buffer_pool_size {int(row['bp']) // 2**20} MiB, "
                                     f"innodb_flush_log_at_trx_commit {row['flush']}, sync_binlog "
                                     f"{row['sync_binlog']}, log_bin {row['log_bin']}, {row['threads']}")
        finally:
            con.close()
    except pymysql.err.MySQLError as exc:
        facts["mysql server"] = f"unreachable: {exc}"
    try:
        client = redis_lib.Redis.from_url(settings.redis_connection_url())
        info = client.info("server")
        persistence = client.info("persistence")
        facts["redis server"] = (f"{info.get('redis_version')}; aof_enabled {persistence.get('aof_enabled')}, "
                                 f"io_threads {info.get('io_threads_active', 0)}")
        client.close()
    except redis_lib.RedisError as exc:
        facts["redis server"] = f"unreachable: {exc}"
    hiredis = getattr(sys.modules.get("redis.utils"), "HIREDIS_AVAILABLE", False)
    facts["clients"] = (f"PyMySQL {version('PyMySQL')}, redis-py {version('redis')} "
                        f"({'hiredis' if hiredis else 'pure-Python'} parser), {platform.python_implementation()}")
    return facts


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    """Add the servers, clients and data-set size to the JSON's machine_info (the report prints it)."""
    machine_info["relaystore"] = _server_facts()
