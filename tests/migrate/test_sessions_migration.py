"""Users, sessions, sticky mappings, the admin login, request details and settings: Redis -> MySQL ->
Redis round trip (TTLs re-armed), idempotent re-runs, bad values, verify, dual-mode writes, redaction."""
from __future__ import annotations

import io
import json

from relaystore.migrate.rollback import mysql_to_redis
from relaystore.migrate.run import Options, migrate_redis_to_mysql
from relaystore.migrate.verify import verify
from relaystore.store import Store
from tests.conftest import base_settings
from tests.migrate import fill_request_details, fill_sessions, fill_settings, fill_users
from tests.migrate.conftest import assert_keyspaces_equal, data_dump, keyspace, sql

MINE = ("system_settings,users,user_sessions,admin_sessions,admin_credentials,oauth_sessions,sticky_sessions,"
        "request_details")
FILLS = (fill_users, fill_sessions, fill_request_details, fill_settings)
TOKEN = "f" * 64   # a session token no report may show


def _redis_store(settings):
    return Store(base_settings(database_type="redis", redis_key_prefix=settings.redis_key_prefix))


def _fill(settings, n):
    with _redis_store(settings) as store:
        return sum(module.fill(store, n) for module in FILLS)


def _migrate(settings, tmp_path, **options):
    stderr = io.StringIO()
    options.setdefault("families", MINE)
    summary = migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / "m.log"), progress=False, **options),
                                     stderr=stderr)
    return summary, stderr.getvalue() + (tmp_path / "m.log").read_text()


def _verify(settings):
    out = io.StringIO()
    diffs = verify(settings, families=MINE, out=out, rechecks=0)
    return {d.name: d for d in diffs}, out.getvalue()


