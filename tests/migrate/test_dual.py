"""DATABASE_TYPE=dual and the cutover: writes reach both stores identically, reads follow DUAL_READ_FROM,
and a bulk copy plus catch-up under live writers loses no update and no increment."""
from __future__ import annotations

import io
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pymysql
import pytest

from relaystore import ConfigError, dual, load_settings
from relaystore.migrate import families
from relaystore.migrate.family import Family, KeySource
from relaystore.migrate.redis_reader import fetch
from relaystore.migrate.run import Options, migrate_redis_to_mysql
from relaystore.migrate.sync import Copier, CopyResult
from relaystore.migrate.verify import verify
from relaystore.store import Store
from relaystore.timefmt import utcnow
from tests.conftest import base_settings


def _both(store, key_id):
    return store.redis_store.api_keys.get(key_id), store.mysql_store.api_keys.get(key_id)


def test_dual_settings_are_validated():
    env = {"ENCRYPTION_KEY": "k", "DATABASE_TYPE": "dual", "DUAL_READ_FROM": "mysql"}
    settings = load_settings(None, environ=env)
    assert (settings.database_type, settings.dual_read_from) == ("dual", "mysql")
    with pytest.raises(ConfigError, match="DUAL_READ_FROM"):
        load_settings(None, environ={**env, "DUAL_READ_FROM": "both"})


def test_every_write_reaches_both_stores_identically(dual_store):
    key, raw = dual_store.api_keys.create("dual", tags=["x"], daily_cost_limit=3)
    redis_side, mysql_side = _both(dual_store, key.id)
    assert redis_side == mysql_side == key
    assert dual_store.mysql_store.api_keys.authenticate(raw).key == key
    updated = dual_store.api_keys.update(key.id, name="renamed", tags=["y"])
    assert _both(dual_store, key.id) == (updated, updated)
    deleted = dual_store.api_keys.delete(key.id)
    assert _both(dual_store, key.id) == (deleted, deleted)
    restored = dual_store.api_keys.restore(key.id)
    assert _both(dual_store, key.id) == (restored, restored)
    dual_store.api_keys.delete(key.id)
    dual_store.api_keys.purge(key.id)
    assert _both(dual_store, key.id) == (None, None)


def test_reads_come_from_dual_read_from(settings):
    for read_from in ("redis", "mysql"):
        with Store(base_settings(database_type="dual", dual_read_from=read_from,
                                 mysql_database=settings.mysql_database,
                                 redis_key_prefix=settings.redis_key_prefix)) as store:
            key, _ = store.api_keys.create(f"read from {read_from}")
            store.mysql_store.api_keys.put(store.mysql_store.api_keys.get(key.id).__class__(
                **{**{f: getattr(key, f) for f in key.__slots__}, "name": "only in mysql"}))
            assert store.api_keys.get(key.id).name == ("only in mysql" if read_from == "mysql" else key.name)


def test_first_use_activation_is_made_on_redis_and_copied(settings):
    with Store(base_settings(database_type="dual", dual_read_from="mysql", mysql_database=settings.mysql_database,
                             redis_key_prefix=settings.redis_key_prefix)) as store:
        key, raw = store.api_keys.create("activate me", expiration_mode="activation", activation_days=3)
        result = store.api_keys.authenticate(raw)
        assert result.ok and result.key.is_activated
        redis_side, mysql_side = _both(store, key.id)
        assert redis_side == mysql_side == result.key
        assert store.api_keys.authenticate(raw).key == result.key   # later uses change nothing


def test_a_stale_copy_never_overwrites_a_newer_one(settings, dual_store):
    """The guard: a copy read before another copy's read is dropped, whichever commits last."""
    key, _ = dual_store.api_keys.create("old name")
    family = families.FAMILIES["api_keys"]
    rel = f"apikey:{key.id}"
    copier = Copier(dual_store.redis, dual_store.keys, dual_store.pool)
    old_snapshot, old_seq = fetch(dual_store.redis, dual_store.keys.prefix, [(rel, "hash")],
                                  seq_key=dual_store.keys.migration_seq)
    dual_store.api_keys.update(key.id, name="new name")              # Redis write + its own (newer) copy
    result = CopyResult()
    stale_record = family.decode_fetched(old_snapshot[0])
    copier._write(family, [(rel, stale_record)], old_seq, result)  # the slow, older copy commits last
    assert (result.written, result.stale) == (0, 1)
    assert dual_store.mysql_store.api_keys.get(key.id).name == "new name"


@pytest.fixture
def slow_copies(monkeypatch):
    """Widen the race window: copies pause between their Redis read and their MySQL write (those of
    a copier marked `quick` only briefly), so live writes land inside the bulk copy's batches."""
    original = Copier._stage

    def stage(self, name):
        if name == "read":
            time.sleep(0.001 if getattr(self, "quick", False) else 0.03)
        original(self, name)

    monkeypatch.setattr(Copier, "_stage", stage)


def _migrate(settings, tmp_path, name, **options):
    return migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / f"{name}.log"), progress=False,
                                                    **options), stderr=io.StringIO())


