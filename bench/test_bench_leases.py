"""Lease acquire+release (the per-request concurrency cost) and the rate-limit check, on both backends."""
from __future__ import annotations

import itertools

import pytest


@pytest.mark.benchmark(group="lease.acquire_release")
def test_lease_acquire_release(benchmark, bench_store):
    ids = (f"bench-req-{n}" for n in itertools.count())
    # a key that already holds a few leases, as a busy key would
    for n in range(3):
        bench_store.leases.acquire("bench-lease-key", f"held-{n}", limit=10, ttl_seconds=300)

    def cycle() -> bool:
        request_id = next(ids)
        acquired = bench_store.leases.acquire("bench-lease-key", request_id, limit=10, ttl_seconds=300)
        return acquired and bench_store.leases.release("bench-lease-key", request_id)

    assert benchmark(cycle) is True


@pytest.mark.benchmark(group="lease.acquire_refused")
def test_lease_acquire_at_the_limit(benchmark, bench_store):
    bench_store.leases.acquire("bench-full-key", "holder", limit=1, ttl_seconds=300)
    assert benchmark(bench_store.leases.acquire, "bench-full-key", "refused", limit=1, ttl_seconds=300) is False


@pytest.mark.benchmark(group="rate_limit.check")
def test_rate_limit_check_and_increment(benchmark, bench_store):
    result = benchmark(bench_store.rate_limits.check_and_increment, "bench-rate-key", window_minutes=60,
                       max_requests=10**9, max_tokens=10**12)
    assert result.allowed
