"""Migration fixtures: a Redis keyspace populated through the Redis DAO as a relay would, more
scratch databases and prefixes, and helpers that compare keyspaces and MySQL contents exactly."""
from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pymysql
import pytest
import redis as redis_lib

from relaystore.config import Settings
from relaystore.mysql.pool import connect_args
from relaystore.mysql.schema import drop_database, init_database
from relaystore.records import ApiKey
from relaystore.store import Store
from relaystore.timefmt import utcnow
from tests.conftest import TEST_ENCRYPTION_KEY, base_settings

ROOT = Path(__file__).resolve().parents[2]
SEQ_KEY = "relaystore:migration:seq"
UPSTREAM_MARKERS = {"apikey:index:version": "2", "account_groups_reverse:migrated": "true"}
# Tables a migration writes data into; migration_sync is its bookkeeping (sequence numbers move on re-runs).
DATA_TABLES = ("api_keys", "api_key_tags", "system_settings",
               "lease_keys", "leases", "lease_key_expiry", "concurrency_queue_counts", "concurrency_queue_stats",
               "concurrency_queue_wait_lists", "concurrency_queue_wait_times", "rate_limit_windows",
               "users", "user_sessions", "admin_sessions", "admin_credentials", "oauth_sessions", "sticky_sessions",
               "request_details",
               "accounts", "account_groups", "account_group_members", "account_state", "account_test_results",
               "usage_rollups")


def _delete_prefix(prefix: str) -> None:
    client = redis_lib.Redis(host="127.0.0.1", port=6379)
    batch = list(client.scan_iter(match=prefix.replace("[", "\\[") + "*", count=1000))
    for start in range(0, len(batch), 1000):
        client.delete(*batch[start:start + 1000])
    client.close()


@pytest.fixture
def make_prefix() -> Iterator[Callable[[], str]]:
    """More empty Redis prefixes (rollback and import targets), deleted afterwards."""
    made: list[str] = []

    def make() -> str:
        made.append(f"rs_test_{uuid.uuid4().hex[:8]}:")
        return made[-1]

    yield make
    for prefix in made:
        _delete_prefix(prefix)


@pytest.fixture
def make_database() -> Iterator[Callable[[], str]]:
    """More scratch databases with schema and seed, dropped afterwards."""
    made: list[str] = []

    def make() -> str:
        made.append(f"relaystore_test_{uuid.uuid4().hex[:8]}")
        init_database(base_settings(), database=made[-1])
        return made[-1]

    yield make
    for name in made:
        drop_database(base_settings(), name)


@pytest.fixture
def settings(mysql_database: str, redis_prefix: str) -> Settings:
    """Both servers: the test's MySQL database and Redis prefix."""
    return base_settings(mysql_database=mysql_database, redis_key_prefix=redis_prefix)


@pytest.fixture
def client() -> Iterator[redis_lib.Redis]:
    c = redis_lib.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    yield c
    c.close()


