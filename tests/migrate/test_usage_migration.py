"""Usage and cost survive Redis -> MySQL -> Redis exactly; re-runs, kills, bad values and live writers change nothing."""
from __future__ import annotations

import io
import json
import signal
import threading
import time
from datetime import datetime, timezone

import pytest

from relaystore import usage_rules
from relaystore.migrate.families import FAMILIES
from relaystore.migrate.rollback import mysql_to_redis
from relaystore.migrate.run import Options, migrate_redis_to_mysql
from relaystore.migrate.verify import verify
from relaystore.store import Store
from tests.conftest import base_settings
from tests.migrate import fill_usage
from tests.migrate.conftest import assert_dumps_equal, assert_keyspaces_equal, data_dump, keyspace, run_cli, sql


def _migrate(settings, tmp_path, name="m", **options):
    options.setdefault("families", "usage")
    return migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / f"{name}.log"), progress=False,
                                                    **options), stderr=io.StringIO())


def _verify(settings):
    out = io.StringIO()
    diffs = verify(settings, families="usage", out=out)
    return diffs[0], out.getvalue()


@pytest.fixture
def redis_store(settings):
    with Store(base_settings(database_type="redis", redis_key_prefix=settings.redis_key_prefix)) as store:
        yield store


def test_usage_round_trip_verifies_clean_and_rolls_back_to_an_equal_keyspace(settings, redis_store, client,
                                                                               make_prefix, tmp_path):
    made = fill_usage.fill(redis_store, 2500)
    assert made >= 2500
    summary = _migrate(settings, tmp_path, batch_size=300)
    assert summary.exit_code == 0
    totals = summary.families[0].totals
    assert totals.read == totals.written and (totals.skipped, totals.failed) == (0, 0)
    diff, text = _verify(settings)
    assert diff.clean, text
    assert diff.redis_count == diff.mysql_count == totals.read
    # A rolled-back key expires at the very instant the original does (PEXPIREAT), so the TTLs two snapshots
    # read differ by the time between them: that is the tolerance; the expiry instants are compared exactly.
    started = time.monotonic()
    original = {k: v for k, v in keyspace(client, settings.redis_key_prefix).items() if not k.startswith("apikey")}
    assert len(original) == made
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    mysql_to_redis(target, families="usage", log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
    rolled = keyspace(client, target.redis_key_prefix)
    assert_keyspaces_equal(original, rolled, ttl_tolerance=int(time.monotonic() - started) + 2)
    timed = sorted(k for k, (_, _, ttl) in original.items() if ttl > 0)
    assert len(timed) > made // 2 and any(FAMILIES["usage"].owns(key) for key in timed)
    for key in timed:
        a = client.pexpiretime(settings.redis_key_prefix + key)
        b = client.pexpiretime(target.redis_key_prefix + key)
        if FAMILIES["usage"].owns(key):
            assert a == b, (key, a, b)   # PEXPIRETIME copied, PEXPIREAT re-armed: to the millisecond
        else:   # a derived index: the DAO armed it in its own command, the rollback at its latest member's expiry
            assert abs(a - b) <= 1000, (key, a, b)


def test_mysql_dao_reads_the_migrated_counters_and_costs(settings, redis_store, tmp_path):
    at = datetime(2026, 11, 30, 12, 30, tzinfo=timezone.utc)
    for i in range(5):
        redis_store.usage.record("k1", model="claude-opus-4-1", input_tokens=100 + i, output_tokens=7,
                                 real_cost=0.1, rated_cost=0.15, account_id="a1", account_type="claude-official",
                                 at=at, weekly_reset_day=1, weekly_reset_hour=0)
    assert _migrate(settings, tmp_path).exit_code == 0
    with Store(base_settings(database_type="mysql", mysql_database=settings.mysql_database)) as mysql:
        for period in ("total", "daily", "monthly", "hourly"):
            assert mysql.usage.totals("k1", period=period, date=at) == redis_store.usage.totals(
                "k1", period=period, date=at)
            assert mysql.usage.cost("k1", period=period, date=at) == pytest.approx(
                redis_store.usage.cost("k1", period=period, date=at))
        assert mysql.usage.cost("k1", period="weekly", date=at, weekly_reset_day=1, weekly_reset_hour=0) == \
            pytest.approx(0.75)
        assert mysql.usage.by_model("k1", date=at) == redis_store.usage.by_model("k1", date=at)
        assert mysql.usage.account_totals("a1", period="daily", date=at) == redis_store.usage.account_totals(
            "a1", period="daily", date=at)


def test_rerun_changes_nothing(settings, redis_store, tmp_path):
    fill_usage.fill(redis_store, 800)
    assert _migrate(settings, tmp_path, "a").exit_code == 0
    first = data_dump(settings, settings.mysql_database)
    again = _migrate(settings, tmp_path, "b")
    assert again.exit_code == 0 and again.families[0].totals.read == sum(
        row[0].bit_count() for row in sql(settings, "SELECT redis_keys FROM usage_rollups"))
    assert data_dump(settings, settings.mysql_database) == first     # expiries included: kept within 1 s


def test_bad_values_are_reported_with_their_key(settings, redis_store, client, tmp_path):
    at = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    redis_store.usage.record("good", model="m", input_tokens=3, real_cost=0.5, rated_cost=0.5, at=at)
    p = settings.redis_key_prefix
    client.hset(f"{p}usage:badcount", mapping={"totalRequests": "lots", "totalInputTokens": "1"})
    client.set(f"{p}usage:cost:total:badcost", "1.2.3")
    client.set(f"{p}usage:daily:wrongtype:2026-11-30", "not a hash")
    summary = _migrate(settings, tmp_path, on_error="skip")
    assert summary.exit_code == 1
    totals = summary.families[0].totals
    assert totals.skipped == 3 and totals.written == totals.read - 2
    messages = dict(totals.errors)
    assert "totalRequests" in messages["usage:badcount"] and "lots" not in messages["usage:badcount"]
    assert "usage:cost:total:badcost" in messages["usage:cost:total:badcost"]
    assert "wrong Redis type" in messages["usage:daily:wrongtype:2026-11-30"]
    log = [json.loads(line) for line in (tmp_path / "m.log").read_text().splitlines()]
    assert {e["key"] for e in log if e["event"] == "error"} == set(messages)
    stopped = _migrate(settings, tmp_path, "s", on_error="stop")
    assert stopped.exit_code == 1 and stopped.stopped


def test_verify_detects_a_changed_counter_a_changed_ttl_and_a_missing_record(settings, redis_store, client,
                                                                            tmp_path):
    at = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    redis_store.usage.record("k1", model="m", input_tokens=3, real_cost=0.5, rated_cost=0.5, at=at)
    redis_store.usage.record("k2", model="m", input_tokens=3, at=at)
    assert _migrate(settings, tmp_path).exit_code == 0
    p = settings.redis_key_prefix
    client.hincrby(f"{p}usage:daily:k1:2026-11-30", "inputTokens", 1)
    client.expire(f"{p}usage:cost:daily:k1:2026-11-30", 100)
    client.delete(f"{p}usage:k2")
    client.hset(f"{p}usage:k3", "totalRequests", "1")
    diff, text = _verify(settings)
    assert not diff.clean
    assert diff.differing["usage:daily:k1:2026-11-30"] == ["inputTokens"]
    assert diff.differing["usage:cost:daily:k1:2026-11-30"] == ["ttl"]
    assert diff.only_mysql == ["usage:k2"] and diff.only_redis == ["usage:k3"]
    assert "verify: DIFFERENCES FOUND" in text
    # the catch-up with --delete-missing repairs all of it
    assert _migrate(settings, tmp_path, "c", delete_missing=True).exit_code == 0
    assert _verify(settings)[0].clean


def test_dual_mode_usage_writes_reach_mysql(settings):
    with Store(base_settings(database_type="dual", mysql_database=settings.mysql_database,
                             redis_key_prefix=settings.redis_key_prefix)) as store:
        key, _ = store.api_keys.create("dual usage")
        for i in range(4):
            store.usage.record(key.id, model="claude-opus-4-1", input_tokens=10 * i, output_tokens=i, real_cost=0.01,
                               rated_cost=0.02, account_id="acct", account_type="claude-official")
        store.usage.record(key.id, model="gpt-4o:free", cache_read_tokens=5, long_context=True)
        assert store.mysql_store.usage.totals(key.id) == store.redis_store.usage.totals(key.id)
        assert store.mysql_store.usage.cost(key.id) == pytest.approx(0.08)
        assert store.mysql_store.api_keys.get(key.id).last_used_at == store.redis_store.api_keys.get(key.id).last_used_at
    diff, text = _verify(settings)
    assert diff.clean and diff.redis_count > 20, text


def test_usage_written_during_migration_is_not_lost(settings, redis_store, tmp_path):
    """Writers record through dual Stores while the bulk copy runs; after the catch-up MySQL sums equal their count."""
    fill_usage.fill(redis_store, 1500)                      # history from before dual mode
    key_ids = [f"live-{i}" for i in range(6)]
    counted = {"requests": 0, "input": 0}
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        try:
            with Store(base_settings(database_type="dual", mysql_database=settings.mysql_database,
                                     redis_key_prefix=settings.redis_key_prefix)) as store:
                n = 0
                while not stop.is_set():
                    n += 1
                    store.usage.record(key_ids[(seed + n) % len(key_ids)], model="claude-3-5-sonnet-20241022",
                                       input_tokens=n % 97, output_tokens=1, real_cost=0.001, rated_cost=0.001,
                                       account_id=f"acct-live-{seed}")
                    with lock:
                        counted["requests"] += 1
                        counted["input"] += n % 97
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    try:
        assert _migrate(settings, tmp_path, "bulk", batch_size=100, families=None).exit_code == 0
        assert _migrate(settings, tmp_path, "catchup", batch_size=100, families=None,
                        delete_missing=True).exit_code == 0
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert counted["requests"] > 20
    live = sql(settings, "SELECT SUM(requests), SUM(input_tokens) FROM usage_rollups WHERE scope = 'k' "
                           "AND period = 'T' AND model = '' AND owner_id LIKE 'live-%%'")[0]
    assert (int(live[0]), int(live[1])) == (counted["requests"], counted["input"])
    with Store(base_settings(database_type="mysql", mysql_database=settings.mysql_database)) as mysql:
        assert sum(mysql.usage.totals(k).requests for k in key_ids) == counted["requests"]
        assert sum(mysql.usage.account_totals(f"acct-live-{i}").requests for i in range(3)) == counted["requests"]
    assert _verify(settings)[0].clean


@pytest.mark.parametrize("kill_at", ["2:committed", "4:written", "7:read"])
def test_killed_usage_migration_completes_on_rerun(settings, redis_store, make_database, tmp_path, kill_at):
    fill_usage.fill(redis_store, 600)
    args = ("migrate", "redis-to-mysql", "--families", "usage", "--batch-size", "50", "--no-progress")
    killed = run_cli(settings, *args, "--log-file", str(tmp_path / "k.log"), "--kill-at", kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    rerun = run_cli(settings, *args, "--log-file", str(tmp_path / "k.log"))
    assert rerun.returncode == 0, rerun.stderr
    assert _verify(settings)[0].clean
    reference = base_settings(mysql_database=make_database(), redis_key_prefix=settings.redis_key_prefix)
    _migrate(reference, tmp_path, "ref")
    assert_dumps_equal(data_dump(settings, settings.mysql_database), data_dump(reference, reference.mysql_database))


def test_dry_run_validates_and_writes_nothing(settings, redis_store, client, tmp_path):
    redis_store.usage.record("k1", model="m", input_tokens=3, real_cost=0.5, rated_cost=0.5)
    client.set(f"{settings.redis_key_prefix}usage:cost:daily:k1:2026-11-30", "NaN")
    client.hset(f"{settings.redis_key_prefix}usage:{'x' * 70}", "totalRequests", "1")   # id longer than the column
    summary = _migrate(settings, tmp_path, dry_run=True)
    totals = summary.families[0].totals
    assert summary.exit_code == 1 and totals.skipped == 2 and totals.written == totals.read - 2 > 10
    assert "owner_id" in dict(totals.errors)[f"usage:{'x' * 70}"]
    assert sql(settings, "SELECT COUNT(*) FROM usage_rollups")[0][0] == 0


def test_usage_reads_use_the_primary_key(settings, redis_store, tmp_path):
    from relaystore.migrate.families import usage as family
    from relaystore.mysql.pool import MySQLPool

    fill_usage.fill(redis_store, 1500)
    assert _migrate(settings, tmp_path).exit_code == 0
    pool = MySQLPool(settings)
    try:
        pool.fetchall("ANALYZE TABLE usage_rollups")
        pks = [tuple(r.values()) for r in pool.fetchall(
            "SELECT scope, owner_id, period, bucket, model FROM usage_rollups ORDER BY scope, owner_id, period, "
            "bucket, model LIMIT 10 OFFSET 50")]
        page = pool.fetchall("EXPLAIN " + family.SELECT_USAGE_ROLLUPS_AFTER, {**dict(zip(family.PK, pks[0])),
                                                                              "limit": 100})
        assert len(page) == 1 and page[0]["key"] == "PRIMARY" and page[0]["type"] == "range", page
        by_pks = pool.fetchall("EXPLAIN " + family.SELECT_USAGE_ROLLUPS_BY_PKS.format(rows=family._rows_in(10)),
                               [v for pk in pks for v in pk])
        assert len(by_pks) == 1 and by_pks[0]["type"] in ("range", "eq_ref", "const"), by_pks
    finally:
        pool.close()


def test_rollback_after_the_cutover_carries_what_the_mysql_backend_counted(settings, redis_store, make_prefix,
                                                                           tmp_path):
    at = datetime.now(timezone.utc)
    redis_store.usage.record("k1", model="m", input_tokens=5, real_cost=0.25, rated_cost=0.5, account_id="a1", at=at)
    redis_store.usage.record("k1", model="legacy", output_tokens=1, at=at)   # a model row without cost
    assert _migrate(settings, tmp_path).exit_code == 0
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    with Store(base_settings(database_type="mysql", mysql_database=settings.mysql_database)) as mysql:
        mysql.usage.record("k1", model="m", input_tokens=7, real_cost=0.5, rated_cost=1.0, account_id="a1", at=at)
        mysql.usage.record("k1", model="legacy", output_tokens=2, real_cost=0.1, rated_cost=0.1, at=at)
        mysql.usage.record("k2", model="new", input_tokens=3, at=at)
        mysql_to_redis(target, families="usage", log_path=str(tmp_path / "r.log"), progress=False,
                       stderr=io.StringIO())
        with Store(base_settings(database_type="redis", redis_key_prefix=target.redis_key_prefix)) as rolled:
            for key_id in ("k1", "k2"):
                for period in ("total", "daily", "monthly", "hourly"):
                    assert rolled.usage.totals(key_id, period=period, date=at) == \
                        mysql.usage.totals(key_id, period=period, date=at)
                    assert rolled.usage.cost(key_id, period=period, date=at) == pytest.approx(
                        mysql.usage.cost(key_id, period=period, date=at))
                assert rolled.usage.by_model(key_id, date=at) == mysql.usage.by_model(key_id, date=at)
            assert rolled.usage.account_totals("a1", date=at) == mysql.usage.account_totals("a1", date=at)
            day = usage_rules.buckets(at, settings.timezone_offset).day
            # a row the MySQL backend created is armed as if written at rollback time
            assert 32 * 86400 - 30 < rolled.redis.ttl(f"{target.redis_key_prefix}usage:daily:k2:{day}") <= 32 * 86400


def test_tiny_and_odd_cost_strings_round_trip_exactly(settings, client, make_prefix, tmp_path):
    p = settings.redis_key_prefix
    odd = {"usage:cost:total:k1": "1.5e-07", "usage:cost:real:total:k1": "0.30000000000000004",
           "usage:opus:total:k1": "3", "usage:opus:real:total:k1": "0"}
    for key, value in odd.items():
        client.set(p + key, value)
    client.hset(f"{p}usage:k1:model:alltime:m", mapping={"requests": "007", "realCostMicro": "1", "extra": "é"})
    assert _migrate(settings, tmp_path).exit_code == 0
    assert _verify(settings)[0].clean
    row = sql(settings, "SELECT rated_cost, real_cost FROM usage_rollups WHERE scope = 'k' AND owner_id = 'k1' "
                          "AND period = 'T' AND model = ''")[0]
    assert (format(row[0], "f"), format(row[1], "f")) == ("0.0000001500", "0.3000000000")
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    mysql_to_redis(target, families="usage", log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
    assert_keyspaces_equal(keyspace(client, p), keyspace(client, target.redis_key_prefix))
