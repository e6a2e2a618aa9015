"""The Redis backend writes upstream's usage layout exactly and reads what upstream writes.

`upstream_record` below is a line-by-line transcription of the reference relay's writers
(redis.js incrementTokenUsage, incrementDailyCost, incrementWeeklyOpusCost, incrementAccountUsage
and apiKeyService.recordUsage's lastUsedAt rewrite) with literal key names. The same events go
through relaystore under one prefix and through the transcription under another; the two
keyspaces must then be identical: names, types, fields, values and TTLs.
"""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timezone

import pytest

from relaystore import DataError
from relaystore.timefmt import to_iso

UTC = timezone.utc
DAY = 86400


def upstream_record(r, p, key_id, *, tokens, inp, out, cc, cr, model, nm, e5, e1, long, real, rated,
                    account_id, account_type, now, today, month, hour, minute, period, claude_family):
    """Transcription of upstream's recordUsage path; `nm` is the normalized model, `p` the key prefix."""
    pipe = r.pipeline(transaction=False)
    key = f"{p}usage:{key_id}"
    daily, monthly, hourly = f"{p}usage:daily:{key_id}:{today}", f"{p}usage:monthly:{key_id}:{month}", \
        f"{p}usage:hourly:{key_id}:{hour}"
    model_daily, model_monthly, model_hourly = f"{p}usage:model:daily:{nm}:{today}", \
        f"{p}usage:model:monthly:{nm}:{month}", f"{p}usage:model:hourly:{nm}:{hour}"
    km_daily, km_monthly, km_hourly = f"{p}usage:{key_id}:model:daily:{nm}:{today}", \
        f"{p}usage:{key_id}:model:monthly:{nm}:{month}", f"{p}usage:{key_id}:model:hourly:{nm}:{hour}"
    minute_key = f"{p}system:metrics:minute:{minute}"
    fin, fout = inp or 0, out or (0 if inp > 0 else tokens)
    total, core = fin + fout + cc + cr, fin + fout
    h = pipe.hincrby
    h(key, "totalTokens", core); h(key, "totalInputTokens", fin); h(key, "totalOutputTokens", fout)
    h(key, "totalCacheCreateTokens", cc); h(key, "totalCacheReadTokens", cr); h(key, "totalAllTokens", total)
    h(key, "totalEphemeral5mTokens", e5); h(key, "totalEphemeral1hTokens", e1)
    if long:
        h(key, "totalLongContextInputTokens", fin); h(key, "totalLongContextOutputTokens", fout)
        h(key, "totalLongContextRequests", 1)
    h(key, "totalRequests", 1)
    for k, with_long in ((daily, True), (monthly, False)):
        h(k, "tokens", core); h(k, "inputTokens", fin); h(k, "outputTokens", fout)
        h(k, "cacheCreateTokens", cc); h(k, "cacheReadTokens", cr); h(k, "allTokens", total)
        h(k, "requests", 1); h(k, "ephemeral5mTokens", e5); h(k, "ephemeral1hTokens", e1)
        if with_long and long:
            h(k, "longContextInputTokens", fin); h(k, "longContextOutputTokens", fout)
            h(k, "longContextRequests", 1)

    def model_stats(k, costs, all_tokens=True):
        h(k, "inputTokens", fin); h(k, "outputTokens", fout); h(k, "cacheCreateTokens", cc)
        h(k, "cacheReadTokens", cr)
        if all_tokens:
            h(k, "allTokens", total)
        h(k, "requests", 1); h(k, "ephemeral5mTokens", e5); h(k, "ephemeral1hTokens", e1)
        if costs and real > 0:
            h(k, "realCostMicro", round_js(real * 1000000))
        if costs and rated > 0:
            h(k, "ratedCostMicro", round_js(rated * 1000000))

    model_stats(model_daily, False); model_stats(model_monthly, False)
    model_stats(km_daily, True); model_stats(km_monthly, True)
    model_stats(f"{p}usage:{key_id}:model:alltime:{nm}", True, all_tokens=False)
    h(hourly, "tokens", core); h(hourly, "inputTokens", fin); h(hourly, "outputTokens", fout)
    h(hourly, "cacheCreateTokens", cc); h(hourly, "cacheReadTokens", cr); h(hourly, "allTokens", total)
    h(hourly, "requests", 1); h(hourly, "ephemeral5mTokens", e5); h(hourly, "ephemeral1hTokens", e1)
    model_stats(model_hourly, False); model_stats(km_hourly, True)
    h(minute_key, "requests", 1); h(minute_key, "totalTokens", total); h(minute_key, "inputTokens", fin)
    h(minute_key, "outputTokens", fout); h(minute_key, "cacheCreateTokens", cc)
    h(minute_key, "cacheReadTokens", cr)
    for k, ttl in ((daily, 32 * DAY), (monthly, 365 * DAY), (hourly, 7 * DAY), (model_daily, 32 * DAY),
                   (model_monthly, 365 * DAY), (model_hourly, 7 * DAY), (km_daily, 32 * DAY),
                   (km_monthly, 365 * DAY), (km_hourly, 7 * DAY), (minute_key, 5 * 60 * 2)):
        pipe.expire(k, ttl)
    pipe.sadd(f"{p}usage:daily:index:{today}", key_id)
    pipe.sadd(f"{p}usage:hourly:index:{hour}", key_id)
    pipe.sadd(f"{p}usage:model:daily:index:{today}", nm)
    pipe.sadd(f"{p}usage:model:hourly:index:{hour}", nm)
    pipe.sadd(f"{p}usage:model:monthly:index:{month}", nm)
    pipe.sadd(f"{p}usage:model:monthly:months", month)
    pipe.sadd(f"{p}usage:keymodel:daily:index:{today}", f"{key_id}:{nm}")
    pipe.sadd(f"{p}usage:keymodel:hourly:index:{hour}", f"{key_id}:{nm}")
    for k in (f"usage:daily:index:{today}", f"usage:hourly:index:{hour}", f"usage:model:daily:index:{today}",
              f"usage:model:hourly:index:{hour}", f"usage:model:monthly:index:{month}",
              f"usage:keymodel:daily:index:{today}", f"usage:keymodel:hourly:index:{hour}"):
        pipe.delete(f"{p}{k}:empty")
    for k, ttl in ((f"usage:daily:index:{today}", 32 * DAY), (f"usage:hourly:index:{hour}", 7 * DAY),
                   (f"usage:model:daily:index:{today}", 32 * DAY), (f"usage:model:hourly:index:{hour}", 7 * DAY),
                   (f"usage:model:monthly:index:{month}", 365 * DAY),
                   (f"usage:keymodel:daily:index:{today}", 32 * DAY),
                   (f"usage:keymodel:hourly:index:{hour}", 7 * DAY)):
        pipe.expire(f"{p}{k}", ttl)
    g_daily, g_monthly = f"{p}usage:global:daily:{today}", f"{p}usage:global:monthly:{month}"
    for k in (f"{p}usage:global:total", g_daily, g_monthly):
        h(k, "requests", 1); h(k, "inputTokens", fin); h(k, "outputTokens", fout)
        h(k, "cacheCreateTokens", cc); h(k, "cacheReadTokens", cr); h(k, "allTokens", total)
        h(k, "ephemeral5mTokens", e5); h(k, "ephemeral1hTokens", e1)
    pipe.expire(g_daily, 32 * DAY); pipe.expire(g_monthly, 365 * DAY)
    pipe.execute()

    if real > 0:   # incrementDailyCost(keyId, ratedCost, realCost)
        r.incrbyfloat(f"{p}usage:cost:daily:{key_id}:{today}", rated)
        r.incrbyfloat(f"{p}usage:cost:monthly:{key_id}:{month}", rated)
        r.incrbyfloat(f"{p}usage:cost:hourly:{key_id}:{hour}", rated)
        r.incrbyfloat(f"{p}usage:cost:total:{key_id}", rated)
        r.incrbyfloat(f"{p}usage:cost:real:total:{key_id}", real)
        r.incrbyfloat(f"{p}usage:cost:real:daily:{key_id}:{today}", real)
        r.expire(f"{p}usage:cost:daily:{key_id}:{today}", 30 * DAY)
        r.expire(f"{p}usage:cost:monthly:{key_id}:{month}", 90 * DAY)
        r.expire(f"{p}usage:cost:hourly:{key_id}:{hour}", 7 * DAY)
        r.expire(f"{p}usage:cost:real:daily:{key_id}:{today}", 30 * DAY)
        if claude_family and account_type in ("claude-official", "claude-console", "ccr"):
            r.incrbyfloat(f"{p}usage:opus:weekly:{key_id}:{period}", rated)
            r.incrbyfloat(f"{p}usage:opus:total:{key_id}", rated)
            r.incrbyfloat(f"{p}usage:opus:real:weekly:{key_id}:{period}", real)
            r.incrbyfloat(f"{p}usage:opus:real:total:{key_id}", real)
            r.expire(f"{p}usage:opus:weekly:{key_id}:{period}", 14 * 24 * 3600)
            r.expire(f"{p}usage:opus:real:weekly:{key_id}:{period}", 14 * 24 * 3600)

    if r.exists(f"{p}apikey:{key_id}"):   # setApiKey(keyId, {...keyData, lastUsedAt}) + index
        r.hset(f"{p}apikey:{key_id}", "lastUsedAt", to_iso(now))
        r.expire(f"{p}apikey:{key_id}", 365 * DAY)
        r.zadd(f"{p}apikey:idx:lastUsedAt", {key_id: int(now.timestamp() * 1000)})
        if account_id:
            upstream_account(r, p, account_id, inp=fin, out=fout, cc=cc, cr=cr, e5=e5, e1=e1, nm=nm, long=long,
                             today=today, month=month, hour=hour)


