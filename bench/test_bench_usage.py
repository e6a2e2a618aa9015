"""Usage: record() of one request (the per-request write) and one report query (an operator dashboard read).

Both draw keys at random from the loaded set: record() any key (today's rollups of most keys start
empty, as on a relay), the report a key that has 30 days of usage (benchload's active keys).
"""
from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

import pytest

from relaystore import benchload
from relaystore.timefmt import day_bucket, utcnow

SAMPLE = 20_000
MODELS = ("claude-sonnet-4-20250514", "claude-opus-4-1-20250805", "claude-3-5-haiku-20241022", "gpt-5")


def _record_args(bench_data, n: int) -> list[tuple[str, dict[str, object]]]:
    """(key id, record() keywords) for n random loaded keys, models and fitting accounts; built untimed."""
    data = bench_data.data
    rng = random.Random(21)
    out = []
    for _ in range(n):
        model = rng.choice(MODELS)
        account = rng.choice(dict(benchload.USAGE_MODELS)[model])
        inp, outp = rng.randrange(200, 20_000), rng.randrange(20, 2_000)
        cost = round(inp * 3e-6 + outp * 15e-6, 6)
        out.append((data.key_id(rng.randrange(data.keys)), {
            "model": model, "input_tokens": inp, "output_tokens": outp, "cache_read_tokens": rng.choice([0, inp]),
            "real_cost": cost, "rated_cost": cost, "account_id": data.account_id(account),
            "account_type": benchload.ACCOUNT_TYPES[benchload.ACCOUNT_PLATFORMS[account]], "weekly_reset_day": 1, "weekly_reset_hour": 0}))
    return out


@pytest.mark.benchmark(group="usage.record")
def test_usage_record(benchmark, bench_store, bench_data):
    """store.usage.record() of one request: tokens + cost into every rollup, key and account, atomically."""
    calls = itertools.cycle(_record_args(bench_data, SAMPLE))
    benchmark.extra_info.update(backend=bench_store.backend, keys=bench_data.keys)

    def record() -> None:
        key_id, kwargs = next(calls)
        bench_store.usage.record(key_id, **kwargs)

    benchmark(record)
    key_id, kwargs = next(calls)
    before = bench_store.usage.totals(key_id).requests
    bench_store.usage.record(key_id, **kwargs)
    assert bench_store.usage.totals(key_id).requests == before + 1


@pytest.mark.benchmark(group="report.query")
def test_report_key_last_30_days(benchmark, bench_store, bench_data):
    """report_key_range(): one active key's usage and cost per day over the last 30 days."""
    data = bench_data.data
    active = data.active_key_indexes()
    rng = random.Random(22)
    keys = itertools.cycle([data.key_id(active[rng.randrange(len(active))]) for _ in range(SAMPLE)])
    today = date.fromisoformat(day_bucket(utcnow(), data.timezone_offset))
    first, last = (today - timedelta(days=benchload.USAGE_DAYS - 1)).isoformat(), today.isoformat()
    benchmark.extra_info.update(backend=bench_store.backend, keys=bench_data.keys, days=benchload.USAGE_DAYS)
    rows = benchmark(lambda: bench_store.usage.report_key_range(next(keys), first, last))
    assert len(rows) >= benchload.USAGE_DAYS - 2 and all(r.usage.requests >= 1 for r in rows)
