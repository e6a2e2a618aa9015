"""Pool tuning: idle connections reused last-in first-out; server-side prepared statements used where
prepared, plain SQL everywhere else."""
from __future__ import annotations

from contextlib import ExitStack

import pytest

from relaystore.mysql import pool as pool_module
from relaystore.mysql.pool import MySQLPool, prepared
from tests.conftest import base_settings


def _executes(pool: MySQLPool) -> int:
    """EXECUTE statements this session ran (the pool has one connection, so it is always the same)."""
    return int(pool.fetchone("SHOW SESSION STATUS LIKE 'Com_execute_sql'")["Value"])


@pytest.fixture
def statement():
    stmt = prepared("relaystore_test_counter", "SELECT n FROM counters WHERE id = %(id)s")
    yield stmt
    pool_module._PREPARED.pop(stmt.name, None)


def _pool(database: str) -> MySQLPool:
    return MySQLPool(base_settings(mysql_database=database, mysql_pool_size=1, mysql_pool_min_idle=1))


def _create_counters(database: str) -> None:
    setup = _pool(database)
    setup.fetchone("CREATE TABLE counters (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB")
    setup.fetchone("INSERT INTO counters VALUES (1, 41), (2, 42)")
    setup.close()


def test_registered_statement_runs_as_execute(mysql_database, statement):
    _create_counters(mysql_database)
    pool = _pool(mysql_database)  # connections opened now prepare the statement
    try:
        before = _executes(pool)
        assert pool.fetchone_prepared(statement, {"id": 2}) == {"n": 42}
        assert pool.fetchone_prepared(statement, {"id": 3}) is None
        assert _executes(pool) - before == 2
    finally:
        pool.close()


def test_statement_unprepared_at_connect_runs_as_plain_sql(mysql_database, statement):
    pool = _pool(mysql_database)  # the table does not exist yet: PREPARE fails quietly
    try:
        _create_counters(mysql_database)
        before = _executes(pool)
        assert pool.fetchone_prepared(statement, {"id": 1}) == {"n": 41}
        assert _executes(pool) == before
    finally:
        pool.close()


def test_deallocated_statement_still_answers(mysql_database, statement):
    _create_counters(mysql_database)
    pool = _pool(mysql_database)
    try:
        pool.fetchone(f"DEALLOCATE PREPARE {statement.name}")
        # "unknown prepared statement" is an OperationalError: DBUtils reconnects (which prepares
        # again) and re-sends; were it still unknown there, the plain SQL would run.
        assert pool.fetchone_prepared(statement, {"id": 1}) == {"n": 41}
        assert pool.fetchone_prepared(statement, {"id": 2}) == {"n": 42}
    finally:
        pool.close()


def test_statement_unknown_after_reconnect_runs_as_plain_sql(mysql_database, statement):
    _create_counters(mysql_database)
    pool = _pool(mysql_database)
    try:
        with pool.cursor() as cur:  # as if PREPARE had worked on this connection, but it never ran
            cur.connection._relaystore_prepared.add("relaystore_test_never_prepared")
        ghost = pool_module.Prepared("relaystore_test_never_prepared", statement.sql)
        assert pool.fetchone_prepared(ghost, {"id": 2}) == {"n": 42}
    finally:
        pool.close()


def test_registration_checks_name_and_sql(statement):
    assert prepared(statement.name, statement.sql) == statement
    with pytest.raises(ValueError, match="already registered"):
        prepared(statement.name, "SELECT 1")
    with pytest.raises(ValueError, match="identifier"):
        prepared("bad name; DROP", "SELECT 1")
    assert statement.server_sql == "SELECT n FROM counters WHERE id = ?"
    assert statement.execute_sql == "EXECUTE relaystore_test_counter USING %(id)s"


def test_authenticate_executes_the_prepared_auth_statement(mysql_database):
    from relaystore.store import Store

    store = Store(base_settings(database_type="mysql", mysql_database=mysql_database, mysql_pool_size=1))
    try:
        _, raw = store.api_keys.create("prepared")
        before = _executes(store.pool)
        assert store.api_keys.authenticate(raw).ok
        assert _executes(store.pool) - before == 1
    finally:
        store.close()


def _connection_id(pool: MySQLPool) -> int:
    return int(pool.fetchone("SELECT CONNECTION_ID() AS id")["id"])


def test_idle_connections_are_reused_last_in_first_out(mysql_database):
    pool = MySQLPool(base_settings(mysql_database=mysql_database, mysql_pool_size=4, mysql_pool_min_idle=1))
    try:
        with ExitStack() as stack:  # three connections in use at once, returned in this order
            cursors = [stack.enter_context(pool.cursor()) for _ in range(3)]
            ids = []
            for cur in cursors:
                cur.execute("SELECT CONNECTION_ID() AS id")
                ids.append(cur.fetchone()["id"])
        assert len(set(ids)) == 3
        # ExitStack returned them last-opened first, so the first-opened came back last: it is reused
        assert [_connection_id(pool) for _ in range(5)] == [ids[0]] * 5
    finally:
        pool.close()