def upstream_account(r, p, aid, *, inp, out, cc, cr, e5, e1, nm, long, today, month, hour):
    """Transcription of incrementAccountUsage."""
    total, core = inp + out + cc + cr, inp + out
    acc, daily = f"{p}account_usage:{aid}", f"{p}account_usage:daily:{aid}:{today}"
    monthly, hourly = f"{p}account_usage:monthly:{aid}:{month}", f"{p}account_usage:hourly:{aid}:{hour}"
    m_daily, m_monthly = f"{p}account_usage:model:daily:{aid}:{nm}:{today}", \
        f"{p}account_usage:model:monthly:{aid}:{nm}:{month}"
    m_hourly = f"{p}account_usage:model:hourly:{aid}:{nm}:{hour}"
    h = r.hincrby
    for field, n in (("totalTokens", core), ("totalInputTokens", inp), ("totalOutputTokens", out),
                     ("totalCacheCreateTokens", cc), ("totalCacheReadTokens", cr), ("totalEphemeral5mTokens", e5),
                     ("totalEphemeral1hTokens", e1), ("totalAllTokens", total), ("totalRequests", 1)):
        h(acc, field, n)
    plain = (("inputTokens", inp), ("outputTokens", out), ("cacheCreateTokens", cc), ("cacheReadTokens", cr),
             ("ephemeral5mTokens", e5), ("ephemeral1hTokens", e1), ("allTokens", total), ("requests", 1))
    for k in (daily, monthly, hourly):
        h(k, "tokens", core)
        for field, n in plain:
            h(k, field, n)
    for field, n in plain:
        h(hourly, f"model:{nm}:{field}", n)
    for k in (m_daily, m_monthly, m_hourly):
        for field, n in plain:
            h(k, field, n)
    for k, ttl in ((daily, 32 * DAY), (monthly, 365 * DAY), (hourly, 7 * DAY), (m_daily, 32 * DAY),
                   (m_monthly, 365 * DAY), (m_hourly, 7 * DAY)):
        r.expire(k, ttl)
    r.sadd(f"{p}account_usage:hourly:index:{hour}", aid)
    r.sadd(f"{p}account_usage:model:hourly:index:{hour}", f"{aid}:{nm}")
    r.expire(f"{p}account_usage:hourly:index:{hour}", 7 * DAY)
    r.expire(f"{p}account_usage:model:hourly:index:{hour}", 7 * DAY)
    r.sadd(f"{p}account_usage:daily:index:{today}", aid)
    r.sadd(f"{p}account_usage:model:daily:index:{today}", f"{aid}:{nm}")
    r.expire(f"{p}account_usage:daily:index:{today}", 32 * DAY)
    r.expire(f"{p}account_usage:model:daily:index:{today}", 32 * DAY)
    for k in (f"account_usage:hourly:index:{hour}", f"account_usage:model:hourly:index:{hour}",
              f"account_usage:daily:index:{today}", f"account_usage:model:daily:index:{today}"):
        r.delete(f"{p}{k}:empty")
    if long:
        h(acc, "totalLongContextInputTokens", inp); h(acc, "totalLongContextOutputTokens", out)
        h(acc, "totalLongContextRequests", 1)
        h(daily, "longContextInputTokens", inp); h(daily, "longContextOutputTokens", out)
        h(daily, "longContextRequests", 1)


