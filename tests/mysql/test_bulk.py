"""bulk.executemany sends what PyMySQL's executemany would, and every value round-trips verbatim."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from relaystore.mysql import bulk
from relaystore.mysql.pool import MySQLPool
from tests.conftest import base_settings

HOSTILE = ["plain", "", "it's", 'say "hi"', "back\\slash", "\\'", "nul\x00byte", "new\nline\r\ttab",
           "\x1a ctrl-z", "%s %(x)s %%", "emoji \U0001F600", "中文", "'; DROP TABLE t; --", "x" * 5000]
VALUES = [*HOSTILE, None, True, False, 0, -1, 2**63 - 1, -(2**63), 1.5, 1e-7, Decimal("12.3456789012"),
          datetime(2025, 7, 30, 9, 5, 1, 123000), b"\x00\xffbytes'"]

INSERT = "INSERT INTO t (id, s, n) VALUES (%(id)s, %(s)s, %(n)s) ON DUPLICATE KEY UPDATE s = VALUES(s), n = VALUES(n)"


@pytest.fixture
def pool(mysql_database):
    pool = MySQLPool(base_settings(mysql_database=mysql_database, mysql_pool_size=1, mysql_pool_min_idle=1))
    pool.fetchone("CREATE TABLE t (id INT PRIMARY KEY, s LONGTEXT NULL, n BIGINT NULL) "
                  "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
    yield pool
    pool.close()


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_literal_equals_pymysql_escape(pool, value):
    with pool.cursor() as cur:
        conn = cur.connection
        assert bulk.literal_function(conn)(value) == conn.escape(value)


def test_rows_round_trip_and_statements_split_like_executemany(pool):
    rows = [{"id": i, "s": s, "n": i * 7 - 3} for i, s in enumerate(HOSTILE * 20)]
    with pool.write_cursor() as cur:
        cur.max_stmt_length = 4096          # force many statements
        affected = bulk.executemany(cur, INSERT, rows)
    assert affected == len(rows)
    got = pool.fetchall("SELECT id, s, n FROM t ORDER BY id")
    assert got == rows
    # A second run changes nothing (ON DUPLICATE KEY UPDATE with equal values affects 0 rows).
    with pool.write_cursor() as cur:
        assert bulk.executemany(cur, INSERT, rows) == 0


def test_positional_rows(pool):
    with pool.write_cursor() as cur:
        bulk.executemany(cur, "INSERT INTO t (id, s, n) VALUES (%s, %s, %s)", [(1, "a'b", None), (2, None, 5)])
    assert pool.fetchall("SELECT id, s, n FROM t ORDER BY id") == [
        {"id": 1, "s": "a'b", "n": None}, {"id": 2, "s": None, "n": 5}]


def test_no_backslash_escapes_mode_defers_to_pymysql(pool):
    with pool.write_cursor() as cur:
        cur.execute("SET SESSION sql_mode = CONCAT_WS(',', @@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES')")
        try:
            assert bulk.literal_function(cur.connection)("a'b\\c") == "'a''b\\c'"
            bulk.executemany(cur, INSERT, [{"id": 1, "s": "a'b\\c", "n": 1}])
        finally:
            cur.execute("SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')")
    assert pool.fetchone("SELECT s FROM t WHERE id = 1")["s"] == "a'b\\c"


def test_refuses_a_statement_that_is_not_a_multi_row_insert(pool):
    with pool.write_cursor() as cur, pytest.raises(ValueError, match="INSERT"):
        bulk.executemany(cur, "UPDATE t SET s = %(s)s WHERE id = %(id)s", [{"s": "x", "id": 1}])



def test_named_rows_with_repeated_and_extra_names(pool):
    """A name used twice gets its value twice; keys the statement does not name are ignored."""
    query = "INSERT INTO t (id, s, n) VALUES (%(id)s, %(s)s, %(id)s) ON DUPLICATE KEY UPDATE s = '%%'"
    with pool.write_cursor() as cur:
        bulk.executemany(cur, query, [{"id": 1, "s": "a", "unused": "x"}, {"s": "%s", "id": 2}])
        bulk.executemany(cur, query, [{"id": 2, "s": "b"}])
    assert pool.fetchall("SELECT id, s, n FROM t ORDER BY id") == [
        {"id": 1, "s": "a", "n": 1}, {"id": 2, "s": "%", "n": 2}]
