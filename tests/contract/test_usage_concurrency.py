"""Exactness under concurrency: 8 threads x 2,000 record() calls give exactly the expected sums.

Counters must be server-side increments (HINCRBY / `col = col + VALUES(col)`), never a
read-modify-write in the client, or concurrent requests would lose counts. Every call uses one
fixed instant so the expected day/hour/month buckets are known. These are the slow tests of the
usage suite (tens of seconds per backend on a shared two-core machine).
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

pytestmark = pytest.mark.slow

THREADS, CALLS = 8, 2000
AT = datetime(2025, 7, 30, 1, 2, 3, tzinfo=timezone.utc)      # 2025-07-30 09:02 at +8
MODELS = ("claude-opus-4-20250514", "us.anthropic.claude-3-5-sonnet-20241022-v2:0")
NORMALIZED = ("claude-opus-4-20250514", "claude-3-5-sonnet-20241022")
REAL, RATED = 0.001, 0.0025


def run_threads(store, target_key, *, account: bool) -> None:
    """8 threads; call i of thread t records input t+1, output 2, for key target_key(t, i)."""
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS, timeout=30)

    def work(t: int) -> None:
        try:
            start.wait()
            for i in range(CALLS):
                store.usage.record(
                    target_key(t, i), model=MODELS[i % 2], input_tokens=t + 1, output_tokens=2,
                    cache_read_tokens=1, real_cost=REAL, rated_cost=RATED, at=AT,
                    account_id=f"acct-{t % 2}" if account else None, account_type="claude-official",
                    weekly_reset_day=1, weekly_reset_hour=0)
        except BaseException as exc:  # collected and asserted empty below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_eight_threads_on_one_key_sum_exactly(store):
    key_id = store.api_keys.create("hot key")[0].id
    run_threads(store, lambda t, i: key_id, account=True)
    n = THREADS * CALLS
    input_sum = CALLS * sum(t + 1 for t in range(THREADS))
    u = store.usage
    for period in ("total", "daily", "monthly", "hourly"):
        t = u.totals(key_id, period=period, date=AT)
        assert (t.requests, t.input_tokens, t.output_tokens, t.cache_read_tokens, t.all_tokens) == \
            (n, input_sum, 2 * n, n, input_sum + 3 * n), period
    models = u.by_model(key_id, period="daily", date=AT)
    assert {m: t.requests for m, t in models.items()} == {NORMALIZED[0]: n // 2, NORMALIZED[1]: n // 2}
    assert models[NORMALIZED[0]].rated_cost == pytest.approx(n // 2 * RATED)
    for period in ("total", "daily", "hourly", "monthly", "weekly"):
        assert u.cost(key_id, period=period, date=AT) == pytest.approx(n * RATED), period
    limits = u.cost_limits(key_id, at=AT)
    assert (limits.daily, limits.weekly_opus, limits.total) == pytest.approx((n * RATED,) * 3)
    per_account = {a: u.account_totals(a, period="daily", date=AT) for a in ("acct-0", "acct-1")}
    assert [per_account[a].requests for a in ("acct-0", "acct-1")] == [n // 2, n // 2]
    assert per_account["acct-0"].input_tokens == CALLS * sum(t + 1 for t in range(0, THREADS, 2))
    assert store.api_keys.get(key_id).last_used_at == AT


def test_eight_threads_over_fifty_keys_sum_exactly(store):
    keys = [store.api_keys.create(f"key {i}")[0].id for i in range(50)]
    run_threads(store, lambda t, i: keys[(t * CALLS + i) % 50], account=False)
    per_key = THREADS * CALLS // 50
    expected_input = {k: 0 for k in keys}
    for t in range(THREADS):
        for i in range(CALLS):
            expected_input[keys[(t * CALLS + i) % 50]] += t + 1
    u = store.usage
    for key_id in keys:
        total = u.totals(key_id)
        daily = u.totals(key_id, period="daily", date=AT)
        assert (total.requests, total.input_tokens, total.output_tokens) == \
            (per_key, expected_input[key_id], 2 * per_key)
        assert (daily.requests, daily.input_tokens) == (per_key, expected_input[key_id])
        assert u.cost(key_id) == pytest.approx(per_key * RATED)
    rows = u.model_usage_by_day("2025-07-30", "2025-07-30")
    assert {r.model: r.usage.requests for r in rows} == {m: THREADS * CALLS // 2 for m in NORMALIZED}