def round_js(x: float) -> int:
    """Math.round for the costs used here (none is within an ulp of a half)."""
    return math.floor(x + 0.5)


def snapshot(r, prefix):
    """Every key under prefix: stripped name -> (type, value, ttl)."""
    out = {}
    for name in r.scan_iter(match=prefix + "*", count=1000):
        kind = r.type(name)
        value = {"hash": r.hgetall, "string": r.get, "set": r.smembers,
                 "zset": lambda n: r.zrange(n, 0, -1, withscores=True)}[kind](name)
        out[name[len(prefix):]] = (kind, value, r.ttl(name))
    return out


def copy_keys(r, source, target):
    for name in list(r.scan_iter(match=source + "*", count=1000)):
        ttl = r.pttl(name)
        r.restore(target + name[len(source):], max(ttl, 0), r.dump(name), replace=True)


# (model, normalized, claude family, account, account type, at, input, output, cc, cr, e5, e1, long, real, rated)
EVENTS = [
    ("us.anthropic.claude-opus-4-20250514-v1:0", "claude-opus-4-20250514", True, "acct-1", "claude-official",
     datetime(2025, 7, 30, 1, 2, 3, 456000, tzinfo=UTC), 1200, 340, 50, 60, 30, 20, True, 0.123456789, 0.2469),
    ("gpt-4o:latest", "gpt-4o", False, None, None,
     datetime(2025, 7, 30, 1, 30, tzinfo=UTC), 10, 5, 0, 0, 0, 0, False, 0.0, 0.0),
    ("claude-sonnet-4-20250514", "claude-sonnet-4-20250514", True, "acct-2", "claude-console",
     datetime(2025, 7, 30, 16, 0, tzinfo=UTC), 7, 1, 0, 3, 0, 0, False, 0.0000015, 0.0000021),
    ("claude-sonnet-4-20250514", "claude-sonnet-4-20250514", True, "acct-1", "openai",
     datetime(2025, 7, 30, 16, 5, tzinfo=UTC), 1, 1, 1, 1, 0, 0, True, 0.5, 0.0),
]


