"""The Redis backend reads and writes upstream's concurrency, queue and rate-limit keys exactly (§5, §6)."""
from __future__ import annotations

import pytest

from relaystore import DataError, account_lease_id

KEY = "44444444-4444-4444-8444-444444444444"


def _server_ms(raw_redis) -> int:
    seconds, micros = raw_redis.time()
    return seconds * 1000 + micros // 1000


def test_acquire_writes_upstreams_zset_with_server_time_scores(redis_store, raw_redis, redis_prefix):
    before = _server_ms(raw_redis)
    assert redis_store.leases.acquire(KEY, "req-1", limit=2, ttl_seconds=300)
    after = _server_ms(raw_redis)
    key = f"{redis_prefix}concurrency:{KEY}"
    assert raw_redis.type(key) == "zset"
    [(member, score)] = raw_redis.zrange(key, 0, -1, withscores=True)
    assert member == "req-1"
    assert before + 300_000 <= score <= after + 300_000 and score == int(score)
    assert 329_000 < raw_redis.pttl(key) <= 330_000  # (lease + 30 s grace) in ms


def test_short_leases_keep_the_set_for_at_least_60_s(redis_store, raw_redis, redis_prefix):
    redis_store.leases.acquire(KEY, "req-1", limit=2, ttl_seconds=0.5)
    assert 59_000 < raw_redis.pttl(f"{redis_prefix}concurrency:{KEY}") <= 60_000


def test_upstream_written_leases_count_and_expired_ones_are_pruned(redis_store, raw_redis, redis_prefix):
    key = f"{redis_prefix}concurrency:{KEY}"
    now = _server_ms(raw_redis)
    raw_redis.zadd(key, {"upstream-live": now + 60_000, "upstream-dead": now - 1})
    assert redis_store.leases.count(KEY) == 1
    assert raw_redis.zscore(key, "upstream-dead") is None  # pruned, as upstream's count does
    assert redis_store.leases.acquire(KEY, "mine", limit=2, ttl_seconds=30)
    assert not redis_store.leases.acquire(KEY, "third", limit=2, ttl_seconds=30)
    assert redis_store.leases.release(KEY, "upstream-live") is True


def test_releasing_the_last_lease_removes_the_key(redis_store, raw_redis, redis_prefix):
    redis_store.leases.acquire(KEY, "only", limit=1, ttl_seconds=30)
    redis_store.leases.release(KEY, "only")
    assert raw_redis.exists(f"{redis_prefix}concurrency:{KEY}") == 0


def test_refresh_moves_the_score_and_rearms_the_ttl(redis_store, raw_redis, redis_prefix):
    key = f"{redis_prefix}concurrency:{KEY}"
    redis_store.leases.acquire(KEY, "r", limit=1, ttl_seconds=1)
    first = raw_redis.zscore(key, "r")
    assert redis_store.leases.refresh(KEY, "r", ttl_seconds=600)
    assert raw_redis.zscore(key, "r") >= first + 599_000
    assert raw_redis.pttl(key) > 600_000


def test_account_leases_live_under_concurrency_console_account(redis_store, raw_redis, redis_prefix):
    redis_store.leases.acquire(account_lease_id("acc-9"), "r", limit=1, ttl_seconds=30)
    assert raw_redis.zscore(f"{redis_prefix}concurrency:console_account:acc-9", "r") is not None


def test_queue_counter_is_upstreams_string_with_timeout_ttl(redis_store, raw_redis, redis_prefix):
    key = f"{redis_prefix}concurrency:queue:{KEY}"
    redis_store.queues.enter(KEY, timeout_ms=1500)
    redis_store.queues.enter(KEY, timeout_ms=1500)
    assert raw_redis.get(key) == "2"
    assert 30 < raw_redis.ttl(key) <= 32  # ceil(1.5) + 30
    redis_store.queues.leave(KEY)
    redis_store.queues.leave(KEY)
    assert raw_redis.exists(key) == 0  # upstream DELs at zero


def test_upstream_written_queue_counter_is_read(redis_store, raw_redis, redis_prefix):
    raw_redis.set(f"{redis_prefix}concurrency:queue:{KEY}", "7", ex=60)
    assert redis_store.queues.waiting(KEY) == 7
    assert redis_store.queues.enter(KEY, max_waiting=7) == 0
    assert redis_store.queues.leave(KEY) == 6


def test_clear_all_keeps_stats_and_wait_lists(redis_store, raw_redis, redis_prefix):
    redis_store.queues.enter(KEY)
    redis_store.queues.record_stat(KEY, "entered")
    redis_store.queues.record_wait(KEY, 10)
    assert redis_store.queues.clear_all() == 1
    assert raw_redis.exists(f"{redis_prefix}concurrency:queue:stats:{KEY}",
                            f"{redis_prefix}concurrency:queue:wait_times:{KEY}",
                            f"{redis_prefix}concurrency:queue:wait_times:global") == 3


