"""Migration at scale: a round trip of every family, and Redis -> MySQL throughput (keys per second).

Runs on its own Redis database number (RELAYSTORE_BENCH_REDIS_DB, default 9) under a scratch
prefix: SCAN walks a whole database, and the shared database 0 of a development machine holds
other people's keys, which would be measured too. The keyspace is filled through the Redis DAO's
own layout code plus every family's test-data writer (tests/migrate/fills.py: API keys with updates,
deletes, restores and purges; usage, accounts, sessions, leases, ... through their Redis DAOs).

Throughput is measured on two keyspaces:
- `relay`: what a relay's keyspace holds. The bench data set (relaystore.benchload: API keys, one in
  ten active with 30 days of usage, accounts, groups) for RELAY_API_KEYS keys, plus every family's
  fill. At 100,000 keys that data set is 1.82 million Redis keys of which 5.5% are API keys and
  ~94% usage and cost counters; this one has the same proportions.
- `api_keys`: 10,000 API keys plus the fills, two thirds API keys: the worst case, since an API key
  (52 columns, tags) is the most expensive record to copy.

    PYTHONPATH=$PWD python3 -m pytest bench/test_bench_migrate.py -q
"""
from __future__ import annotations

import io
import os
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib
from conftest import bench_settings  # bench/conftest.py (bench has no __init__.py)

from relaystore import apikey_rules as rules
from relaystore import benchload
from relaystore.config import Settings
from relaystore.migrate.rollback import mysql_to_redis
from relaystore.migrate.run import Options, migrate_redis_to_mysql
from relaystore.migrate.verify import verify
from relaystore.mysql.schema import drop_database, init_database
from relaystore.redis.api_keys import queue_write
from relaystore.store import Store
from relaystore.timefmt import utcnow
from tests.migrate.conftest import UPSTREAM_MARKERS, assert_keyspaces_equal, keyspace
from tests.migrate.fills import fill_all

REDIS_DB = int(os.environ.get("RELAYSTORE_BENCH_REDIS_DB", "9"))
FAST_KEYS = 10_000     # written with the DAO's layout code in pipelines
RELAY_API_KEYS = 2_000  # API keys of the bench data set in the `relay` keyspace (~18 Redis keys each)
MIX_RECORDS = 600      # per family, written through the DAOs by tests/migrate/fills.py


def _drop_prefix(prefix: str) -> None:
    client = redis_lib.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    batch = list(client.scan_iter(match=prefix + "*", count=5000))
    for start in range(0, len(batch), 5000):
        client.delete(*batch[start:start + 5000])
    client.close()


@pytest.fixture(scope="module")
def keyspace_10k() -> Iterator[Settings]:
    """A prefix holding 10,000 API keys plus every family's mix, removed afterwards."""
    prefix = f"rs_bench_{uuid.uuid4().hex[:8]}:"
    settings = bench_settings(database_type="redis", redis_key_prefix=prefix, redis_db=REDIS_DB)
    with Store(settings) as store:
        fill_all(store, MIX_RECORDS, seed=11)
        rng = random.Random(5)
        pipe = store.redis.pipeline(transaction=False)
        for i in range(FAST_KEYS):
            fields = {"tags": rng.sample(["prod", "dev", "team-a"], rng.randint(0, 2)),
                      "daily_cost_limit": rng.choice([0, 5, 20])}
            key, _ = rules.new_api_key(f"bench key {i}", fields, prefix="cr_",
                                       encryption_key=settings.encryption_key, now=utcnow())
            queue_write(pipe, store.keys, key)
            if i % 500 == 499:
                pipe.execute()
                pipe = store.redis.pipeline(transaction=False)
        pipe.execute()
        for name, value in UPSTREAM_MARKERS.items():
            store.redis.set(prefix + name, value)
    yield settings
    _drop_prefix(prefix)