def test_relaystore_and_upstream_writers_leave_identical_keyspaces(redis_store, raw_redis, redis_prefix):
    key, _ = redis_store.api_keys.create("compare")
    upstream_prefix = redis_prefix + "up:"
    ours_prefix = redis_prefix
    copy_keys(raw_redis, ours_prefix, upstream_prefix)     # the same key record and indexes on both sides
    for (model, nm, family, aid, atype, at, inp, out, cc, cr, e5, e1, long, real, rated) in EVENTS:
        redis_store.usage.record(key.id, model=model, input_tokens=inp, output_tokens=out, cache_create_tokens=cc,
                                 cache_read_tokens=cr, ephemeral_5m_tokens=e5, ephemeral_1h_tokens=e1,
                                 long_context=long, real_cost=real, rated_cost=rated, account_id=aid,
                                 account_type=atype, at=at)
        local = datetime.fromtimestamp(at.timestamp() + 8 * 3600, UTC)
        upstream_record(raw_redis, upstream_prefix, key.id, tokens=inp + out + cc + cr, inp=inp, out=out, cc=cc,
                        cr=cr, model=model, nm=nm, e5=e5, e1=e1, long=long, real=real, rated=rated,
                        account_id=aid, account_type=atype, now=at, today=local.strftime("%Y-%m-%d"),
                        month=local.strftime("%Y-%m"), hour=local.strftime("%Y-%m-%d:%H"),
                        minute=int(at.timestamp() * 1000) // 60000,
                        period="2025-07-28T00", claude_family=family)
    theirs = snapshot(raw_redis, upstream_prefix)
    ours = {name: value for name, value in snapshot(raw_redis, ours_prefix).items() if not name.startswith("up:")}
    assert sorted(ours) == sorted(theirs)
    for name in theirs:
        (kind, value, ttl), (their_kind, their_value, their_ttl) = ours[name], theirs[name]
        assert (name, kind, value) == (name, their_kind, their_value)
        assert (ttl == -1) == (their_ttl == -1) and abs(ttl - their_ttl) <= 5, name
    assert len(theirs) > 80


