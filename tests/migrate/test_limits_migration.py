"""Leases, concurrency queues and rate-limit windows survive Redis -> MySQL -> Redis.

In-flight leases and live windows hold on MySQL after the copy; the rollback gives back the same
members, scores, fields, values and TTLs; re-runs change nothing; bad values are reported with their key.
"""
from __future__ import annotations

import io
import json
import time

import pytest

from relaystore.migrate import families
from relaystore.migrate.rollback import mysql_to_redis
from relaystore.migrate.run import Options, migrate_redis_to_mysql
from relaystore.migrate.verify import verify
from relaystore.mysql.pool import MySQLPool
from relaystore.store import Store
from tests.conftest import base_settings
from tests.migrate import fill_concurrency_queues, fill_leases, fill_rate_limits
from tests.migrate.conftest import assert_keyspaces_equal, data_dump, keyspace, sql

FILLS = {"leases": fill_leases.fill, "concurrency_queues": fill_concurrency_queues.fill,
         "rate_limits": fill_rate_limits.fill}
MINE = ",".join(FILLS)
TABLES = ("lease_keys", "leases", "lease_key_expiry", "concurrency_queue_counts", "concurrency_queue_stats",
          "concurrency_queue_wait_lists", "concurrency_queue_wait_times", "rate_limit_windows")


def _migrate(settings, tmp_path, **options):
    stderr = io.StringIO()
    summary = migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / "m.log"), progress=False,
                                                       families=options.pop("families", MINE), **options),
                                     stderr=stderr)
    return summary, stderr.getvalue()


def _fill(settings, n, names=tuple(FILLS)):
    with Store(base_settings(database_type="redis", redis_key_prefix=settings.redis_key_prefix)) as store:
        return {name: FILLS[name](store, n) for name in names}


def _verify(settings, **kw):
    out = io.StringIO()
    diffs = verify(settings, families=MINE, out=out, **kw)
    return {d.name: d for d in diffs}, out.getvalue()