def populate(store: Store, n: int, *, seed: int = 7) -> list[ApiKey]:
    """n keys through the Redis DAO with the variety a relay produces: tags, limits, activation keys,
    usage times, soft deletes, restores, purges, upstream fields relaystore does not model."""
    rng = random.Random(seed)
    dao = store.api_keys
    keys = []
    now = utcnow()
    names = ["team a", "it's \"quoted\"", "emoji 🔑 密钥", "back\\slash", "100% _x_", "line\nbreak"]
    for i in range(n):
        settings: dict[str, Any] = {
            "description": rng.choice(["", "desc", "x" * 300]),
            "tags": rng.sample(["prod", "dev", "team-a", "team-b", "标签"], rng.randint(0, 3)),
            "daily_cost_limit": rng.choice([0, 2.5, 10, 0.123456]),
            "concurrency_limit": rng.choice([0, 1, 5]),
            "permissions": rng.choice([[], ["claude"], ["claude", "gemini"]]),
            "service_rates": rng.choice([{}, {"claude": 1.5}]),
        }
        if i % 9 == 0:
            settings["expiration_mode"] = "activation"
            settings["activation_days"] = 7
        elif i % 5 == 0:
            settings["expires_at"] = now + timedelta(days=rng.randint(1, 90))
        key, _ = dao.create(f"{rng.choice(names)} {i}", **settings)
        if i % 4 == 0:
            key = dao.update(key.id, last_used_at=now - timedelta(minutes=rng.randint(0, 5000)))
        keys.append(key)
    for i, key in enumerate(list(keys)):
        if i % 10 == 3:
            keys[i] = dao.delete(key.id)
        if i % 20 == 3:
            keys[i] = dao.restore(key.id)
        if i % 50 == 13:
            dao.delete(key.id)
            dao.purge(key.id)
            keys[i] = None  # type: ignore[call-overload]
    prefix = store.settings.redis_key_prefix
    for i, key in enumerate(keys):
        if key is not None and i % 7 == 0:   # a field a newer upstream release added
            store.redis.hset(f"{prefix}apikey:{key.id}", "someFutureField", f"kept {i}")
    for name, value in UPSTREAM_MARKERS.items():
        store.redis.set(prefix + name, value)
    return [k for k in keys if k is not None]


@pytest.fixture
def populated(settings: Settings) -> Callable[[int], list[ApiKey]]:
    """populate(n) into the test's Redis prefix."""
    def make(n: int, seed: int = 7) -> list[ApiKey]:
        with Store(base_settings(database_type="redis", redis_key_prefix=settings.redis_key_prefix)) as store:
            return populate(store, n, seed=seed)
    return make


def keyspace(client: redis_lib.Redis, prefix: str, *, exclude: tuple[str, ...] = (SEQ_KEY,), db: int = 0
             ) -> dict[str, Any]:
    """{relative key: (type, value, ttl seconds)} of everything under a prefix (bytes decoded losslessly).

    Pipelined per 1,000 keys; a key that expires between the SCAN and the read is left out."""
    raw = redis_lib.Redis(host="127.0.0.1", port=6379, db=db)
    text = lambda b: b.decode("utf-8", "surrogateescape")
    readers = {"string": lambda p, k: p.get(k), "hash": lambda p, k: p.hgetall(k),
               "set": lambda p, k: p.smembers(k), "list": lambda p, k: p.lrange(k, 0, -1),
               "zset": lambda p, k: p.zrange(k, 0, -1, withscores=True), "stream": lambda p, k: p.xrange(k)}
    decoders = {
        "string": text,
        "hash": lambda v: {text(f): text(x) for f, x in v.items()},
        "set": lambda v: {text(x) for x in v},
        "list": lambda v: [text(x) for x in v],
        "zset": lambda v: [(text(m), s) for m, s in v],
        "stream": lambda v: [(text(i), {text(f): text(x) for f, x in fields.items()}) for i, fields in v],
    }
    out = {}
    try:
        names = [full for full in dict.fromkeys(raw.scan_iter(match=prefix.encode() + b"*", count=1000))
                 if text(full)[len(prefix):] not in exclude]
        for start in range(0, len(names), 1000):
            batch = names[start:start + 1000]
            pipe = raw.pipeline(transaction=False)
            for full in batch:
                pipe.type(full)
            kinds = [k.decode() for k in pipe.execute()]
            pipe = raw.pipeline(transaction=False)
            present = [(full, kind) for full, kind in zip(batch, kinds) if kind != "none"]
            for full, kind in present:
                readers[kind](pipe, full)
                pipe.ttl(full)
            results = pipe.execute()
            for (full, kind), value, ttl in zip(present, results[0::2], results[1::2]):
                if ttl == -2 or value in (None, {}, [], set()):   # expired between the two reads
                    continue
                out[text(full)[len(prefix):]] = (kind, decoders[kind](value), ttl)
    finally:
        raw.close()
    return out