def test_record_writes_upstream_field_sets_and_ttls(redis_store, raw_redis, redis_prefix):
    key, _ = redis_store.api_keys.create("fields")
    at = datetime(2025, 7, 30, 1, 2, 3, 456000, tzinfo=UTC)
    redis_store.usage.record(key.id, model="claude-opus-4-20250514", input_tokens=10, output_tokens=5,
                             cache_create_tokens=2, cache_read_tokens=3, real_cost=0.25, rated_cost=0.5,
                             account_id="acct-9", account_type="claude-official", at=at)
    p, k = redis_prefix, key.id

    def fields(name):
        return raw_redis.hgetall(p + name)

    assert fields(f"usage:{k}") == {
        "totalTokens": "15", "totalInputTokens": "10", "totalOutputTokens": "5", "totalCacheCreateTokens": "2",
        "totalCacheReadTokens": "3", "totalAllTokens": "20", "totalEphemeral5mTokens": "0",
        "totalEphemeral1hTokens": "0", "totalRequests": "1"}
    assert fields(f"usage:daily:{k}:2025-07-30") == {
        "tokens": "15", "inputTokens": "10", "outputTokens": "5", "cacheCreateTokens": "2", "cacheReadTokens": "3",
        "allTokens": "20", "requests": "1", "ephemeral5mTokens": "0", "ephemeral1hTokens": "0"}
    assert fields(f"usage:{k}:model:alltime:claude-opus-4-20250514") == {
        "inputTokens": "10", "outputTokens": "5", "cacheCreateTokens": "2", "cacheReadTokens": "3", "requests": "1",
        "ephemeral5mTokens": "0", "ephemeral1hTokens": "0", "realCostMicro": "250000", "ratedCostMicro": "500000"}
    assert "tokens" not in fields("usage:model:daily:claude-opus-4-20250514:2025-07-30")
    assert fields("system:metrics:minute:29230622")["totalTokens"] == "20"
    assert fields("account_usage:hourly:acct-9:2025-07-30:09")["model:claude-opus-4-20250514:allTokens"] == "20"
    assert raw_redis.get(f"{p}usage:cost:daily:{k}:2025-07-30") == "0.5"
    assert raw_redis.get(f"{p}usage:cost:real:total:{k}") == "0.25"
    assert raw_redis.get(f"{p}usage:opus:weekly:{k}:2025-07-28T00") == "0.5"
    assert raw_redis.hget(f"{p}apikey:{k}", "lastUsedAt") == "2025-07-30T01:02:03.456Z"
    assert raw_redis.zscore(f"{p}apikey:idx:lastUsedAt", k) == 1753837323456
    ttl = raw_redis.ttl
    assert ttl(f"{p}usage:{k}") == -1 and ttl(f"{p}usage:cost:total:{k}") == -1
    assert 32 * DAY - 5 <= ttl(f"{p}usage:daily:{k}:2025-07-30") <= 32 * DAY
    assert 30 * DAY - 5 <= ttl(f"{p}usage:cost:daily:{k}:2025-07-30") <= 30 * DAY
    assert 14 * DAY - 5 <= ttl(f"{p}usage:opus:weekly:{k}:2025-07-28T00") <= 14 * DAY
    assert 595 <= ttl(f"{p}system:metrics:minute:29230622") <= 600
    assert ttl(f"{p}usage:model:monthly:months") == -1


def test_opus_week_uses_the_reset_stored_on_the_key(redis_store, raw_redis, redis_prefix):
    key, _ = redis_store.api_keys.create("reset", weekly_reset_day=3, weekly_reset_hour=10)
    at = datetime(2025, 7, 30, 1, 0, tzinfo=UTC)                    # Wed 09:00 local, before the 10:00 reset
    redis_store.usage.record(key.id, model="claude-opus-4", real_cost=1.0, rated_cost=1.0,
                             account_id="a", account_type="ccr", at=at)
    assert raw_redis.get(f"{redis_prefix}usage:opus:weekly:{key.id}:2025-07-23T10") == "1"
    redis_store.usage.record(key.id, model="claude-opus-4", real_cost=1.0, rated_cost=1.0,
                             account_id="a", account_type="ccr", at=at, weekly_reset_day=1, weekly_reset_hour=0)
    assert raw_redis.get(f"{redis_prefix}usage:opus:weekly:{key.id}:2025-07-28T00") == "1"


def test_record_for_an_unknown_key_leaves_no_key_record(redis_store, raw_redis, redis_prefix):
    key_id = str(uuid.uuid4())
    redis_store.usage.record(key_id, model="m", input_tokens=1)
    assert not raw_redis.exists(f"{redis_prefix}apikey:{key_id}")
    assert raw_redis.zscore(f"{redis_prefix}apikey:idx:lastUsedAt", key_id) is None
    assert raw_redis.hget(f"{redis_prefix}usage:{key_id}", "totalRequests") == "1"