def test_queue_stats_hash_fields_and_ttl(redis_store, raw_redis, redis_prefix):
    key = f"{redis_prefix}concurrency:queue:stats:{KEY}"
    redis_store.queues.record_stat(KEY, "entered")
    redis_store.queues.record_stat(KEY, "socket_changed")
    assert raw_redis.hgetall(key) == {"entered": "1", "socket_changed": "1"}
    assert 7 * 86400 - 5 < raw_redis.ttl(key) <= 7 * 86400
    raw_redis.hset(key, "timeout", "4")  # written by upstream
    assert redis_store.queues.stats(KEY).timeout == 4


def test_wait_time_lists_are_trimmed_and_expire_in_a_day(redis_store, raw_redis, redis_prefix):
    per_key = f"{redis_prefix}concurrency:queue:wait_times:{KEY}"
    global_list = f"{redis_prefix}concurrency:queue:wait_times:global"
    raw_redis.rpush(per_key, *range(1000, 1500))
    raw_redis.rpush(global_list, *range(5000, 7000))
    redis_store.queues.record_wait(KEY, 42)
    assert raw_redis.llen(per_key) == 500 and raw_redis.llen(global_list) == 2000
    assert raw_redis.lindex(per_key, 0) == "42" and raw_redis.lindex(global_list, 0) == "42"
    assert redis_store.queues.wait_times(KEY)[:2] == [42, 1000]
    assert 86400 - 5 < raw_redis.ttl(per_key) <= 86400 and 86400 - 5 < raw_redis.ttl(global_list) <= 86400


def _rate_keys(prefix: str) -> dict[str, str]:
    return {name: f"{prefix}rate_limit:{name}:{KEY}" for name in ("window_start", "requests", "tokens", "cost")}


def test_rate_limit_writes_upstreams_four_strings_with_one_px(redis_store, raw_redis, redis_prefix):
    keys = _rate_keys(redis_prefix)
    result = redis_store.rate_limits.check_and_increment(KEY, window_minutes=2, max_requests=5)
    values = {name: raw_redis.get(key) for name, key in keys.items()}
    assert values["requests"] == "1" and values["tokens"] == "0" and values["cost"] == "0"
    assert int(values["window_start"]) == int(result.window_start.timestamp() * 1000)
    for key in keys.values():
        assert 119_000 < raw_redis.pttl(key) <= 120_000
    redis_store.rate_limits.add_usage(KEY, tokens=1200, cost=0.25)
    assert (raw_redis.get(keys["tokens"]), raw_redis.get(keys["cost"])) == ("1200", "0.25")
    assert raw_redis.pttl(keys["tokens"]) > 100_000  # INCRBY kept the window's TTL


def test_upstream_written_window_is_honoured(redis_store, raw_redis, redis_prefix):
    keys = _rate_keys(redis_prefix)
    start = raw_redis.time()[0] * 1000 - 10_000  # upstream started it 10 s ago, by its own clock
    for name, value in {"window_start": start, "requests": 5, "tokens": 900, "cost": "0.30000000000000004"}.items():
        raw_redis.set(keys[name], value, px=50_000)
    blocked = redis_store.rate_limits.check_and_increment(KEY, window_minutes=1, max_requests=5)
    assert (blocked.allowed, blocked.reason, blocked.requests, blocked.tokens) == (False, "requests", 5, 900)
    assert blocked.cost == pytest.approx(0.3)
    assert int(blocked.window_start.timestamp() * 1000) == start
    assert raw_redis.get(keys["requests"]) == "5"
    assert redis_store.rate_limits.check_and_increment(KEY, window_minutes=1, max_tokens=900).reason == "tokens"
    assert redis_store.rate_limits.check_and_increment(KEY, window_minutes=1, max_cost=0.3).reason == "cost"
    # the same keys under a 5 s window: 10 s have elapsed, so the window restarts
    fresh = redis_store.rate_limits.check_and_increment(KEY, window_minutes=5 / 60, max_requests=5)
    assert (fresh.allowed, fresh.requests, fresh.tokens, fresh.cost) == (True, 1, 0, 0.0)
    assert int(raw_redis.get(keys["window_start"])) > start


def test_garbage_in_a_rate_limit_key_is_a_data_error_naming_it(redis_store, raw_redis, redis_prefix):
    keys = _rate_keys(redis_prefix)
    redis_store.rate_limits.check_and_increment(KEY, window_minutes=1)
    raw_redis.set(keys["tokens"], "lots", keepttl=True)
    with pytest.raises(DataError, match="rate_limit:tokens:"):
        redis_store.rate_limits.check_and_increment(KEY, window_minutes=1)
    assert raw_redis.get(keys["requests"]) == "1"  # nothing counted
