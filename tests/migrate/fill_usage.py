"""Usage and cost keys for migration tests: ~30 days of requests recorded through the Redis DAO's record path.

fill(store, n) records requests for a few hundred keys, models and accounts (Opus and long-context
requests, costs, requests without an account, models with ':' and non-ASCII in their names) until
about n keys exist under the usage family's patterns, plus a few odd-but-valid values upstream
leaves behind (a legacy hash without allTokens, a backfilled Opus week, a field relaystore does
not model). Deterministic for a seed, apart from the request times, which follow the clock.
"""
from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from relaystore import usage_rules as rules
from relaystore.migrate.redis_reader import glob_escape
from relaystore.timefmt import utcnow

PATTERNS = ("usage:*", "account_usage:*", "system:metrics:minute:*")
MODELS = ("claude-3-5-sonnet-20241022", "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-opus-4-1",
          "claude-sonnet-4[1m]", "gpt-4o:free", "gemini-2.5-pro", "模型-x", "llama3:latest", "o3 mini")
ACCOUNT_TYPES = ("claude-official", "claude-console", "ccr", "openai", None)


def count(store: Any) -> int:
    """How many keys exist under the usage family's patterns (index sets and markers included)."""
    prefix = glob_escape(store.settings.redis_key_prefix)
    return sum(1 for pattern in PATTERNS for _ in store.redis.scan_iter(match=prefix + pattern, count=1000))


def _events(rng: random.Random, n: int, key_ids: list[str], accounts: list[tuple[str, str | None]]
            ) -> list[tuple[rules.UsageEvent, int, int]]:
    now = utcnow()
    out = []
    for _ in range(n):
        model = rng.choice(MODELS)
        long = "[1m]" in model and rng.random() < 0.5
        cost = rng.choice([0.0, 0.0, 0.000123, 0.0153, 1.5, rng.random() / 7])
        account_id, account_type = rng.choice(accounts)
        key_id = rng.choice(key_ids)
        ev = rules.usage_event(
            key_id, model=model, input_tokens=rng.choice([0, 12, 1500, 250000 if long else 3000]),
            output_tokens=rng.randint(0, 4000), cache_create_tokens=rng.choice([0, 0, 512]),
            cache_read_tokens=rng.choice([0, 2048]), ephemeral_5m_tokens=rng.choice([0, 256]),
            ephemeral_1h_tokens=rng.choice([0, 0, 64]), long_context=long, real_cost=cost,
            rated_cost=cost * rng.choice([1, 1.5, 0]), account_id=account_id, account_type=account_type,
            at=now - timedelta(minutes=rng.randint(0, 30 * 24 * 60)))
        out.append((ev, 1 + int(key_id[:8], 16) % 7, int(key_id[:8], 16) % 24))
    return out


def fill(store: Any, n: int, *, seed: int = 7) -> int:
    """Record requests through the Redis DAO until about n usage keys exist; returns how many exist."""
    rng = random.Random(seed)
    dao = store.usage
    offset = store.settings.timezone_offset
    keys = max(3, n // 150)
    key_ids = [f"{rng.getrandbits(128):032x}"[:8] + f"-k{i}" for i in range(keys)]
    accounts = [(f"acct-{i}", rng.choice(ACCOUNT_TYPES)) for i in range(max(2, keys // 3))] + [(None, None)] * 3
    have, batch = count(store), max(20, n // 60)
    while have < n:
        for start in range(0, batch, 500):
            pipe = store.redis.pipeline(transaction=False)
            for ev, day, hour in _events(rng, min(500, batch - start), key_ids, accounts):
                period = rules.weekly_period(ev.at, offset, day, hour) if ev.opus else None
                dao.queue_record(pipe, ev, opus_period=period)
            pipe.execute()
        before, have = have, count(store)
        # each SCAN walks the whole keyspace: aim the next round at n from the keys this one added
        rate = max((have - before) / batch, 0.5)
        batch = max(20, min(int((n - have) / rate) + 1, 20 * batch))
    p = store.settings.redis_key_prefix
    legacy = f"{p}usage:legacy-{seed}"
    if not store.redis.exists(legacy):    # what an older upstream wrote: no totalAllTokens, no ephemeral fields
        store.redis.hset(legacy, mapping={"totalTokens": "30", "totalInputTokens": "10", "totalOutputTokens": "20",
                                          "totalRequests": "2", "totalCacheCreateTokens": "0",
                                          "totalCacheReadTokens": "0"})
        store.redis.set(f"{p}usage:opus:weekly:legacy-{seed}:2025-07-28T00", "12.5", ex=3 * 86400)  # backfill SET
        store.redis.hset(f"{p}usage:daily:{key_ids[0]}:2025-01-01", mapping={"requests": "1", "futureField": "x"})
        store.redis.sadd(f"{p}usage:daily:index:2025-01-01", key_ids[0])
    return count(store)