@pytest.fixture(scope="module")
def keyspace_relay() -> Iterator[Settings]:
    """A prefix holding the bench data set of RELAY_API_KEYS keys plus every family's mix."""
    prefix = f"rs_bench_{uuid.uuid4().hex[:8]}:"
    settings = bench_settings(database_type="redis", redis_key_prefix=prefix, redis_db=REDIS_DB)
    with Store(settings) as store:
        data = benchload.DataSet(keys=RELAY_API_KEYS, encryption_key=settings.encryption_key,
                                 timezone_offset=settings.timezone_offset)
        benchload.load(data, [benchload.RedisTarget(store.redis, store.keys)])
        fill_all(store, MIX_RECORDS, seed=11)
    yield settings
    _drop_prefix(prefix)


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = f"relaystore_bench_{uuid.uuid4().hex[:8]}"
    init_database(bench_settings(), database=name)
    yield name
    drop_database(bench_settings(), name)


def _migrate(source: Settings, database: str, tmp_path) -> tuple[Settings, Any]:
    """Copy a bench keyspace into `database` with 2 workers; the settings used and the run's summary."""
    settings = bench_settings(mysql_database=database, redis_key_prefix=source.redis_key_prefix, redis_db=REDIS_DB)
    summary = migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / "m.log"), progress=False, workers=2),
                                     stderr=io.StringIO())
    return settings, summary


def test_round_trip_of_10k_keys(keyspace_10k, fresh_database, tmp_path):
    """>= 10,000 keys: migrate -> verify clean -> rollback into an empty prefix -> equal keyspace."""
    settings, summary = _migrate(keyspace_10k, fresh_database, tmp_path)
    assert summary.exit_code == 0
    assert summary.families[0].totals.written >= FAST_KEYS
    out = io.StringIO()
    assert all(d.clean for d in verify(settings, out=out)), out.getvalue()
    target = bench_settings(mysql_database=fresh_database, redis_key_prefix=f"rs_bench_{uuid.uuid4().hex[:8]}:",
                            redis_db=REDIS_DB)
    try:
        mysql_to_redis(target, log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
        original = keyspace(None, keyspace_10k.redis_key_prefix, db=REDIS_DB)
        assert len(original) > FAST_KEYS
        # The rollback re-arms each API key's 365-day TTL, as every upstream write does: the two TTLs
        # differ by the time between filling the keyspace and the rollback (seconds at this size).
        assert_keyspaces_equal(original, keyspace(None, target.redis_key_prefix, db=REDIS_DB), ttl_tolerance=120)
    finally:
        _drop_prefix(target.redis_key_prefix)


def test_relay_mix_migrates_and_verifies_clean(keyspace_relay, fresh_database, tmp_path):
    """The throughput keyspace copies without a skipped key and compares equal, so its keys/s count real copies."""
    settings, summary = _migrate(keyspace_relay, fresh_database, tmp_path)
    assert summary.exit_code == 0
    assert sum(f.totals.written for f in summary.families) >= 10 * RELAY_API_KEYS
    out = io.StringIO()
    assert all(d.clean for d in verify(settings, out=out)), out.getvalue()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("mix", ["relay", "api_keys"])
@pytest.mark.benchmark(group="migrate.redis_to_mysql")
def test_migrate_throughput(benchmark, request, mix, workers, tmp_path):
    """Keys per second of a first copy into an empty database (setup, not timed, makes the database)."""
    source = request.getfixturevalue("keyspace_relay" if mix == "relay" else "keyspace_10k")
    made: list[str] = []

    def setup():
        made.append(f"relaystore_bench_{uuid.uuid4().hex[:8]}")
        init_database(bench_settings(), database=made[-1])
        settings = bench_settings(mysql_database=made[-1], redis_key_prefix=source.redis_key_prefix,
                                  redis_db=REDIS_DB)
        return (settings,), {}

    def run(settings):
        return migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / "t.log"), progress=False,
                                                        workers=workers), stderr=io.StringIO())

    try:
        summary = benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    finally:
        for name in made:
            drop_database(bench_settings(), name)
    keys = sum(f.totals.read for f in summary.families)
    copying = sum(f.seconds for f in summary.families)
    benchmark.extra_info["keys"] = keys
    benchmark.extra_info["keys_per_family"] = {f.name: f.totals.read for f in summary.families}
    benchmark.extra_info["keys_per_s_best_round"] = round(keys / benchmark.stats.stats.min)
    benchmark.extra_info["keys_per_s_copying_last_round"] = round(keys / copying)
    assert summary.exit_code == 0 and keys >= 10_000
