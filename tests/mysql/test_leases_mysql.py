"""MySQL-only checks of leases, queues and rate limits: index use, one batch, database clock, lock release."""
from __future__ import annotations

import threading
import time
from decimal import Decimal

import pymysql

from relaystore.mysql import leases as lease_sql
from relaystore.mysql import queues as queue_sql
from relaystore.mysql import rate_limits as rate_sql
from relaystore.mysql.pool import connect_args
from relaystore.store import Store
from tests.conftest import base_settings

KEY = "55555555-5555-4555-8555-555555555555"


def _plan(store: Store, sql: str, params: dict) -> list[dict]:
    return store.pool.fetchall("EXPLAIN " + sql, params)


def test_lease_queries_use_the_primary_key(mysql_store):
    for i in range(20):
        mysql_store.leases.acquire(f"key-{i}", f"req-{i}", limit=0, ttl_seconds=30)
    params = {"key_id": "key-3", "request_id": "req-3", "lease_us": 1000}
    for sql in (lease_sql.COUNT_LIVE_LEASES, lease_sql.DELETE_LEASE, lease_sql.UPDATE_LEASE_EXPIRY):
        [row] = _plan(mysql_store, sql, params)
        assert row["key"] == "PRIMARY" and row["type"] in ("const", "ref", "range"), row


def test_hot_queue_and_rate_limit_reads_use_their_indexes(mysql_store):
    mysql_store.queues.record_wait(KEY, 5)
    mysql_store.rate_limits.check_and_increment(KEY, window_minutes=1)
    plan = _plan(mysql_store, queue_sql.SELECT_WAIT_SAMPLES, {"list_id": KEY, "keep": 500})
    assert {row["key"] for row in plan} == {"PRIMARY", "ix_concurrency_queue_wait_times_list"}
    [row] = _plan(mysql_store, rate_sql.SELECT_RATE_LIMIT_WINDOW, {"key_id": KEY, "window_us": 60_000_000})
    assert row["key"] == "PRIMARY"


def test_acquire_sends_its_batch_and_nothing_else(mysql_database):
    store = Store(base_settings(database_type="mysql", mysql_database=mysql_database, mysql_pool_size=1))
    try:
        store.leases.acquire(KEY, "warm", limit=5, ttl_seconds=30)
        before = int(store.pool.fetchone("SHOW SESSION STATUS LIKE 'Questions'")["Value"])
        assert store.leases.acquire(KEY, "r", limit=5, ttl_seconds=30)
        after = int(store.pool.fetchone("SHOW SESSION STATUS LIKE 'Questions'")["Value"])
        statements = lease_sql.ACQUIRE_LEASE.strip().count(";") + 1
        assert after - before == statements + 1  # the batch's statements (one execute) plus this SHOW
    finally:
        store.close()


def test_lease_expiry_is_set_by_the_database_clock(mysql_store):
    mysql_store.leases.acquire(KEY, "r", limit=1, ttl_seconds=90)
    row = mysql_store.pool.fetchone(
        "SELECT TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), expires_at) AS us FROM leases WHERE key_id = %s", (KEY,))
    assert 80_000_000 < row["us"] <= 90_000_000


def test_a_crashed_holders_lease_stops_counting_and_is_deleted_by_the_next_acquire(mysql_store):
    mysql_store.pool.fetchone("INSERT INTO leases (key_id, request_id, expires_at) VALUES "
                              "(%s, 'crashed', UTC_TIMESTAMP(3) - INTERVAL 1 SECOND)", (KEY,))
    assert mysql_store.leases.count(KEY) == 0
    assert mysql_store.leases.acquire(KEY, "next", limit=1, ttl_seconds=30)
    rows = mysql_store.pool.fetchall("SELECT request_id FROM leases WHERE key_id = %s", (KEY,))
    assert rows == [{"request_id": "next"}]


def _lock_key(mysql_database: str) -> tuple[pymysql.Connection, int]:
    """Another client inside acquire(): it holds the key's row lock and has not committed."""
    other = pymysql.connect(**connect_args(base_settings(), database=mysql_database))
    with other.cursor() as cur:
        cur.execute("START TRANSACTION")
        cur.execute("INSERT INTO lease_keys (key_id) VALUES (%s) ON DUPLICATE KEY UPDATE key_id = key_id", (KEY,))
        cur.execute("SELECT CONNECTION_ID() AS id")
        return other, cur.fetchone()["id"]


def _add_lease(other: pymysql.Connection, request_id: str) -> None:
    with other.cursor() as cur:
        cur.execute("INSERT INTO leases (key_id, request_id, expires_at) "
                    "VALUES (%s, %s, UTC_TIMESTAMP(3) + INTERVAL 1 MINUTE)", (KEY, request_id))


def _acquire_in_thread(store: Store, request_id: str, results: list[bool]) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(
        store.leases.acquire(KEY, request_id, limit=2, ttl_seconds=30)))
    thread.start()
    time.sleep(0.2)  # lets it reach the lock; had it not, it would simply run after the other client
    return thread


