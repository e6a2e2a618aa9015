"""Accounts, account groups, group members and account state survive Redis -> MySQL -> Redis; re-runs
change nothing; bad values are reported with their key; verify sees changed fields, missing records and
moved TTLs; dual-mode writes reach MySQL as Redis holds them."""
from __future__ import annotations

import io
import json
import time
import uuid

from relaystore.migrate.rollback import mysql_to_redis
from relaystore.migrate.run import Options, migrate_redis_to_mysql
from relaystore.migrate.verify import verify
from relaystore.store import Store
from tests.conftest import base_settings
from tests.migrate import fill_account_groups, fill_account_state, fill_accounts
from tests.migrate.conftest import assert_keyspaces_equal, data_dump, keyspace, sql

FAMILIES = "accounts,account_groups,account_group_members,account_state"
MINE = FAMILIES.split(",")


def _migrate(settings, tmp_path, **options):
    stderr = io.StringIO()
    options.setdefault("families", FAMILIES)
    summary = migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / "m.log"), progress=False, **options),
                                     stderr=stderr)
    return summary, stderr.getvalue()


def _verify(settings):
    out = io.StringIO()
    diffs = {d.name: d for d in verify(settings, families=FAMILIES, out=out, rechecks=0)}
    return diffs, out.getvalue()


def _redis(settings):
    return Store(base_settings(database_type="redis", redis_key_prefix=settings.redis_key_prefix))


def _mysql(settings):
    return Store(base_settings(database_type="mysql", mysql_database=settings.mysql_database))


def _fill(settings, n=240):
    with _redis(settings) as store:
        return (fill_accounts.fill(store, n), fill_account_groups.fill(store, n), fill_account_state.fill(store, n))


def _aged(space, since):
    """A keyspace snapshot as it stands now: TTLs count down (the rollback re-arms what remains, not the full TTL)."""
    gone = round(time.monotonic() - since)
    return {k: (t, v, ttl - gone if ttl >= 0 else ttl) for k, (t, v, ttl) in space.items()}


