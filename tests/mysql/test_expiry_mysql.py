"""MySQL TTL semantics: server-clock expiry, the purge routine and its CLI, and the plans they use."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from relaystore import InvalidInput
from relaystore.cli import main
from relaystore.mysql import expiry
from relaystore.mysql.request_details import SELECT_REQUEST_DETAILS_BY_DAY_DESC
from relaystore.mysql.sessions import SELECT_STICKY
from relaystore.mysql.users import SELECT_USER_BY_USERNAME
from relaystore.store import Store
from tests.conftest import TEST_ENCRYPTION_KEY

SESSION_TABLES = {"user_sessions": "token", "admin_sessions": "token", "oauth_sessions": "session_id",
                  "sticky_sessions": "session_hash", "request_details": "request_id"}


def _seconds_left(store: Store, table: str, key_column: str, key: str) -> float:
    row = store.pool.fetchone(
        f"SELECT TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), expires_at) / 1e6 AS s FROM {table} "
        f"WHERE {key_column} = %s", (key,))
    return float(row["s"])


def _expire_now(store: Store, table: str, key_column: str, key: str) -> None:
    with store.pool.cursor() as cur:
        cur.execute(f"UPDATE {table} SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND "
                    f"WHERE {key_column} = %s", (key,))


def _count(store: Store, table: str) -> int:
    return int(store.pool.fetchone(f"SELECT COUNT(*) AS n FROM {table}")["n"])


def _fill(store: Store, n: int, tag: str) -> dict[str, str]:
    """One row per expiring table (n of each); returns table -> the key of the last row."""
    last: dict[str, str] = {}
    for i in range(n):
        last["admin_sessions"] = store.sessions.create_admin_session("a").token
        last["user_sessions"] = store.sessions.create_user_session("u1").token
        last["oauth_sessions"] = store.sessions.create_oauth_session(code_verifier="v").session_id
        store.sessions.set_sticky(f"{tag}-{i}", "acct")
        last["sticky_sessions"] = f"{tag}-{i}"
        last["request_details"] = store.request_details.put({"requestId": f"{tag}-{i}"}).request_id
    return last


def test_expires_at_is_the_servers_now_plus_the_ttl(mysql_store):
    admin = mysql_store.sessions.create_admin_session("admin")
    assert 86_400_000 - 60 < _seconds_left(mysql_store, "admin_sessions", "token", admin.token) <= 86_400_000
    user = mysql_store.sessions.create_user_session("u1", ttl_seconds=120)
    assert 60 < _seconds_left(mysql_store, "user_sessions", "token", user.token) <= 120
    oauth = mysql_store.sessions.create_oauth_session()
    assert 540 < _seconds_left(mysql_store, "oauth_sessions", "session_id", oauth.session_id) <= 600
    detail = mysql_store.request_details.put({"requestId": "r1"})
    assert 6 * 3600 - 60 < _seconds_left(mysql_store, "request_details", "request_id", "r1") <= 6 * 3600
    mysql_store.admin.set_credentials("admin", "$2b$10$" + "a" * 53, ttl_seconds=None)
    assert mysql_store.pool.fetchone("SELECT expires_at FROM admin_credentials")["expires_at"] is None
    assert detail.request_id == "r1"


def test_sticky_renew_resets_expiry_only_below_the_threshold(mysql_store):
    mysql_store.sessions.set_sticky("h", "acct", ttl_seconds=100)
    assert mysql_store.sessions.renew_sticky("h", ttl_seconds=3600, threshold_seconds=50)
    assert _seconds_left(mysql_store, "sticky_sessions", "session_hash", "h") <= 100
    assert mysql_store.sessions.renew_sticky("h", ttl_seconds=3600, threshold_seconds=200)
    assert _seconds_left(mysql_store, "sticky_sessions", "session_hash", "h") > 3000


def test_rows_past_expires_at_are_invisible_before_any_purge(mysql_store):
    keys = _fill(mysql_store, 1, "gone")
    for table, key in keys.items():
        _expire_now(mysql_store, table, SESSION_TABLES[table], key)
    assert mysql_store.sessions.get_admin_session(keys["admin_sessions"]) is None
    assert mysql_store.sessions.get_user_session(keys["user_sessions"]) is None
    assert mysql_store.sessions.get_oauth_session(keys["oauth_sessions"]) is None
    assert mysql_store.sessions.get_sticky(keys["sticky_sessions"]) is None
    assert mysql_store.request_details.get(keys["request_details"]) is None
    assert mysql_store.request_details.list_day(datetime.now(timezone.utc).strftime("%Y-%m-%d")) == []
    assert all(_count(mysql_store, table) == 1 for table in keys)  # still stored until purged


def test_purge_deletes_only_expired_rows_in_batches(mysql_store):
    live = _fill(mysql_store, 2, "live")
    _fill(mysql_store, 5, "old")
    for table, key_column in SESSION_TABLES.items():
        with mysql_store.pool.cursor() as cur:
            cur.execute(f"UPDATE {table} SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE "
                        f"WHERE {key_column} <> %s ORDER BY {key_column} LIMIT 5", (live[table],))
    mysql_store.admin.set_credentials("admin", "$2b$10$" + "a" * 53, ttl_seconds=None)
    counts = expiry.purge_expired(mysql_store.pool, batch_size=2)
    assert counts == {t: 5 if t in SESSION_TABLES else 0 for t, _ in expiry.EXPIRING}
    for table, key in live.items():
        assert _count(mysql_store, table) == 2
        assert mysql_store.pool.fetchone(f"SELECT 1 AS x FROM {table} WHERE {SESSION_TABLES[table]} = %s", (key,))
    assert mysql_store.admin.get_credentials() is not None  # NULL expires_at never expires
    assert expiry.purge_expired(mysql_store.pool) == {t: 0 for t in counts}  # safe to re-run


def test_purge_skips_registered_tables_this_schema_lacks(mysql_store, monkeypatch):
    monkeypatch.setattr(expiry, "EXPIRING", [*expiry.EXPIRING, ("future_table", "expires_at")])
    assert expiry.purge_expired(mysql_store.pool)["future_table"] == -1
    with pytest.raises(InvalidInput):
        expiry.purge_expired(mysql_store.pool, batch_size=0)
    with pytest.raises(InvalidInput):
        expiry.register("users; DROP TABLE users")


def test_purge_expired_command_prints_per_table_counts(mysql_database, mysql_store, monkeypatch, capsys, tmp_path):
    mysql_store.sessions.set_sticky("old", "acct")
    _expire_now(mysql_store, "sticky_sessions", "session_hash", "old")
    monkeypatch.setenv("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
    monkeypatch.setenv("MYSQL_DATABASE", mysql_database)
    env_file = str(tmp_path / "absent.env")
    assert main(["--env-file", env_file, "--backend", "mysql", "db", "purge-expired", "--batch-size", "10"]) == 0
    out = capsys.readouterr().out
    assert "sticky_sessions: 1 expired rows deleted" in out and "user_sessions: 0 expired rows deleted" in out
    assert "total: 1 expired rows deleted" in out
    assert main(["--env-file", env_file, "--backend", "redis", "db", "purge-expired"]) == 0
    assert "expires entries itself" in capsys.readouterr().out


@pytest.mark.parametrize("table", [t for t, _ in expiry.EXPIRING])
def test_purge_batch_walks_the_expires_index(mysql_store, table):
    plan = mysql_store.pool.fetchall("EXPLAIN " + expiry.DELETE_EXPIRED.format(table=table, column="expires_at"),
                                     {"limit": 1000})
    assert plan[0]["key"] == f"ix_{table}_expires", plan


def test_sticky_read_is_a_primary_key_lookup(mysql_store):
    mysql_store.sessions.set_sticky("h", "acct")
    plan = mysql_store.pool.fetchall("EXPLAIN " + SELECT_STICKY, {"session_hash": "h"})
    assert len(plan) == 1 and plan[0]["key"] == "PRIMARY" and plan[0]["type"] in ("const", "eq_ref", "ref")


def test_username_lookup_uses_its_unique_index(mysql_store):
    mysql_store.users.create("alice")
    plan = mysql_store.pool.fetchall("EXPLAIN " + SELECT_USER_BY_USERNAME, {"username": "alice"})
    assert plan[0]["key"] == "uq_users_username"


def test_list_day_is_an_index_range_without_filesort(mysql_store):
    # Every row on the listed day: without FORCE INDEX the optimizer picks a full scan + filesort here.
    base = datetime(2025, 7, 30, tzinfo=timezone.utc)
    rows = [(f"r{i}-{uuid.uuid4().hex[:6]}", (base + timedelta(seconds=40 * i)).replace(tzinfo=None), "{}")
            for i in range(2000)]
    with mysql_store.pool.cursor() as cur:
        cur.executemany("INSERT INTO request_details (request_id, occurred_at, data, expires_at) "
                        "VALUES (%s, %s, %s, UTC_TIMESTAMP(3) + INTERVAL 1 HOUR)", rows)
        cur.execute("ANALYZE TABLE request_details")
    plan = mysql_store.pool.fetchall("EXPLAIN " + SELECT_REQUEST_DETAILS_BY_DAY_DESC, {
        "start": datetime(2025, 7, 30), "end": datetime(2025, 7, 31), "limit": 50, "offset": 0})
    assert plan[0]["key"] == "ix_request_details_occurred" and plan[0]["type"] == "range", plan
    assert "filesort" not in (plan[0]["Extra"] or ""), plan
