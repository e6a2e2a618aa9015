"""Auth path and the bare round-trip floor of each server."""
from __future__ import annotations

import random

import pytest


@pytest.fixture(scope="module")
def raw_keys(request: pytest.FixtureRequest) -> dict[str, list[str]]:
    """1,000 keys per backend, created through the DAOs; the raw keys to authenticate with."""
    out = {}
    for backend in ("mysql", "redis"):
        store = request.getfixturevalue(f"bench_{backend}_store")
        out[backend] = [store.api_keys.create(f"bench key {i}")[1] for i in range(1000)]
    return out


@pytest.mark.benchmark(group="auth")
def test_authenticate(benchmark, bench_store, raw_keys):
    keys = raw_keys[bench_store.backend]
    rng = random.Random(7)
    result = benchmark(lambda: bench_store.api_keys.authenticate(keys[rng.randrange(len(keys))]))
    assert result.ok


@pytest.mark.benchmark(group="floor")
def test_round_trip_floor(benchmark, bench_store):
    if bench_store.backend == "mysql":
        assert benchmark(bench_store.pool.fetchone, "SELECT 1 AS one") == {"one": 1}
    else:
        assert benchmark(bench_store.redis.ping) is True