def test_round_trip_verifies_clean_and_rolls_back_to_an_equal_keyspace(settings, client, make_prefix, tmp_path):
    created = _fill(settings)
    original, taken = keyspace(client, settings.redis_key_prefix), time.monotonic()
    assert sum(created) == len(original) and all(created)
    summary, _ = _migrate(settings, tmp_path, batch_size=64)
    assert summary.exit_code == 0
    totals = {f.name: f.totals for f in summary.families}
    assert all(t.skipped == t.failed == 0 and t.read == t.written > 0 for t in totals.values()), totals
    diffs, text = _verify(settings)
    assert all(d.clean for d in diffs.values()), text
    assert all(d.redis_count == d.mysql_count > 0 for d in diffs.values())
    with _mysql(settings) as mysql, _redis(settings) as redis:
        from relaystore.account_rules import PLATFORMS
        for platform in PLATFORMS:   # secrets decrypt on the MySQL side to what Redis holds
            assert mysql.accounts.list(platform) == redis.accounts.list(platform)
            assert mysql.accounts.list_schedulable(platform) == redis.accounts.list_schedulable(platform)
        for group in redis.account_groups.list():
            assert mysql.account_groups.get(group.id) == group
            assert mysql.account_groups.members(group.id) == redis.account_groups.members(group.id)
        for key in client.scan_iter(match=settings.redis_key_prefix + "account:test_history:*"):
            platform, account_id = key[len(settings.redis_key_prefix):].split(":", 3)[2:]
            assert mysql.account_state.list_test_results(platform, account_id) == \
                redis.account_state.list_test_results(platform, account_id)
        for key in client.scan_iter(match=settings.redis_key_prefix + "account_balance:*"):
            platform, account_id = key[len(settings.redis_key_prefix):].split(":", 2)[1:]
            assert mysql.account_state.get_balance(platform, account_id) == \
                redis.account_state.get_balance(platform, account_id)
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    mysql_to_redis(target, families=FAMILIES, log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
    assert_keyspaces_equal(_aged(original, taken), keyspace(client, target.redis_key_prefix))


def test_secrets_stay_encrypted_in_mysql_and_never_reach_the_log(settings, tmp_path):
    with _redis(settings) as store:
        account = store.accounts.create("claude-console", name="c", apiKey="sk-very-secret-value")
        stored = store.redis.hget(store.keys.account("claude-console", account.id), "apiKey")
    summary, stderr = _migrate(settings, tmp_path)
    assert summary.exit_code == 0
    (data,), = sql(settings, "SELECT data FROM accounts WHERE id = %s", (account.id,))
    assert json.loads(data)["apiKey"] == stored and "sk-very-secret-value" not in data
    assert "sk-very-secret-value" not in (tmp_path / "m.log").read_text() + stderr


def test_second_run_leaves_mysql_identical(settings, tmp_path):
    _fill(settings, 120)
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    first = data_dump(settings, settings.mysql_database)
    assert first["accounts"] and first["account_test_results"] and first["account_state"]
    assert _migrate(settings, tmp_path, batch_size=40)[0].exit_code == 0
    assert data_dump(settings, settings.mysql_database) == first


def _bad_keys(client, prefix):
    """One key per kind of bad value; {key: value that must never be printed}."""
    bad = {}
    account = f"claude_console_account:{uuid.uuid4()}"
    client.hset(prefix + account, mapping={"name": "n", "priority": "lots-of-secret", "apiKey": "secret-one"})
    bad[account] = "lots-of-secret"
    bedrock = f"bedrock_account:{uuid.uuid4()}"
    client.set(prefix + bedrock, '{"name": "unterminated-secret')
    bad[bedrock] = "unterminated-secret"
    wrong_type = f"gemini_account:{uuid.uuid4()}"
    client.set(prefix + wrong_type, "a-string-where-a-hash-belongs")
    bad[wrong_type] = "a-string-where-a-hash-belongs"
    bad_id = "openai:account:not a valid id"
    client.hset(prefix + bad_id, "name", "x")
    bad[bad_id] = None
    created = "ccr_account:" + str(uuid.uuid4())
    client.hset(prefix + created, mapping={"name": "x", "createdAt": "yesterday-ish"})
    bad[created] = "yesterday-ish"
    orphan = f"account_group_members:{uuid.uuid4()}"
    client.sadd(prefix + orphan, str(uuid.uuid4()))
    bad[orphan] = None
    state = "account_balance:claude:id with spaces"
    client.hset(prefix + state, "balance", "1")
    bad[state] = None
    history = f"account:test_history:claude:{uuid.uuid4()}"
    client.hset(prefix + history, "not", "a list")
    bad[history] = None
    persisted = f"account:test_history:claude:{uuid.uuid4()}"
    client.rpush(prefix + persisted, '{"persisted-secret":1}')
    bad[persisted] = "persisted-secret"
    return bad


def test_bad_values_are_skipped_reported_with_their_key_and_counted(settings, client, tmp_path):
    good = _fill(settings, 60)
    bad = _bad_keys(client, settings.redis_key_prefix)
    summary, stderr = _migrate(settings, tmp_path, batch_size=50, on_error="skip")
    assert summary.exit_code == 1 and not summary.stopped
    assert sum(f.totals.skipped for f in summary.families) == len(bad)
    assert sum(f.totals.failed for f in summary.families) == 0
    log = [json.loads(line) for line in (tmp_path / "m.log").read_text().splitlines()]
    assert {line["key"] for line in log if line["event"] == "error"} == set(bad)
    text = (tmp_path / "m.log").read_text() + stderr
    for key, value in bad.items():
        assert key in stderr
        assert value is None or value not in text
    assert "secret-one" not in text
    diffs, _ = _verify(settings)   # everything else arrived; the orphan member SET had no group row to join
    orphan = [k for k in bad if k.startswith("account_group_members:")]
    assert [k for d in diffs.values() for k in d.only_redis] == orphan
    assert all(not d.differing and not d.only_mysql for d in diffs.values())
    assert all(good)


def test_stop_on_error_stops_with_non_zero_exit(settings, client, tmp_path):
    _fill(settings, 60)
    _bad_keys(client, settings.redis_key_prefix)
    summary, stderr = _migrate(settings, tmp_path, batch_size=50, on_error="stop")
    assert summary.exit_code == 1 and summary.stopped
    assert sum(f.totals.skipped for f in summary.families) >= 1
    assert "stopped at the first bad value" in stderr
    assert [f.name for f in summary.families] == ["accounts"]   # later families never started


def test_verify_reports_changed_fields_missing_records_and_moved_ttls(settings, client, tmp_path):
    with _redis(settings) as store:
        a = store.accounts.create("openai-responses", name="a", apiKey="k", data={"extra": "1"})
        b = store.accounts.create("bedrock", name="b", region="us-east-1")
        group = store.account_groups.create("claude", "g")
        store.account_groups.add_member(group.id, a.id)
        store.account_state.set_balance("claude", a.id, balance=3.5)
        store.account_state.add_test_result("claude", a.id, {"ok": True})
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    assert all(d.clean for d in _verify(settings)[0].values())
    p = settings.redis_key_prefix
    client.hset(f"{p}openai_responses_account:{a.id}", mapping={"extra": "2", "priority": "7"})
    sql(settings, "DELETE FROM accounts WHERE id = %s", (b.id,))
    client.sadd(f"{p}account_group_members:{group.id}", "another-account")
    client.expire(f"{p}account_balance:claude:{a.id}", 60)
    sql(settings, "DELETE FROM account_test_results WHERE account_id = %s", (a.id,))
    diffs, text = _verify(settings)
    assert diffs["accounts"].differing == {f"openai_responses_account:{a.id}": ["priority", "extra"]}
    assert diffs["accounts"].only_redis == [f"bedrock_account:{b.id}"]
    assert diffs["account_group_members"].differing == {f"account_group_members:{group.id}": ["members"]}
    assert diffs["account_state"].differing == {f"account_balance:claude:{a.id}": ["ttl"]}
    assert diffs["account_state"].only_redis == [f"account:test_history:claude:{a.id}"]
    assert diffs["account_groups"].clean
    assert "verify: DIFFERENCES FOUND" in text and "apiKey" not in text


def test_dual_mode_writes_reach_mysql_as_redis_holds_them(settings, dual_store):
    s = dual_store
    kept = s.accounts.create("claude", name="kept ✓", accessToken="at", proxy={"host": "h"})
    gone = s.accounts.create("gemini-api", name="gone", apiKey="k")
    bedrock = s.accounts.create("bedrock", name="b", awsCredentials={"accessKeyId": "A", "secretAccessKey": "S"})
    s.accounts.update("claude", kept.id, priority=3, account_type="dedicated", someNewField="x")
    s.accounts.update("bedrock", bedrock.id, region="eu-west-1", data={"type": None})
    group = s.account_groups.create("claude", "g1", extraField="e")
    other = s.account_groups.create("gemini-api", "g2")
    s.account_groups.add_member(group.id, kept.id)
    s.account_groups.add_member(other.id, gone.id)
    s.account_groups.add_member(group.id, "someone-else")
    s.account_groups.remove_member(group.id, "someone-else")
    s.account_groups.update(group.id, name="renamed")
    s.accounts.delete("gemini-api", gone.id)          # leaves every group's member SET
    s.account_groups.delete(other.id)
    s.account_state.set_balance("claude", kept.id, balance=1.5, quota={"left": 2})
    s.account_state.set_local_balance("claude", kept.id, {"e": 1})
    s.account_state.set_balance_script("claude", kept.id, {"url": "u"})
    for i in range(7):
        s.account_state.add_test_result("claude", kept.id, {"i": i})
    s.account_state.set_last_test("claude", kept.id)
    s.account_state.delete_balance_script("claude", kept.id)
    r, m = s.redis_store, s.mysql_store
    for platform, account_id in (("claude", kept.id), ("gemini-api", gone.id), ("bedrock", bedrock.id)):
        assert r.accounts.get(platform, account_id) == m.accounts.get(platform, account_id)
    assert m.accounts.get("gemini-api", gone.id) is None
    assert r.account_groups.list() == m.account_groups.list()
    assert r.account_groups.members(group.id) == m.account_groups.members(group.id) == [kept.id]
    assert m.account_state.list_test_results("claude", kept.id) == r.account_state.list_test_results("claude", kept.id)
    assert len(m.account_state.list_test_results("claude", kept.id)) == 5
    assert m.account_state.get_balance("claude", kept.id) == r.account_state.get_balance("claude", kept.id)
    assert m.account_state.get_last_test("claude", kept.id) == r.account_state.get_last_test("claude", kept.id)
    assert m.account_state.get_balance_script("claude", kept.id) is None
    s.account_state.delete_test_state("claude", kept.id)
    s.account_state.delete_balance("claude", kept.id)
    assert m.account_state.list_test_results("claude", kept.id) == []
    assert m.account_state.get_balance("claude", kept.id) is None
    diffs, text = _verify(settings)
    assert all(d.clean for d in diffs.values()), text


def test_dry_run_finds_the_same_bad_values_and_writes_nothing(settings, client, tmp_path):
    _fill(settings, 40)
    bad = _bad_keys(client, settings.redis_key_prefix)
    summary, _ = _migrate(settings, tmp_path, dry_run=True, batch_size=50)
    assert summary.exit_code == 1 and summary.dry_run
    skipped = {line["key"] for line in map(json.loads, (tmp_path / "m.log").read_text().splitlines())
               if line["event"] == "error"}
    # The orphan member SET is refused only when MySQL is written (its group row is looked up then).
    assert skipped == {k for k in bad if not k.startswith("account_group_members:")}
    tables = ("accounts", "account_groups", "account_group_members", "account_state", "account_test_results")
    assert all(not rows for rows in data_dump(settings, settings.mysql_database, tables).values())


def test_migration_reads_use_their_indexes(settings, tmp_path):
    from relaystore.migrate.families import account_groups as g
    from relaystore.migrate.families import account_state as st
    from relaystore.migrate.families import accounts as acc
    from relaystore.mysql.pool import MySQLPool

    _fill(settings, 200)
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    pool = MySQLPool(settings)
    try:
        pool.fetchall("ANALYZE TABLE accounts, account_groups, account_group_members, account_state, "
                      "account_test_results")

        def plan(sql, params):
            rows = pool.fetchall("EXPLAIN " + sql, params)
            assert len(rows) == 1, rows
            return rows[0]

        pairs = [(r["platform"], r["id"]) for r in pool.fetchall("SELECT platform, id FROM accounts LIMIT 5")]
        same = [i for p, i in pairs if p == pairs[0][0]]
        for row in (plan(acc.SELECT_ACCOUNT_KEYS_AFTER, {"platform": pairs[0][0], "id": pairs[0][1], "limit": 100}),
                    plan(acc.SELECT_ACCOUNTS_BY_KEYS.format(ids=acc._in(len(same))), [pairs[0][0], *same])):
            assert row["key"] == "PRIMARY" and row["type"] in ("range", "index"), row
        ids = [r["group_id"] for r in pool.fetchall("SELECT DISTINCT group_id FROM account_group_members LIMIT 5")]
        for row in (plan(g.SELECT_ACCOUNT_GROUPS_BY_IDS.format(ids=g._in(len(ids))), ids),
                    plan(g.SELECT_MEMBER_GROUP_IDS_AFTER, {"after": ids[0], "limit": 100})):
            assert row["key"] == "PRIMARY" and row["type"] in ("range", "index"), row
        members = pool.fetchall("EXPLAIN " + g.SELECT_MEMBERS_OF_GROUPS.format(ids=g._in(len(ids))), ids)
        assert all(r["key"] == "PRIMARY" for r in members), members
        first = pool.fetchall("SELECT platform, kind FROM account_state LIMIT 1")[0]
        ids = [r["account_id"] for r in pool.fetchall(
            "SELECT account_id FROM account_state WHERE platform = %(platform)s AND kind = %(kind)s LIMIT 5", first)]
        row = plan(st.SELECT_ACCOUNT_STATE_BY_KEYS.format(ids=st._in(len(ids))), [first["platform"], first["kind"], *ids])
        assert row["key"] == "PRIMARY" and row["type"] == "range", row
        platform = pool.fetchall("SELECT platform FROM account_test_results LIMIT 1")[0]["platform"]
        ids = [r["account_id"] for r in pool.fetchall(
            "SELECT DISTINCT account_id FROM account_test_results WHERE platform = %s LIMIT 5", [platform])]
        row = plan(st.SELECT_LIVE_TEST_RESULTS.format(ids=st._in(len(ids))), [platform, *ids])
        assert row["key"] == "ix_account_test_results_account" and row["type"] == "range", row
    finally:
        pool.close()


def test_records_written_on_mysql_roll_back_as_the_redis_dao_reads_them(settings, client, make_prefix, tmp_path):
    with _mysql(settings) as m:
        a = m.accounts.create("claude", name="made on mysql", accessToken="at", data={"odd field": "✓"})
        b = m.accounts.create("bedrock", name="b", awsCredentials={"accessKeyId": "A", "secretAccessKey": "S"})
        m.accounts.update("bedrock", b.id, region="eu-west-1", account_type="dedicated")
        group = m.account_groups.create("claude", "g", proxyPriority="2")
        m.account_groups.add_member(group.id, a.id)
        m.account_state.set_balance("claude", a.id, balance=2.5, raw_data={"x": 1})
        m.account_state.set_balance_script("claude", a.id, {"url": "u"})
        for i in range(3):
            m.account_state.add_test_result("claude", a.id, {"i": i})
        expected = (m.accounts.get("claude", a.id), m.accounts.get("bedrock", b.id), m.account_groups.get(group.id),
                    m.account_state.get_balance("claude", a.id), m.account_state.list_test_results("claude", a.id))
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    mysql_to_redis(target, families=FAMILIES, log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
    with _redis(target) as r:
        assert (r.accounts.get("claude", a.id), r.accounts.get("bedrock", b.id), r.account_groups.get(group.id),
                r.account_state.get_balance("claude", a.id), r.account_state.list_test_results("claude", a.id)) \
            == expected
        assert [x.id for x in r.accounts.list_schedulable("claude", group_id=group.id)] == [a.id]
        assert r.account_groups.groups_of("claude", a.id) == [expected[2]]   # reverse index rebuilt
        assert r.redis.sismember(r.keys.account_index("bedrock"), b.id)
        assert not r.redis.sismember(r.keys.account_shared_pool("claude-console"), b.id)
        ttl = r.redis.ttl(r.keys.account_balance("claude", a.id))
        assert 3590 <= ttl <= 3600
    # and the rolled-back keyspace migrates back to the same rows (a hash has no field order: data compared parsed)
    def dump():
        out = data_dump(settings, settings.mysql_database)
        out["accounts"] = [(*row[:-1], json.loads(row[-1])) for row in out["accounts"]]
        return out

    before = dump()
    summary, _ = _migrate(target, tmp_path)
    assert summary.exit_code == 0
    assert dump() == before


def test_upstream_records_missing_typed_fields_roll_back_equal_in_meaning(settings, client, make_prefix, tmp_path):
    p = settings.redis_key_prefix
    with _redis(settings) as r:
        a = r.accounts.create("claude", name="old upstream", accessToken="at", data={"kept": "as is"})
        b = r.accounts.create("bedrock", name="b", awsCredentials={"accessKeyId": "A", "secretAccessKey": "S"})
        client.hdel(f"{p}claude:account:{a.id}", "priority", "schedulable", "errorMessage", "lastUsedAt", "status")
        stored = json.loads(client.get(f"{p}bedrock_account:{b.id}"))
        reordered = {"kept": "✓", **{k: stored[k] for k in reversed(list(stored))}, "priority": "7"}
        client.set(f"{p}bedrock_account:{b.id}", json.dumps(reordered, ensure_ascii=False, separators=(",", ":")))
        original = (r.accounts.get("claude", a.id), r.accounts.get("bedrock", b.id))
    assert original[0].priority == 50 and original[1].priority == 7
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    diffs, text = _verify(settings)
    assert all(d.clean for d in diffs.values()), text
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    mysql_to_redis(target, families=FAMILIES, log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
    with _redis(target) as r:
        assert (r.accounts.get("claude", a.id), r.accounts.get("bedrock", b.id)) == original
        assert r.redis.hget(r.keys.account("claude", a.id), "kept") == "as is"
        # the typed fields come back in canonical form (documented in MYSQL_MIGRATION.md)
        assert r.redis.hget(r.keys.account("claude", a.id), "priority") == "50"
        assert json.loads(r.redis.get(r.keys.account("bedrock", b.id)))["priority"] == 7
