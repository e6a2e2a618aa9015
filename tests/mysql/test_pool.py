"""The pooled connection manager against a real server: retries, no double writes, error classes."""
from __future__ import annotations

import threading

import pytest

from relaystore import AlreadyExists, BackendError, BackendUnavailable
from relaystore.mysql.pool import MySQLPool
from tests.conftest import base_settings


@pytest.fixture
def pool(mysql_database):
    pool = MySQLPool(base_settings(mysql_database=mysql_database, mysql_pool_size=1, mysql_pool_min_idle=1))
    pool.fetchone("CREATE TABLE counters (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB")
    pool.fetchone("INSERT INTO counters VALUES (1, 0), (2, 0)")
    yield pool
    pool.close()


def _kill_pooled_connection(pool: MySQLPool) -> None:
    """Kill the server side of the pool's only connection, as a server restart or timeout would."""
    thread_id = pool.fetchone("SELECT CONNECTION_ID() AS id")["id"]
    killer = MySQLPool(base_settings(mysql_database=pool.database, mysql_pool_size=1))
    killer.fetchone("KILL %s", (thread_id,))
    killer.close()


def test_read_is_retried_once_on_a_lost_connection(pool):
    before = pool.fetchone("SELECT CONNECTION_ID() AS id")["id"]
    _kill_pooled_connection(pool)
    after = pool.fetchone("SELECT CONNECTION_ID() AS id")["id"]
    assert after != before


def test_relative_write_is_never_resent(pool):
    _kill_pooled_connection(pool)
    with pytest.raises(BackendUnavailable), pool.write_cursor() as cur:
        cur.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
    assert pool.fetchone("SELECT n FROM counters WHERE id = 1")["n"] == 0  # not applied, not doubled
    with pool.write_cursor() as cur:  # the pool recovered: the next write works, exactly once
        cur.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
    assert pool.fetchone("SELECT n FROM counters WHERE id = 1")["n"] == 1


def test_transaction_rolls_back_on_error(pool):
    with pytest.raises(RuntimeError), pool.transaction() as cur:
        cur.execute("UPDATE counters SET n = 99 WHERE id = 1")
        raise RuntimeError("boom")
    assert pool.fetchone("SELECT n FROM counters WHERE id = 1")["n"] == 0


def test_deadlocked_transaction_is_rerun(mysql_database):
    pool = MySQLPool(base_settings(mysql_database=mysql_database, mysql_pool_size=2))
    pool.fetchone("CREATE TABLE counters (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB")
    pool.fetchone("INSERT INTO counters VALUES (1, 0), (2, 0)")
    barrier = threading.Barrier(2, timeout=10)
    attempts = []

    def crossing(first: int, second: int):
        def work(cur):
            attempts.append(first)
            cur.execute("UPDATE counters SET n = n + 1 WHERE id = %s", (first,))
            if len(attempts) <= 2:
                barrier.wait()  # both hold one row lock, then each asks for the other's: deadlock
            cur.execute("UPDATE counters SET n = n + 1 WHERE id = %s", (second,))
        return work

    errors = []
    threads = [threading.Thread(target=lambda w=w: _run(pool, w, errors))
               for w in (crossing(1, 2), crossing(2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pool.close()
    assert errors == []
    assert len(attempts) == 3  # one of the two was chosen as deadlock victim and run again
    check = MySQLPool(base_settings(mysql_database=mysql_database))
    assert [r["n"] for r in check.fetchall("SELECT n FROM counters ORDER BY id")] == [2, 2]
    check.close()


def _run(pool, work, errors):
    try:
        pool.run_transaction(work)
    except Exception as exc:  # collected and asserted empty by the test
        errors.append(exc)


def test_duplicate_key_is_already_exists(pool):
    with pytest.raises(AlreadyExists, match="Duplicate entry"):
        pool.fetchone("INSERT INTO counters VALUES (1, 5)")


def test_sql_error_is_backend_error_not_driver_error(pool):
    with pytest.raises(BackendError, match="no_such_table"):
        pool.fetchone("SELECT * FROM no_such_table")


def test_server_down_is_backend_unavailable():
    pool = MySQLPool(base_settings(mysql_port=1, mysql_pool_min_idle=0, mysql_connect_timeout=1))
    with pytest.raises(BackendUnavailable):
        pool.fetchone("SELECT 1")


def test_batch_runs_all_statements_and_is_atomic(mysql_database):
    pool = MySQLPool(base_settings(mysql_database=mysql_database, mysql_pool_size=1))
    pool.fetchone("CREATE TABLE counters (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB")
    pool.fetchone("INSERT INTO counters VALUES (1, 0), (2, 0)")
    questions = "SHOW SESSION STATUS LIKE 'Questions'"
    before = int(pool.fetchone(questions)["Value"])
    results = pool.batch("START TRANSACTION; UPDATE counters SET n = n + %(n)s WHERE id = 1; "
                         "SELECT n FROM counters WHERE id = 1; COMMIT", {"n": 5})
    assert results[2] == [{"n": 5}]
    # Questions counts statements, not packets: the batch's four plus this SHOW, all sent by one execute()
    assert int(pool.fetchone(questions)["Value"]) - before == 5
    with pytest.raises(BackendError, match="no_such_table"):
        pool.batch("START TRANSACTION; UPDATE counters SET n = n + 1 WHERE id = 2; "
                   "UPDATE no_such_table SET x = 1; COMMIT")
    assert pool.fetchone("SELECT n FROM counters WHERE id = 2")["n"] == 0  # rolled back
    pool.close()