def assert_keyspaces_equal(a: dict[str, Any], b: dict[str, Any], *, ttl_tolerance: int = 5) -> None:
    """Same keys, types and values; TTLs both absent or within ttl_tolerance seconds."""
    assert sorted(a) == sorted(b), (sorted(set(a) - set(b))[:5], sorted(set(b) - set(a))[:5])
    for key, (ta, va, la) in a.items():
        tb, vb, lb = b[key]
        assert (key, ta) == (key, tb)
        assert (key, va) == (key, vb)
        assert (la < 0) == (lb < 0) and abs(la - lb) <= ttl_tolerance, (key, la, lb)


# Tables whose rows hold something that records when they were written rather than what they hold.
DUMP_QUERIES = {
    "system_settings": "SELECT name, value FROM system_settings",   # without updated_at
    # The AUTO_INCREMENT id only orders a list's samples (and skips ids a rolled-back insert took):
    # each sample's place in its list instead.
    "concurrency_queue_wait_times": "SELECT list_id, wait_ms, ROW_NUMBER() OVER (PARTITION BY list_id ORDER BY id DESC)"
                                    " AS place FROM concurrency_queue_wait_times",
}


def data_dump(settings: Settings, database: str, tables: tuple[str, ...] = DATA_TABLES) -> dict[str, list[tuple]]:
    """Every row of the data tables, sorted (see DUMP_QUERIES for the tables read otherwise)."""
    con = pymysql.connect(**{**connect_args(settings, database=database), "cursorclass": pymysql.cursors.Cursor})
    out = {}
    try:
        with con.cursor() as cur:
            for table in tables:
                cur.execute(DUMP_QUERIES.get(table, f"SELECT * FROM {table}"))
                out[table] = sorted(cur.fetchall(), key=repr)
    finally:
        con.close()
    return out


def assert_dumps_equal(a: dict[str, list[tuple]], b: dict[str, list[tuple]], *, seconds: float = 2.0) -> None:
    """data_dump()s hold the same rows; DATETIME values may differ by `seconds` (times a family derives
    rather than copies, and expiries on a Redis without PEXPIRETIME, where they are now + PTTL)."""
    assert sorted(a) == sorted(b)
    for table, rows_a in a.items():
        assert len(rows_a) == len(b[table]), table
        for row_a, row_b in zip(rows_a, b[table]):
            same = all(x == y or (isinstance(x, datetime) and isinstance(y, datetime)
                                  and abs((x - y).total_seconds()) <= seconds) for x, y in zip(row_a, row_b))
            assert same, (table, row_a, row_b)


def sql(settings: Settings, statement: str, args: Any = ()) -> tuple[tuple, ...]:
    """Run one statement on the test's database (autocommit); its rows as tuples."""
    con = pymysql.connect(**{**connect_args(settings, database=settings.mysql_database), "autocommit": True,
                             "cursorclass": pymysql.cursors.Cursor})
    try:
        with con.cursor() as cur:
            cur.execute(statement, args)
            return cur.fetchall()
    finally:
        con.close()


@pytest.fixture
def dual_store(settings: Settings) -> Iterator[Store]:
    """A dual-mode Store over the test's database and prefix."""
    store = Store(base_settings(database_type="dual", mysql_database=settings.mysql_database,
                                redis_key_prefix=settings.redis_key_prefix))
    yield store
    store.close()


def run_cli(settings: Settings, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """`python -m relaystore ARGS` in a subprocess with these settings as its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "REDIS_", "DATABASE_", "DUAL_"))}
    env.update({"PYTHONPATH": str(ROOT), "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
                "MYSQL_DATABASE": settings.mysql_database, "REDIS_KEY_PREFIX": settings.redis_key_prefix})
    return subprocess.run([sys.executable, "-m", "relaystore", "--env-file", os.devnull, *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
