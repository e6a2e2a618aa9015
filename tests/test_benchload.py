"""The benchmark data generator: the same records on both backends, readable through the DAOs."""
from __future__ import annotations

import uuid

import pytest
import redis as redis_lib

from relaystore import benchload
from relaystore.cli import main
from relaystore.mysql.schema import drop_database, init_database
from relaystore.redis.keys import API_KEY_TTL_SECONDS
from relaystore.store import Store
from tests.conftest import TEST_ENCRYPTION_KEY, base_settings

KEYS = 30


def _target(store):
    if store.backend == "mysql":
        return benchload.MySQLTarget(store.pool)
    return benchload.RedisTarget(store.redis, store.keys)


@pytest.fixture
def data():
    return benchload.DataSet(keys=KEYS, encryption_key=TEST_ENCRYPTION_KEY)


def test_data_set_is_deterministic_per_seed(data):
    again = benchload.DataSet(keys=KEYS, encryption_key=TEST_ENCRYPTION_KEY, now=data.now)
    other = benchload.DataSet(keys=KEYS, encryption_key=TEST_ENCRYPTION_KEY, seed=2, now=data.now)
    assert [again.api_key(i) for i in range(KEYS)] == [data.api_key(i) for i in range(KEYS)]
    assert other.raw_key(0) != data.raw_key(0) and other.key_id(0) != data.key_id(0)
    assert len({data.raw_key(i) for i in range(KEYS)}) == KEYS
    assert data.raw_key(3).startswith("cr_") and len(data.raw_key(3)) == 67


def test_loaded_keys_read_back_as_generated_and_authenticate(store, data):
    report = benchload.load(data, [_target(store)], batch_size=7)
    assert report.counts == {"api_keys": KEYS, "accounts": benchload.ACCOUNTS,
                             "account_groups": len(benchload.GROUPS), "usage": 3 * benchload.USAGE_DAYS}
    for i in (0, 1, 12, KEYS - 1):
        assert store.api_keys.get(data.key_id(i)) == data.api_key(i)
        result = store.api_keys.authenticate(data.raw_key(i))
        assert result.ok and result.key == data.api_key(i)


def test_loaded_keys_are_in_the_listing_indexes(store, data):
    benchload.load(data, [_target(store)], batch_size=7)
    assert store.api_keys.list(page_size=100).total == KEYS
    tagged = {data.key_id(i) for i in range(KEYS) if "prod" in data.api_key(i).tags}
    assert tagged and {k.id for k in store.api_keys.list(tag="prod", page_size=100).items} == tagged
    assert [k.id for k in store.api_keys.list(search="bench key 0000012").items] == [data.key_id(12)]
    newest = store.api_keys.list(page_size=1).items[0]
    assert newest.id == data.key_id(KEYS - 1)


def test_loaded_accounts_and_groups_read_back_through_the_daos(store, data):
    benchload.load(data, [_target(store)], batch_size=50)
    for i in (0, 170, 250, benchload.ACCOUNTS - 1):
        account, _ = data.account(i)
        found = store.accounts.get(account.platform, account.id)
        assert found == account and found.secrets  # secrets decrypt to what was generated
    console = [i for i in range(benchload.ACCOUNTS) if data.account(i)[0].platform == "claude-console"]
    candidates = store.accounts.list_schedulable("claude-console")
    assert 0 < len(candidates) < len(console)  # a few inactive, unschedulable or in error
    group, members = data.group(0)
    assert store.account_groups.members(group.id) == sorted(members) and len(members) == benchload.GROUP_SIZE
    in_group = store.accounts.list_schedulable("claude-console", group_id=group.id)
    assert in_group and {a.id for a in in_group} <= set(members)