def test_acquire_waits_for_the_key_lock_holder_to_commit(mysql_store, mysql_database):
    mysql_store.leases.acquire(KEY, "first", limit=2, ttl_seconds=30)
    other, _ = _lock_key(mysql_database)
    results: list[bool] = []
    waiter = _acquire_in_thread(mysql_store, "third", results)
    _add_lease(other, "second")  # the lock holder's lease: a waiter that counted already saw only 1
    other.commit()
    waiter.join(timeout=30)
    other.close()
    assert results == [False]
    assert mysql_store.leases.count(KEY) == 2


def test_a_client_dying_inside_acquire_releases_the_key_lock(mysql_store, mysql_database):
    mysql_store.leases.acquire(KEY, "first", limit=2, ttl_seconds=30)
    other, other_id = _lock_key(mysql_database)
    _add_lease(other, "ghost")
    results: list[bool] = []
    waiter = _acquire_in_thread(mysql_store, "second", results)
    mysql_store.pool.fetchone("KILL %s", (other_id,))  # the server rolls "ghost" back and frees the lock
    waiter.join(timeout=30)
    assert results == [True]
    assert mysql_store.pool.fetchall("SELECT request_id FROM leases ORDER BY request_id") == [
        {"request_id": "first"}, {"request_id": "second"}]


def test_purge_expired_deletes_leftovers_of_idle_keys(mysql_store):
    for i in range(3):
        mysql_store.pool.fetchone("INSERT INTO leases (key_id, request_id, expires_at) VALUES "
                                  "(%s, %s, UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE)", (f"idle-{i}", "r"))
    mysql_store.leases.acquire(KEY, "live", limit=1, ttl_seconds=30)
    assert mysql_store.leases.purge_expired() == 3
    assert mysql_store.pool.fetchall("SELECT key_id FROM leases") == [{"key_id": KEY}]


def test_expired_queue_counter_restarts_at_one(mysql_store):
    mysql_store.queues.enter(KEY)
    mysql_store.queues.enter(KEY)
    mysql_store.pool.fetchone("UPDATE concurrency_queue_counts SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND")
    assert mysql_store.queues.waiting(KEY) == 0
    assert mysql_store.queues.enter(KEY, timeout_ms=2000) == 1
    row = mysql_store.pool.fetchone("SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(3), expires_at) AS s "
                                    "FROM concurrency_queue_counts WHERE key_id = %s", (KEY,))
    assert 30 <= row["s"] <= 32  # ceil(2000 / 1000) + 30


def test_expired_queue_stats_read_as_zero_and_restart(mysql_store):
    mysql_store.queues.record_stat(KEY, "success")
    mysql_store.queues.record_stat(KEY, "timeout")
    mysql_store.pool.fetchone("UPDATE concurrency_queue_stats SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND")
    assert mysql_store.queues.stats(KEY).success == 0
    assert mysql_store.queues.record_stat(KEY, "success") == 1
    assert mysql_store.queues.stats(KEY).timeout == 0  # the whole hash had expired, not one field


def test_expired_wait_list_is_dropped_before_the_next_sample(mysql_store):
    mysql_store.queues.record_wait(KEY, 1, include_global=False)
    mysql_store.pool.fetchone("UPDATE concurrency_queue_wait_lists "
                              "SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND")
    assert mysql_store.queues.wait_times(KEY) == []
    mysql_store.queues.record_wait(KEY, 2, include_global=False)
    assert mysql_store.queues.wait_times(KEY) == [2]


def test_wait_lists_are_trimmed_to_500_and_2000_rows(mysql_store):
    mysql_store.queues.record_wait(KEY, 0)  # creates both list rows
    with mysql_store.pool.cursor() as cur:  # samples pushed earlier, oldest first
        cur.executemany("INSERT INTO concurrency_queue_wait_times (list_id, wait_ms) VALUES (%s, %s)",
                        [(KEY if n <= 600 else "global", n) for n in range(1, 2601)])
    mysql_store.queues.record_wait(KEY, 7)
    counts = mysql_store.pool.fetchall("SELECT list_id, COUNT(*) AS n FROM concurrency_queue_wait_times "
                                       "GROUP BY list_id ORDER BY list_id")
    assert {row["list_id"]: row["n"] for row in counts} == {KEY: 500, "global": 2000}
    assert mysql_store.queues.wait_times(KEY)[:2] == [7, 600]
    global_samples = mysql_store.queues.global_wait_times()
    assert len(global_samples) == 2000 and global_samples[:2] == [7, 2600]


def test_rate_limit_cost_is_added_exactly(mysql_store):
    mysql_store.rate_limits.check_and_increment(KEY, window_minutes=60)
    for _ in range(3):
        mysql_store.rate_limits.add_usage(KEY, cost=0.1)
    assert mysql_store.pool.fetchone("SELECT cost FROM rate_limit_windows")["cost"] == Decimal("0.3")
    assert mysql_store.rate_limits.current(KEY, window_minutes=60).cost == 0.3