def test_cutover_under_live_writers_loses_no_update(settings, populated, tmp_path, slow_copies):
    """The documented order: dual writes on, bulk copy, catch-up, verify; writers never pause."""
    keys = populated(300)
    live = [k.id for k in keys if not k.is_deleted]
    stop = threading.Event()
    last_written: dict[str, Any] = {}
    created: list[str] = []
    errors: list[BaseException] = []
    dual_settings = base_settings(database_type="dual", mysql_database=settings.mysql_database,
                                  redis_key_prefix=settings.redis_key_prefix)

    def writer(mine: list[str], seed: int) -> None:
        rng = random.Random(seed)
        try:
            with Store(dual_settings) as store:   # step 1: this relay process now writes in dual mode
                while not stop.is_set():
                    key_id = rng.choice(mine)
                    at = utcnow() + timedelta(milliseconds=rng.randint(0, 10**6))
                    store.api_keys.update(key_id, last_used_at=at)
                    last_written[key_id] = at
                    if rng.random() < 0.05:
                        created.append(store.api_keys.create(f"born during copy {seed}")[0].id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(live[i::2], i)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        bulk = _migrate(settings, tmp_path, "bulk", batch_size=40)                    # step 2
        catch_up = _migrate(settings, tmp_path, "catchup", batch_size=40, delete_missing=True)  # step 3
        assert bulk.exit_code == catch_up.exit_code == 0
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert len(last_written) > 20 and created
    diffs = verify(settings, out=io.StringIO())                                          # step 4
    assert all(d.clean for d in diffs), [(d.name, d.differing, d.only_redis, d.only_mysql) for d in diffs]
    with Store(base_settings(database_type="mysql", mysql_database=settings.mysql_database)) as mysql:
        for key_id, at in last_written.items():
            assert mysql.api_keys.get(key_id).last_used_at == at
        for key_id in created:
            assert mysql.api_keys.get(key_id) is not None


# --- counters: the procedure a usage family will follow --------------------------------------------

class CounterFamily(Family):
    """A minimal counter family (testctr:{id} = INCRBY'd integer) standing in for usage counters."""

    name = "test_counters"
    sources = (KeySource(type="string", match="testctr:*", regex=re.compile(r"testctr:([^:]+)")),)
    tables = ("test_counters",)

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> tuple[str, int]:
        return key.partition(":")[2], int(value)

    def key_of(self, record: tuple[str, int]) -> str:
        return f"testctr:{record[0]}"

    def write_mysql(self, cur: Any, records: Sequence[tuple[str, int]]) -> None:
        cur.executemany("INSERT INTO test_counters (id, value) VALUES (%s, %s) "
                        "ON DUPLICATE KEY UPDATE value = VALUES(value)", records)

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        cur.executemany("DELETE FROM test_counters WHERE id = %s", [k.partition(":")[2] for k in keys])

    def mysql_keys(self, pool: Any, batch_size: int) -> Iterator[list[str]]:
        yield [f"testctr:{r['id']}" for r in pool.fetchall("SELECT id FROM test_counters ORDER BY id")]

    def read_mysql(self, pool: Any, keys: Sequence[str]) -> dict[str, tuple[str, int]]:
        rows = pool.fetchall("SELECT id, value FROM test_counters")
        wanted = set(keys)
        return {f"testctr:{r['id']}": (r["id"], r["value"]) for r in rows if f"testctr:{r['id']}" in wanted}


class RedisCounters:
    def __init__(self, store: Store) -> None:
        self._store = store

    def incr(self, counter_id: str, n: int) -> int:
        return self._store.redis.incrby(f"{self._store.keys.prefix}testctr:{counter_id}", n)


@pytest.fixture
def counter_family(settings, monkeypatch):
    con = pymysql.connect(host="127.0.0.1", user="root", database=settings.mysql_database, autocommit=True)
    with con.cursor() as cur:
        cur.execute("CREATE TABLE test_counters (id VARCHAR(64) PRIMARY KEY, value BIGINT NOT NULL) ENGINE=InnoDB")
    con.close()
    family = CounterFamily()
    monkeypatch.setitem(families.FAMILIES, family.name, family)
    return family


def test_counters_copied_during_live_increments_lose_nothing(settings, counter_family, client, tmp_path,
                                                            slow_copies):
    prefix = settings.redis_key_prefix
    base = {f"c{i}": random.Random(i).randint(0, 10**6) for i in range(200)}   # history from before dual mode
    for counter_id, value in base.items():
        client.set(f"{prefix}testctr:{counter_id}", value)
    counted: dict[str, int] = {c: 0 for c in base}
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with Store(base_settings(database_type="dual", mysql_database=settings.mysql_database,
                                     redis_key_prefix=prefix)) as store:
                copier = Copier(store.redis, store.keys, store.pool)
                copier.quick = True
                counters = dual.DualDAO("test_counters", RedisCounters(store), None, "redis", copier,
                                        writes={"incr": lambda a, kw, r: [f"testctr:{a[0]}"]})
                while not stop.is_set():
                    counter_id, n = rng.choice(list(base)), rng.randint(1, 5)
                    counters.incr(counter_id, n)
                    with lock:
                        counted[counter_id] += n
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    try:
        for round_ in range(3):   # bulk copy, then catch-up passes, all under live increments
            assert _migrate(settings, tmp_path, f"c{round_}", families="test_counters", batch_size=10).exit_code == 0
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert sum(counted.values()) > 50
    con = pymysql.connect(host="127.0.0.1", user="root", database=settings.mysql_database)
    with con.cursor() as cur:
        cur.execute("SELECT id, value FROM test_counters")
        in_mysql = dict(cur.fetchall())
    con.close()
    for counter_id in base:
        expected = base[counter_id] + counted[counter_id]
        assert int(client.get(f"{prefix}testctr:{counter_id}")) == expected
        assert in_mysql[counter_id] == expected, counter_id