def test_loaded_usage_reads_back_as_the_events_sum(store, data):
    benchload.load(data, [_target(store)], batch_size=13)   # batches split keys' days: sums must still add up
    events = [data.usage_event(j) for j in range(benchload.USAGE_DAYS)]   # key 0's 30 days
    assert {ev.key_id for ev in events} == {data.key_id(0)}
    days = sorted(ev.buckets.day for ev in events)
    assert len(set(days)) == benchload.USAGE_DAYS
    rows = store.usage.report_key_range(data.key_id(0), days[0], days[-1])
    assert [r.bucket for r in rows] == days and all(r.usage.requests == 1 for r in rows)
    total = store.usage.totals(data.key_id(0))
    assert total.requests == benchload.USAGE_DAYS
    assert total.input_tokens == sum(ev.input_tokens for ev in events)
    assert store.usage.totals(data.key_id(1)).requests == 0   # an idle key
    assert store.usage.cost(data.key_id(0), period="daily", date=days[-1]) == pytest.approx(
        sum(ev.rated_cost for ev in events if ev.buckets.day == days[-1]))


@pytest.fixture
def other_store(store):
    """A second empty store of the same backend (its own database or prefix), removed afterwards."""
    if store.backend == "mysql":
        name = f"relaystore_test_{uuid.uuid4().hex[:8]}"
        init_database(base_settings(), database=name)
        other = Store(base_settings(database_type="mysql", mysql_database=name))
        yield other
        other.close()
        drop_database(base_settings(), name)
    else:
        prefix = f"rs_test_{uuid.uuid4().hex[:8]}:"
        other = Store(base_settings(database_type="redis", redis_key_prefix=prefix))
        yield other
        benchload.clear_redis_prefix(other.redis, prefix)
        other.close()


def _usage_state(store):
    """Every usage row (MySQL) or every key under the prefix with its value (Redis), by name."""
    if store.backend == "mysql":
        return {tuple(r[c] for c in ("scope", "owner_id", "period", "bucket", "model")): r for r in
                store.pool.fetchall("SELECT * FROM usage_rollups")}
    out = {}
    prefix = store.keys.prefix
    for key in store.redis.scan_iter(match=prefix + "*", count=1000):
        kind = store.redis.type(key)
        value = {"hash": store.redis.hgetall, "set": store.redis.smembers,
                 "string": lambda k: round(float(store.redis.get(k)), 9)}[kind](key)
        out[key[len(prefix):]] = value
    return out


def test_loaded_usage_is_what_record_writes(store, other_store):
    """The loader's summed writes equal record() of the same 30 requests, except the Redis keys a
    TTL counted from the request's time has already removed (hourly, per-minute, old Opus weeks)."""
    data = benchload.DataSet(keys=10, encryption_key=TEST_ENCRYPTION_KEY)   # one active key
    benchload.load(data, [_target(store)], families=[benchload.UsageFamily()], batch_size=7)
    for j in range(benchload.USAGE_DAYS):
        ev = data.usage_event(j)
        other_store.usage.record(ev.key_id, model=ev.model, input_tokens=ev.input_tokens,
                                 output_tokens=ev.output_tokens, cache_create_tokens=ev.cache_create_tokens,
                                 cache_read_tokens=ev.cache_read_tokens, real_cost=ev.real_cost,
                                 rated_cost=ev.rated_cost, account_id=ev.account_id,
                                 account_type=ev.account_type, at=ev.at, weekly_reset_day=1, weekly_reset_hour=0)
    loaded, recorded = _usage_state(store), _usage_state(other_store)
    assert len(loaded) > 100
    assert {name: recorded.get(name) for name in loaded} == loaded
    gone = set(recorded) - set(loaded)
    if store.backend == "mysql":
        assert not gone
    else:
        # gone: keys with a TTL shorter than the requests' age (hourly 7 days, Opus week 14, minute 10 h)
        ttls = {name: other_store.redis.ttl(other_store.keys.prefix + name) for name in gone}
        assert gone and all(0 < ttl <= 14 * 86400 for ttl in ttls.values()), ttls


