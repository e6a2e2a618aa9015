"""Auth path, its 8-thread throughput and its scaling, and the bare round-trip floor of each server.

Every case authenticates keys drawn at random from the whole loaded set (raw keys rebuilt outside
the timed code), so MySQL pages and Redis hashes are hit the way a relay's traffic would hit them.
"""
from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import BENCH_KEYS, SCALE_BASE_KEYS

from relaystore.apikey_rules import hash_raw_key
from relaystore.mysql.pool import prepared

# The least an auth read can cost: one indexed lookup returning one small value (prepared, as auth is).
POINT_READ = prepared("relaystore_bench_point_read", "SELECT id FROM api_keys WHERE key_hash = %(key_hash)s")

SAMPLE = 20_000        # random keys per case; cycled through by the timed calls
THREADS = 8            # client threads of the throughput case
PER_THREAD = 100       # authentications per thread per round
THROUGHPUT_ROUNDS = 10


@pytest.mark.benchmark(group="auth")
def test_authenticate(benchmark, bench_store, bench_data):
    keys = itertools.cycle(bench_data.sample_raw_keys(SAMPLE))
    benchmark.extra_info.update(backend=bench_store.backend, keys=bench_data.keys)
    result = benchmark(lambda: bench_store.api_keys.authenticate(next(keys)))
    assert result.ok


@pytest.mark.benchmark(group="floor")
def test_round_trip_floor(benchmark, bench_store):
    benchmark.extra_info.update(backend=bench_store.backend)
    if bench_store.backend == "mysql":
        assert benchmark(bench_store.pool.fetchone, "SELECT 1 AS one") == {"one": 1}
    else:
        assert benchmark(bench_store.redis.ping) is True


@pytest.mark.benchmark(group="auth.point_read")
def test_point_read(benchmark, bench_store, bench_data):
    """MySQL: SELECT id by the unique hash; Redis: HGET apikey:hash_map. Auth minus the record."""
    hashes = [hash_raw_key(raw, bench_data.data.encryption_key) for raw in bench_data.sample_raw_keys(SAMPLE)]
    benchmark.extra_info.update(backend=bench_store.backend, keys=bench_data.keys)
    if bench_store.backend == "mysql":
        cycle = itertools.cycle([bytes.fromhex(h) for h in hashes])
        row = benchmark(lambda: bench_store.pool.fetchone_prepared(POINT_READ, {"key_hash": next(cycle)}))
        assert row is not None
    else:
        cycle = itertools.cycle(hashes)
        hash_map = bench_store.keys.api_key_hash_map
        assert benchmark(lambda: bench_store.redis.hget(hash_map, next(cycle))) is not None


@pytest.mark.benchmark(group="throughput")
def test_authenticate_throughput_8_threads(benchmark, bench_store, bench_data):
    """One round = THREADS x PER_THREAD authentications spread over 8 threads; ops/s = ops per round /
    round time. pytest-benchmark times whole rounds (it measures one call), the report divides."""
    keys = bench_data.sample_raw_keys(THREADS * PER_THREAD)
    chunks = [keys[t::THREADS] for t in range(THREADS)]
    auth = bench_store.api_keys.authenticate

    def work(chunk: list[str]) -> int:
        return sum(auth(raw).ok for raw in chunk)

    benchmark.extra_info.update(backend=bench_store.backend, keys=bench_data.keys, threads=THREADS,
                                operations_per_round=len(keys))
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="bench-client") as pool:
        def one_round() -> int:
            return sum(pool.map(work, chunks))

        ok = benchmark.pedantic(one_round, rounds=THROUGHPUT_ROUNDS, warmup_rounds=1, iterations=1)
    assert ok == len(keys)


@pytest.mark.benchmark(group="scale")
@pytest.mark.parametrize("size", ["10k", "full"])
def test_authenticate_scale(benchmark, bench_store, size, request):
    """Auth p50 on the 10,000-key set and on the full set (RELAYSTORE_BENCH_KEYS); the report divides."""
    if size == "full" and BENCH_KEYS <= SCALE_BASE_KEYS:
        pytest.skip(f"the full set is {BENCH_KEYS:,} keys; set RELAYSTORE_BENCH_KEYS=1000000 for the scale run")
    data = request.getfixturevalue("scale_base_data" if size == "10k" else "bench_data")
    store = data.stores[bench_store.backend]
    keys = itertools.cycle(data.sample_raw_keys(SAMPLE))
    benchmark.extra_info.update(backend=bench_store.backend, keys=data.keys)
    result = benchmark(lambda: store.api_keys.authenticate(next(keys)))
    assert result.ok