def test_round_trip_verifies_clean_and_rolls_back_with_ttls(settings, client, make_prefix, tmp_path):
    created = _fill(settings, 400)
    original = keyspace(client, settings.redis_key_prefix)
    assert len(original) == created
    summary, report = _migrate(settings, tmp_path, batch_size=97)
    assert summary.exit_code == 0, report
    totals = {f.name: (f.totals.read, f.totals.written) for f in summary.families}
    assert all(read == written > 0 for read, written in totals.values()), totals
    diffs, text = _verify(settings)
    assert all(d.clean for d in diffs.values()), text
    assert {name: d.redis_count for name, d in diffs.items()} == {name: read for name, (read, _) in totals.items()}
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    mysql_to_redis(target, families=MINE, log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
    source = keyspace(client, settings.redis_key_prefix)   # the TTLs left now, as the rollback re-armed them
    rolled = keyspace(client, target.redis_key_prefix)
    assert {k: v[:2] for k, v in source.items()} == {k: v[:2] for k, v in original.items()}
    assert_keyspaces_equal(source, rolled)
    assert any(ttl > 0 for _, _, ttl in rolled.values()) and any(ttl == -1 for _, _, ttl in rolled.values())
    with _redis_store(target) as rolled_store, _redis_store(settings) as source:
        user = source.users.list(page_size=1).items[0]
        assert rolled_store.users.get_by_username(user.username) == user
        day = next(k for k in original if k.startswith("request_detail:index:day:")).rpartition(":")[2]
        assert rolled_store.request_details.list_day(day, limit=500) == source.request_details.list_day(day, limit=500)


def test_second_run_leaves_mysql_identical(settings, tmp_path):
    _fill(settings, 300)
    first, _ = _migrate(settings, tmp_path, batch_size=50)
    dump = data_dump(settings, settings.mysql_database)
    second, _ = _migrate(settings, tmp_path, batch_size=33)
    assert first.exit_code == second.exit_code == 0
    assert data_dump(settings, settings.mysql_database) == dump
    assert all(len(dump[t]) > 0 for t in ("users", "user_sessions", "admin_sessions", "admin_credentials",
                                           "oauth_sessions", "sticky_sessions", "request_details"))


def _bad_keys(client, prefix):
    """One bad value per kind; returns {family: [the label the report must show]}."""
    good_session = json.dumps({"token": "t", "userId": "u1", "createdAt": "2025-07-30T01:02:03.456Z"})
    client.set(f"{prefix}user_session:{TOKEN}", "{not json", ex=600)                          # unparseable JSON
    client.set(f"{prefix}user_session:{'e' * 64}", good_session)                               # no TTL
    client.hset(f"{prefix}session:{'d' * 64}", mapping={"loginTime": "2025-07-30T01:02:03Z"})  # no username
    client.expire(f"{prefix}session:{'d' * 64}", 600)
    client.set(f"{prefix}session:{'c' * 64}", "a string where a hash belongs", ex=600)        # wrong type
    client.set(f"{prefix}user:u9", json.dumps({"id": "u9", "username": "x", "createdAt": "yesterday"}))
    client.set(f"{prefix}user:u8", json.dumps({"id": "other", "username": "y"}))              # id mismatch
    client.set(f"{prefix}request_detail:item:r1", json.dumps({"requestId": "r1"}), ex=600)    # no timestamp
    client.delete(f"{prefix}session:admin_credentials")
    client.hset(f"{prefix}session:admin_credentials", mapping={"username": "admin"})          # no passwordHash
    client.set(f"{prefix}sticky_session:s1", "a" * 300, ex=600)                              # too long for column
    client.set(f"{prefix}oem:settings", "x")
    client.delete(f"{prefix}webhook_config:default")
    client.lpush(f"{prefix}webhook_config:default", "a list")                                  # wrong type
    return {"user_sessions": ["user_session:ffffff…", "user_session:eeeeee…"],
            "admin_sessions": ["session:dddddd…", "session:cccccc…"], "users": ["user:u9", "user:u8"],
            "request_details": ["request_detail:item:r1"], "admin_credentials": ["session:admin_credentials"],
            "sticky_sessions": ["sticky_session:s1"], "system_settings": ["webhook_config:default"]}


def test_bad_values_are_reported_by_label_skipped_and_counted(settings, client, tmp_path):
    _fill(settings, 80)
    bad = _bad_keys(client, settings.redis_key_prefix)
    summary, report = _migrate(settings, tmp_path, on_error="skip", batch_size=20)
    assert summary.exit_code == 1 and not summary.stopped
    skipped = {f.name: f.totals.skipped for f in summary.families if f.totals.skipped}
    assert skipped == {name: len(labels) for name, labels in bad.items()}
    for labels in bad.values():
        for label in labels:
            assert label in report
    for secret in (TOKEN, "e" * 64, "d" * 64, "c" * 64):
        assert secret not in report
    assert "no TTL" in report and "required field username" in report and "wrong Redis type" in report
    diffs, text = _verify(settings)
    assert diffs["user_sessions"].undecodable and TOKEN not in text


def test_on_error_stop_stops_at_the_first_bad_value(settings, client, tmp_path):
    _fill(settings, 40)
    client.set(f"{settings.redis_key_prefix}user:u9", "[1, 2]")
    summary, report = _migrate(settings, tmp_path, on_error="stop")
    assert summary.exit_code == 1 and summary.stopped
    assert "user:u9: user record is not a JSON object" in report
    assert [f.name for f in summary.families][-1] == "users"   # later families were not copied


def test_verify_detects_changed_fields_missing_records_and_expiry(settings, client, tmp_path):
    _fill(settings, 120)
    prefix = settings.redis_key_prefix
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    with _redis_store(settings) as store:
        user = store.users.list(page_size=1).items[0]
        store.users.update(user.id, display_name="changed in Redis only")
        session = store.sessions.create_user_session("u1", token=TOKEN)
    client.delete(f"{prefix}sticky_session:h:7:0")
    client.expire(f"{prefix}request_detail:item:rd_7_000000", 50)
    sql(settings, "UPDATE admin_sessions SET username = 'someone else' ORDER BY token LIMIT 1")
    diffs, text = _verify(settings)
    assert diffs["users"].differing == {f"user:{user.id}": ["display_name", "updated_at"]}
    assert diffs["user_sessions"].only_redis == [f"user_session:{session.token}"]
    assert diffs["sticky_sessions"].only_mysql == ["sticky_session:h:7:0"]
    assert diffs["request_details"].differing == {"request_detail:item:rd_7_000000": ["expires_at"]}
    assert list(diffs["admin_sessions"].differing.values()) == [["username"]]
    assert TOKEN not in text and "user_session:ffffff…" in text


def test_expired_rows_are_neither_verified_nor_rolled_back(settings, client, make_prefix, tmp_path):
    with _redis_store(settings) as store:
        store.sessions.set_sticky("short", "acct", ttl_seconds=60)
        store.sessions.set_sticky("long", "acct", ttl_seconds=3600)
    assert _migrate(settings, tmp_path, families="sticky_sessions")[0].exit_code == 0
    client.delete(f"{settings.redis_key_prefix}sticky_session:short")
    sql(settings, "UPDATE sticky_sessions SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND "
                   "WHERE session_hash = 'short'")
    diffs, _ = _verify(settings)
    assert diffs["sticky_sessions"].clean and diffs["sticky_sessions"].mysql_count == 1
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    mysql_to_redis(target, families="sticky_sessions", log_path=str(tmp_path / "r.log"), progress=False,
                   stderr=io.StringIO())
    rolled = keyspace(client, target.redis_key_prefix)
    assert list(rolled) == ["sticky_session:long"] and 3590 <= rolled["sticky_session:long"][2] <= 3600


def test_a_username_held_by_another_id_is_refused_not_overwritten(settings, client, tmp_path):
    prefix = settings.redis_key_prefix
    client.set(f"{prefix}user:a1", json.dumps({"id": "a1", "username": "same"}))
    assert _migrate(settings, tmp_path, families="users")[0].exit_code == 0
    client.delete(f"{prefix}user:a1")
    client.set(f"{prefix}user:b2", json.dumps({"id": "b2", "username": "same"}))
    summary, report = _migrate(settings, tmp_path, families="users")
    assert summary.exit_code == 1 and "user b2: its username belongs to user a1" in report
    summary, _ = _migrate(settings, tmp_path, families="users", delete_missing=True)
    assert summary.families[0].totals.gone == 1
    assert _migrate(settings, tmp_path, families="users")[0].exit_code == 0   # a1's row is gone: b2 fits


def test_dual_mode_writes_reach_mysql_as_redis_holds_them(settings, dual_store):
    users, sessions = dual_store.users, dual_store.sessions
    keep = users.create("keeper", email="k@example.com")
    gone = users.create("leaver 🚪")
    users.update(keep.id, display_name="Keeper", extra={"future": [1, 2]})
    for i in range(3):
        sessions.create_user_session(gone.id, token=f"{i}" * 64, data={"i": i})
    sessions.create_user_session(keep.id, token="k" * 64)
    sessions.create_user_session(keep.id, token="j" * 64)
    sessions.delete_user_session("j" * 64)
    users.delete(gone.id)                      # ends the leaver's sessions by SCAN on Redis
    users.purge(gone.id)
    admin = sessions.create_admin_session("root", extra={"ip": "::1"})
    sessions.touch_admin_session(admin.token)
    dropped = sessions.create_admin_session("root")
    sessions.delete_admin_session(dropped.token)
    sessions.set_sticky("conv-1", "acct-1", ttl_seconds=600)
    sessions.set_sticky("conv-2", "acct-2")
    sessions.renew_sticky("conv-1", ttl_seconds=3600, threshold_seconds=3600)
    sessions.delete_sticky("conv-2")
    flow = sessions.create_oauth_session(code_verifier="v", state="s", platform="claude", deviceCode="D")
    sessions.create_oauth_session(session_id="gone-flow")
    sessions.delete_oauth_session("gone-flow")
    dual_store.admin.set_credentials("admin", fill_sessions.BCRYPT, ttl_seconds=None)
    dual_store.system_settings.set_oem_settings({"siteName": "relay ü"})
    dual_store.system_settings.set_webhook_config({"enabled": False})
    dual_store.system_settings.set("apikey:index:version", "2")
    dual_store.system_settings.delete("apikey:index:version")
    dual_store.system_settings.set("account_groups_reverse:migrated", "true")   # seed.sql put it in MySQL only
    detail = dual_store.request_details.put({"requestId": "rd_1", "model": "m"})
    dual_store.request_details.put({"requestId": "rd_2", "model": "m"})
    dual_store.request_details.delete("rd_2")
    sessions.create_user_session(keep.id, token="x" * 64)
    assert sessions.delete_user_sessions(keep.id) == 2
    diffs, text = _verify(settings)
    assert all(d.clean for d in diffs.values()), text
    counts = {name: d.mysql_count for name, d in diffs.items()}
    assert counts == {"system_settings": 3, "users": 1, "user_sessions": 0, "admin_sessions": 1,
                      "admin_credentials": 1, "oauth_sessions": 1, "sticky_sessions": 1, "request_details": 1}
    mysql = dual_store.mysql_store
    assert mysql.users.get(keep.id) == dual_store.redis_store.users.get(keep.id)
    assert mysql.users.get(gone.id) is None and mysql.sessions.get_user_session("0" * 64) is None
    assert mysql.sessions.get_oauth_session(flow.session_id) == flow
    assert mysql.request_details.get("rd_1") == detail
    assert mysql.system_settings.get_oem_settings() == {"siteName": "relay ü"}


def test_migration_reads_use_their_indexes(settings, tmp_path):
    from relaystore.migrate import families
    from relaystore.mysql import sessions as mysql_sessions
    from relaystore.mysql import users as mysql_users
    from relaystore.mysql.pool import MySQLPool

    _fill(settings, 400)
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    pool = MySQLPool(settings)

    def plan(sql, params):
        rows = pool.fetchall("EXPLAIN " + sql, params)
        assert len(rows) == 1, rows
        return rows[0]["key"], rows[0]["type"]

    try:
        pool.fetchall("ANALYZE TABLE users, user_sessions, admin_sessions, oauth_sessions, sticky_sessions, "
                      "request_details")
        for name in ("user_sessions", "admin_sessions", "oauth_sessions", "sticky_sessions", "request_details"):
            family = families.FAMILIES[name]
            assert plan(family.keys_sql, {"after": "", "limit": 100}) in (("PRIMARY", "range"), ("PRIMARY", "index"))
            three = ["a", "b", "c"]
            assert plan(family.select_sql.format(keys="%s, %s, %s"), three) == ("PRIMARY", "range"), name
        assert plan(mysql_users.SELECT_USER_IDS_AFTER, {"after": "", "limit": 100})[0] == "PRIMARY"
        assert plan(mysql_users.SELECT_USERS_BY_IDS.format(ids="%s, %s"), ["a", "b"]) == ("PRIMARY", "range")
        assert plan(mysql_users.SELECT_USER_IDS_BY_USERNAMES.format(names="%s, %s"),
                    ["a", "b"]) == ("uq_users_username", "range")
        assert plan(mysql_sessions.SELECT_USER_SESSION_TOKENS_BY_USER,
                    {"user_id": "u1"})[0] == "ix_user_sessions_user"
    finally:
        pool.close()


def test_dry_run_finds_the_same_bad_values_and_writes_nothing(settings, client, tmp_path):
    _fill(settings, 80)
    bad = _bad_keys(client, settings.redis_key_prefix)
    before = data_dump(settings, settings.mysql_database)
    summary, report = _migrate(settings, tmp_path, dry_run=True)
    assert summary.exit_code == 1 and data_dump(settings, settings.mysql_database) == before
    skipped = {f.name: f.totals.skipped for f in summary.families if f.totals.skipped}
    assert skipped == {name: len(labels) for name, labels in bad.items()}
    assert "sticky_sessions.account_id" in report and TOKEN not in report
    written = {f.name: f.totals.written for f in summary.families}
    assert all(written[name] > 0 for name in ("users", "user_sessions", "admin_sessions", "oauth_sessions",
                                               "sticky_sessions", "request_details"))