def test_redis_usage_keys_get_what_is_left_of_their_ttl(redis_store, data):
    benchload.load(data, [_target(redis_store)])
    old, new = data.usage_event(benchload.USAGE_DAYS - 1), data.usage_event(0)  # 29 days ago, today
    k = redis_store.keys
    assert not redis_store.redis.exists(k.usage_hourly(old.key_id, old.buckets.hour))   # 7-day TTL: gone
    assert redis_store.redis.exists(k.usage_hourly(new.key_id, new.buckets.hour))
    ttl = redis_store.redis.ttl(k.usage_daily(old.key_id, old.buckets.day))
    assert 0 < ttl < 4 * 86400   # 32 days from a write 29-30 days ago


def test_redis_load_arms_the_upstream_ttl(redis_store, data):
    benchload.load(data, [_target(redis_store)])
    ttl = redis_store.redis.ttl(redis_store.keys.api_key(data.key_id(5)))
    assert API_KEY_TTL_SECONDS - 60 < ttl <= API_KEY_TTL_SECONDS


def test_is_loaded_needs_the_full_set_with_the_same_hashes(store, data):
    target = _target(store)
    assert not benchload.is_loaded(data, target)
    benchload.load(data, [target])
    assert benchload.is_loaded(data, target)
    bigger = benchload.DataSet(keys=KEYS + 1, encryption_key=TEST_ENCRYPTION_KEY)
    other_salt = benchload.DataSet(keys=KEYS, encryption_key="another-encryption-key-000000000")
    assert not benchload.is_loaded(bigger, target) and not benchload.is_loaded(other_salt, target)


def test_clear_redis_prefix_refuses_the_empty_prefix(redis_store):
    with pytest.raises(benchload.InvalidInput, match="prefix"):
        benchload.clear_redis_prefix(redis_store.redis, "")


def test_progress_line_reports_count_and_percent():
    class Sink:
        text = ""

        def write(self, s):
            Sink.text += s

    bar = benchload.Progress(200, "api_keys -> mysql", stream=Sink())
    bar.update(100)
    bar.update(200)
    assert "100/200 50%" in Sink.text and "200/200 100%" in Sink.text


def test_cli_loads_both_backends_then_finds_them_loaded(mysql_database, redis_prefix, monkeypatch, capsys,
                                                       tmp_path):
    monkeypatch.setenv("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
    monkeypatch.setenv("MYSQL_DATABASE", "relaystore")
    cli = ["--env-file", str(tmp_path / "absent.env"), "bench-load", "--batch-size", "10", "--quiet",
           "--mysql-database", mysql_database, "--redis-prefix", redis_prefix]
    assert main(cli + ["--keys", "25"]) == 0
    assert "api_keys: 25" in capsys.readouterr().out
    assert main(cli + ["--keys", "25"]) == 0
    assert capsys.readouterr().out.count("already holds this data set") == 2
    assert main(cli + ["--keys", "26"]) == 2
    assert "already holds other data" in capsys.readouterr().err
    assert main(cli + ["--drop"]) == 0
    assert f"dropped MySQL database {mysql_database}" in capsys.readouterr().out
    assert not list(redis_lib.Redis().scan_iter(match=redis_prefix + "*", count=1000))
    assert main(cli + ["--keys", "26"]) == 0  # both targets are empty again


def test_cli_refuses_the_relays_own_database_and_prefix(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
    monkeypatch.setenv("MYSQL_DATABASE", "relaystore")
    env_file = str(tmp_path / "absent.env")
    assert main(["--env-file", env_file, "bench-load", "--mysql-database", "relaystore"]) == 2
    assert "the relay's own database" in capsys.readouterr().err
    assert main(["--env-file", env_file, "bench-load", "--only", "redis", "--redis-prefix", ""]) == 2
    assert "must not be empty" in capsys.readouterr().err
    assert main(["--env-file", env_file, "bench-load", "--drop", "--mysql-database", "relaystore"]) == 2
    assert main(["--env-file", env_file, "bench-load", "--drop", "--only", "redis", "--redis-prefix", ""]) == 2
    assert "without a key prefix" in capsys.readouterr().err