def test_counters_written_by_upstream_are_read(redis_store, raw_redis, redis_prefix):
    p, k = redis_prefix, "key-from-upstream"
    h = raw_redis.hincrby
    for field, n in (("totalTokens", 15), ("totalInputTokens", 10), ("totalOutputTokens", 5),
                     ("totalCacheCreateTokens", 2), ("totalCacheReadTokens", 3), ("totalAllTokens", 20),
                     ("totalRequests", 2), ("totalLongContextRequests", 1)):
        h(f"{p}usage:{k}", field, n)
    # an older daily hash: no allTokens, no ephemeral fields
    for field, n in (("tokens", 9), ("inputTokens", 6), ("outputTokens", 3), ("cacheReadTokens", 4),
                     ("requests", 1)):
        h(f"{p}usage:daily:{k}:2025-07-30", field, n)
    h(f"{p}usage:hourly:{k}:2025-07-30:09", "requests", 4)
    h(f"{p}usage:monthly:{k}:2025-07", "requests", 5)
    for field, n in (("inputTokens", 6), ("outputTokens", 3), ("allTokens", 13), ("requests", 1),
                     ("ratedCostMicro", 1500000)):
        h(f"{p}usage:{k}:model:daily:gpt-4o:free:2025-07-30", field, n)
    raw_redis.sadd(f"{p}usage:keymodel:daily:index:2025-07-30", f"{k}:gpt-4o:free", "other-key:gpt-4o")
    raw_redis.set(f"{p}usage:cost:daily:{k}:2025-07-30", "1.5")
    raw_redis.incrbyfloat(f"{p}usage:cost:total:{k}", 2.25)
    raw_redis.set(f"{p}usage:opus:weekly:{k}:2025-07-28T00", "0.75")      # setWeeklyOpusCost writes SET
    for field, n in (("totalRequests", 3), ("totalInputTokens", 30)):
        h(f"{p}account_usage:acct", field, n)
    h(f"{p}account_usage:hourly:acct:2025-07-30:09", "requests", 3)
    h(f"{p}account_usage:hourly:acct:2025-07-30:09", "model:vendor:m:1:requests", 3)
    h(f"{p}account_usage:hourly:acct:2025-07-30:09", "model:vendor:m:1:inputTokens", 30)

    u = redis_store.usage
    total = u.totals(k)
    assert (total.requests, total.tokens, total.all_tokens, total.input_tokens, total.long_context_requests) \
        == (2, 15, 20, 10, 1)
    daily = u.totals(k, period="daily", date="2025-07-30")
    assert (daily.requests, daily.tokens, daily.all_tokens, daily.ephemeral_5m_tokens) == (1, 9, 13, 0)
    assert u.totals(k, period="hourly", date="2025-07-30:09").requests == 4
    assert u.totals(k, period="monthly", date="2025-07").requests == 5
    models = u.by_model(k, period="daily", date="2025-07-30")
    assert list(models) == ["gpt-4o:free"]
    assert (models["gpt-4o:free"].tokens, models["gpt-4o:free"].rated_cost, models["gpt-4o:free"].real_cost) \
        == (9, 1.5, 0.0)
    assert u.cost(k, period="daily", date="2025-07-30") == 1.5 and u.cost(k) == 2.25
    assert u.cost(k, period="weekly", date="2025-07-28T00") == 0.75
    at = datetime(2025, 7, 30, 1, tzinfo=UTC)
    limits = u.cost_limits(k, at=at)
    assert (limits.daily, limits.weekly_opus, limits.total) == (1.5, 0.75, 2.25)
    assert u.account_totals("acct").input_tokens == 30
    hourly = u.account_usage("acct", period="hourly", date="2025-07-30:09")
    assert hourly.totals.requests == 3 and hourly.by_model["vendor:m:1"].input_tokens == 30


def test_undecodable_counter_is_reported_with_key_and_field(redis_store, raw_redis, redis_prefix):
    raw_redis.hset(f"{redis_prefix}usage:bad-key", "totalRequests", "lots")
    with pytest.raises(DataError, match=r"usage:bad-key: field totalRequests"):
        redis_store.usage.totals("bad-key")
    raw_redis.set(f"{redis_prefix}usage:cost:total:bad-key", "NaN?")
    with pytest.raises(DataError, match=r"usage:cost:total:bad-key"):
        redis_store.usage.cost("bad-key")