def test_round_trip_verifies_clean_and_rolls_back_to_an_equal_keyspace(settings, client, make_prefix, tmp_path):
    created = _fill(settings, 300)
    snapshot_at = time.monotonic()
    original = keyspace(client, settings.redis_key_prefix)
    assert len(original) == sum(created.values())
    summary, stderr = _migrate(settings, tmp_path, batch_size=97)
    assert summary.exit_code == 0, stderr
    totals = {f.name: f.totals for f in summary.families}
    for name, n in created.items():
        assert (totals[name].read, totals[name].written, totals[name].skipped) == (n, n, 0)
    diffs, out = _verify(settings)
    assert all(d.clean for d in diffs.values()), out
    assert {name: (d.redis_count, d.mysql_count) for name, d in diffs.items()} == {
        name: (n, n) for name, n in created.items()}
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    mysql_to_redis(target, families=MINE, log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
    # TTLs count down meanwhile: the rolled-back ones may be shorter by the time the test took, no more.
    rolled = keyspace(client, target.redis_key_prefix)
    assert_keyspaces_equal(original, rolled, ttl_tolerance=2 + int(time.monotonic() - snapshot_at))
    assert all(rolled[key][2] <= ttl + 2 for key, (_, _, ttl) in original.items())


def test_expired_members_are_copied_unchanged_and_live_state_holds_on_mysql(settings, client, tmp_path):
    with Store(base_settings(database_type="redis", redis_key_prefix=settings.redis_key_prefix)) as redis:
        assert redis.leases.acquire("k1", "live-a", limit=2, ttl_seconds=300)
        assert redis.leases.acquire("k1", "live-b", limit=2, ttl_seconds=300)
        assert redis.leases.acquire("k2", "gone", limit=0, ttl_seconds=0.001)
        redis.queues.enter("k1")
        redis.queues.record_stat("k1", "timeout")
        redis.queues.record_wait("k1", 1500)
        redis.rate_limits.check_and_increment("k1", window_minutes=60, max_requests=3)
        redis.rate_limits.add_usage("k1", tokens=700, cost=0.25)
        window = redis.rate_limits.current("k1", window_minutes=60)
        expired_score = client.zscore(f"{settings.redis_key_prefix}concurrency:k2", "gone")
    time.sleep(0.01)
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    rows = sql(settings, "SELECT request_id, expires_at FROM leases WHERE key_id = 'k2'")
    assert [r[0] for r in rows] == ["gone"]
    pool = MySQLPool(settings)
    try:
        copied = families.FAMILIES["leases"].read_mysql(pool, ["concurrency:k2"])["concurrency:k2"]
    finally:
        pool.close()
    assert copied.members == (("gone", int(expired_score)),)
    with Store(base_settings(database_type="mysql", mysql_database=settings.mysql_database)) as mysql:
        assert mysql.leases.count("k1") == 2
        assert not mysql.leases.acquire("k1", "third", limit=2, ttl_seconds=30)    # the copied leases hold
        assert mysql.leases.count("k2") == 0
        assert (mysql.queues.waiting("k1"), mysql.queues.stats("k1").timeout) == (1, 1)
        assert mysql.queues.wait_times("k1") == [1500] and mysql.queues.global_wait_times() == [1500]
        assert mysql.rate_limits.current("k1", window_minutes=60) == window


def test_second_run_leaves_mysql_identical(settings, tmp_path):
    _fill(settings, 120)
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    first = data_dump(settings, settings.mysql_database, TABLES)
    assert all(first[t] for t in TABLES)
    assert _migrate(settings, tmp_path, batch_size=13)[0].exit_code == 0
    assert data_dump(settings, settings.mysql_database, TABLES) == first


def _bad_keys(client, prefix):
    """One key of each bad kind (relative name -> the value that must never be printed)."""
    bad = {
        "concurrency:bad-score": ("zset", {"req-secret-1": 1.5}),            # score not whole ms
        "concurrency:wrong-type": ("string", "secret-string"),               # wrong Redis type
        "concurrency:queue:bad-count": ("string", "lots-secret"),            # unparseable number
        "concurrency:queue:stats:bad-field": ("hash", {"bogus": "1"}),       # unknown field
        "concurrency:queue:stats:bad-number": ("hash", {"entered": "x-secret"}),
        "concurrency:queue:wait_times:bad-sample": ("list", ["12", "nan-secret"]),
        "rate_limit:cost:bad-cost": ("string", "cost-secret"),
        "rate_limit:window_start:bad-start": ("string", "start-secret"),
        "rate_limit:requests:not-canonical": ("string", "5.0"),                # INCR would refuse it too
        "rate_limit:tokens:" + "é": ("string", "5"),                          # key id MySQL cannot hold
    }
    for key, (kind, value) in bad.items():
        full = prefix + key
        if kind == "zset":
            client.zadd(full, value)
        elif kind == "hash":
            client.hset(full, mapping=value)
        elif kind == "list":
            client.rpush(full, *value)
        else:
            client.set(full, value)
        client.expire(full, 600)
    return bad


@pytest.mark.parametrize("on_error", ["skip", "stop"])
def test_bad_values_are_reported_with_their_key_and_counted(settings, client, tmp_path, on_error):
    created = _fill(settings, 40)
    bad = _bad_keys(client, settings.redis_key_prefix)
    summary, stderr = _migrate(settings, tmp_path, batch_size=500, on_error=on_error)
    assert summary.exit_code == 1
    skipped = sum(f.totals.skipped for f in summary.families)
    log = [json.loads(line) for line in (tmp_path / "m.log").read_text().splitlines()]
    reported = {line["key"] for line in log if line["event"] == "error"}
    text = (tmp_path / "m.log").read_text() + stderr
    for _, value in bad.values():
        for part in (value.keys() if isinstance(value, dict) else value if isinstance(value, list) else [value]):
            assert "secret" not in part or part not in text
    if on_error == "skip":
        assert not summary.stopped and reported == set(bad) and skipped == len(bad)
        for key in bad:
            assert key in stderr
        totals = {f.name: f.totals for f in summary.families}
        assert totals["leases"].written == created["leases"]
        assert totals["rate_limits"].written == created["rate_limits"]
    else:
        assert summary.stopped and skipped >= 1 and reported <= set(bad)
        assert [f.name for f in summary.families] == ["leases"]     # later families never started


def test_verify_detects_a_changed_field_and_a_missing_record(settings, tmp_path):
    with Store(base_settings(database_type="redis", redis_key_prefix=settings.redis_key_prefix)) as redis:
        redis.leases.acquire("k1", "r1", limit=0, ttl_seconds=300)
        redis.leases.acquire("k2", "r2", limit=0, ttl_seconds=300)
        redis.queues.enter("k1")
        redis.queues.record_stat("k1", "success")
        redis.queues.record_wait("k1", 42, include_global=False)
        redis.rate_limits.check_and_increment("k1", window_minutes=60)
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    assert all(d.clean for d in _verify(settings)[0].values())
    sql(settings, "UPDATE leases SET expires_at = expires_at + INTERVAL 1 SECOND WHERE key_id = 'k1'")
    sql(settings, "UPDATE lease_key_expiry SET expires_at = expires_at + INTERVAL 1 HOUR WHERE key_id = 'k2'")
    sql(settings, "UPDATE concurrency_queue_stats SET success = 7 WHERE key_id = 'k1'")
    sql(settings, "UPDATE concurrency_queue_wait_times SET wait_ms = 43 WHERE list_id = 'k1'")
    sql(settings, "UPDATE rate_limit_windows SET tokens = 5 WHERE key_id = 'k1'")
    sql(settings, "DELETE FROM concurrency_queue_counts WHERE key_id = 'k1'")
    diffs, out = _verify(settings, rechecks=0)
    assert diffs["leases"].differing == {"concurrency:k1": ["members"], "concurrency:k2": ["ttl"]}
    assert diffs["concurrency_queues"].differing == {"concurrency:queue:stats:k1": ["counts"],
                                                     "concurrency:queue:wait_times:k1": ["samples"]}
    assert diffs["concurrency_queues"].only_redis == ["concurrency:queue:k1"]
    assert diffs["rate_limits"].differing == {"rate_limit:tokens:k1": ["value"]}
    assert "DIFFERENCES FOUND" in out
    assert _migrate(settings, tmp_path)[0].exit_code == 0       # a re-run repairs every difference
    assert all(d.clean for d in _verify(settings)[0].values())


def test_dual_mode_writes_reach_mysql_as_redis_holds_them(settings):
    with Store(base_settings(database_type="dual", mysql_database=settings.mysql_database,
                             redis_key_prefix=settings.redis_key_prefix)) as store:
        assert store.leases.acquire("k1", "a", limit=2, ttl_seconds=300)
        assert store.leases.acquire("k1", "b", limit=2, ttl_seconds=300)
        assert not store.leases.acquire("k1", "c", limit=2, ttl_seconds=300)
        assert store.leases.refresh("k1", "a", ttl_seconds=900)
        assert store.leases.release("k1", "b")
        assert store.leases.acquire("k2", "x", limit=0, ttl_seconds=300)
        assert store.leases.release("k2", "x")                       # the set is gone on both sides
        assert store.leases.acquire("k3", "short", limit=0, ttl_seconds=0.001)
        time.sleep(0.01)
        assert store.leases.count("k3") == 0                          # prunes on Redis (the set goes): copied too
        assert store.leases.purge_expired() == 0
        assert store.queues.enter("k1") == 1 and store.queues.enter("k1") == 2 and store.queues.enter("k2") == 1
        assert store.queues.leave("k1") == 1
        store.queues.clear("k2")
        store.queues.enter("k4")
        assert store.queues.clear_all() == 2                          # k1 and k4 go on both sides
        assert store.queues.record_stat("k1", "entered") == 1
        store.queues.record_wait("k1", 10)
        store.queues.record_wait("k1", 20, include_global=False)
        store.rate_limits.check_and_increment("k1", window_minutes=60, max_requests=5)
        assert store.rate_limits.add_usage("k1", tokens=10, cost=0.5)
        assert store.rate_limits.add_usage("k1", cost=0.25)
        store.rate_limits.check_and_increment("k2", window_minutes=60)
        store.rate_limits.reset("k2")
        redis, mysql = store.redis_store, store.mysql_store
        assert (mysql.leases.count("k1"), mysql.leases.count("k2")) == (redis.leases.count("k1"), 0) == (1, 0)
        assert [mysql.queues.waiting(k) for k in ("k1", "k2", "k4")] == [0, 0, 0]
        assert mysql.queues.stats("k1") == redis.queues.stats("k1")
        assert mysql.queues.wait_times("k1") == redis.queues.wait_times("k1") == [20, 10]
        assert mysql.queues.global_wait_times() == [10]
        window = redis.rate_limits.current("k1", window_minutes=60)
        assert window.cost == 0.75 and mysql.rate_limits.current("k1", window_minutes=60) == window
        assert mysql.rate_limits.current("k2", window_minutes=60) is None
    diffs, out = _verify(settings)
    assert all(d.clean for d in diffs.values()), out
    assert {name: d.redis_count for name, d in diffs.items()} == {
        "leases": 1, "concurrency_queues": 3, "rate_limits": 4}   # k3's set emptied by the prune: gone


def test_migration_reads_use_their_indexes(settings, tmp_path):
    """Verify and rollback page through keys by primary key and read batches by key: no full scans."""
    from relaystore.migrate.families import concurrency_queues as q
    from relaystore.migrate.families import leases as lf
    from relaystore.migrate.families import rate_limits as rl

    _fill(settings, 200)
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    ids = ["a", "b", "c"]
    in3 = ", ".join(["%s"] * 3)
    page = {"after": "", "limit": 50}
    queries = [(lf.SELECT_LEASE_KEY_PAGE, page), (lf.SELECT_LEASES_OF_KEYS.format(ids=in3), ids),
               (q.SELECT_QUEUE_COUNT_PAGE, page), (q.SELECT_QUEUE_STATS_PAGE, page), (q.SELECT_WAIT_LIST_PAGE, page),
               (q.SELECT_QUEUE_COUNTS.format(ids=in3), ids), (q.SELECT_QUEUE_STATS.format(ids=in3), ids),
               (q.SELECT_WAIT_LISTS.format(ids=in3), ids), (q.SELECT_SAMPLES_OF_LISTS.format(ids=in3), ids),
               (rl.SELECT_WINDOW_PAGE, page), (rl.SELECT_WINDOWS.format(ids=in3), ids)]
    pool = MySQLPool(settings)
    try:
        pool.fetchall("ANALYZE TABLE leases, lease_key_expiry, concurrency_queue_counts, concurrency_queue_stats, "
                      "concurrency_queue_wait_lists, concurrency_queue_wait_times, rate_limit_windows")
        for statement, params in queries:
            for step in pool.fetchall("EXPLAIN " + statement, params):
                assert step["type"] != "ALL" and step["key"] in ("PRIMARY", "ix_concurrency_queue_wait_times_list"), \
                    (statement, step)
    finally:
        pool.close()


def test_copies_made_at_different_times_store_the_same_expiries(settings, make_database, tmp_path):
    """Expiries are Redis's own (PEXPIRETIME), not clock + PTTL: a resumed run into another database
    ends with exactly the rows of an uninterrupted one."""
    _fill(settings, 60)
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    time.sleep(0.05)
    other = base_settings(mysql_database=make_database(), redis_key_prefix=settings.redis_key_prefix)
    assert _migrate(other, tmp_path, batch_size=7)[0].exit_code == 0
    assert data_dump(other, other.mysql_database, TABLES) == data_dump(settings, settings.mysql_database, TABLES)


def test_reader_gives_redis_expiry_and_falls_back_to_clock_plus_pttl(client, redis_prefix):
    """PEXPIRETIME where the server has it (Redis 7+), else now + PTTL: both absolute, -1 without a TTL."""
    from relaystore.migrate import redis_reader

    client.set(redis_prefix + "ttl", "v", px=60_000)
    client.set(redis_prefix + "persistent", "v")
    items = [("ttl", "string"), ("persistent", "string"), ("gone", "string")]
    exact, _ = redis_reader.fetch(client, redis_prefix, items)
    assert exact[0].expire_at_ms == client.execute_command("PEXPIRETIME", redis_prefix + "ttl")
    redis_reader._PEXPIRETIME[client] = False
    try:
        approx, _ = redis_reader.fetch(client, redis_prefix, items)
    finally:
        del redis_reader._PEXPIRETIME[client]
    assert -5 <= approx[0].expire_at_ms - exact[0].expire_at_ms < 1000 and 0 < approx[0].pttl_ms <= 60_000
    assert [(f.pttl_ms, f.expire_at_ms) for f in exact[1:]] == [(f.pttl_ms, f.expire_at_ms) for f in approx[1:]] \
        == [(-1, -1), (-2, -2)]
