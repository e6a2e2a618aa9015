"""Sessions, users and request details: the per-request reads and writes of issue 4 part B."""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

DAY = "2025-07-30"


@pytest.fixture(scope="module")
def seeded(request: pytest.FixtureRequest) -> dict[str, dict[str, list[str]]]:
    """Per backend: 1,000 sticky hashes, 200 admin tokens, 200 usernames, 2,000 details on one day."""
    out: dict[str, dict[str, list[str]]] = {}
    base = datetime(2025, 7, 30, tzinfo=timezone.utc)
    run = uuid.uuid4().hex[:8]
    for backend in ("mysql", "redis"):
        store = request.getfixturevalue(f"bench_{backend}_store")
        hashes = [f"bench-sticky-{i:04d}" for i in range(1000)]
        for h in hashes:
            store.sessions.set_sticky(h, f"acct-{h[-2:]}")
        tokens = [store.sessions.create_admin_session("admin").token for _ in range(200)]
        # A kept data set (RELAYSTORE_BENCH_KEEP=1) still holds the users of earlier runs: new names each run.
        names = [store.users.create(f"bench-user-{run}-{i}").username for i in range(200)]
        for i in range(2000):
            store.request_details.put({"requestId": f"bench-rd-{i:05d}",
                                       "timestamp": (base + timedelta(seconds=40 * i)).isoformat(),
                                       "model": "claude-sonnet", "inputTokens": i, "cost": 0.001})
        out[backend] = {"hashes": hashes, "tokens": tokens, "names": names}
    return out


@pytest.mark.benchmark(group="sessions.get_sticky")
def test_get_sticky(benchmark, bench_store, seeded):
    hashes = seeded[bench_store.backend]["hashes"]
    rng = random.Random(3)
    assert benchmark(lambda: bench_store.sessions.get_sticky(hashes[rng.randrange(len(hashes))])) is not None


@pytest.mark.benchmark(group="sessions.set_sticky")
def test_set_sticky(benchmark, bench_store, seeded):
    hashes = seeded[bench_store.backend]["hashes"]
    rng = random.Random(4)
    benchmark(lambda: bench_store.sessions.set_sticky(hashes[rng.randrange(len(hashes))], "acct-x"))


@pytest.mark.benchmark(group="sessions.get_admin_session")
def test_get_admin_session(benchmark, bench_store, seeded):
    tokens = seeded[bench_store.backend]["tokens"]
    rng = random.Random(5)
    assert benchmark(lambda: bench_store.sessions.get_admin_session(tokens[rng.randrange(len(tokens))]))


@pytest.mark.benchmark(group="sessions.touch_admin_session")
def test_touch_admin_session(benchmark, bench_store, seeded):
    tokens = seeded[bench_store.backend]["tokens"]
    rng = random.Random(6)
    assert benchmark(lambda: bench_store.sessions.touch_admin_session(tokens[rng.randrange(len(tokens))]))


@pytest.mark.benchmark(group="users.get_by_username")
def test_get_user_by_username(benchmark, bench_store, seeded):
    names = seeded[bench_store.backend]["names"]
    rng = random.Random(7)
    assert benchmark(lambda: bench_store.users.get_by_username(names[rng.randrange(len(names))]))


@pytest.mark.benchmark(group="request_details.put")
def test_put_request_detail(benchmark, bench_store, seeded):
    counter = iter(range(10**9))
    detail = {"timestamp": "2025-07-31T12:00:00.000Z", "model": "claude-sonnet", "inputTokens": 100,
              "outputTokens": 20, "cost": 0.00123, "endpoint": "/api/v1/messages", "statusCode": 200}
    benchmark(lambda: bench_store.request_details.put({**detail, "requestId": f"bench-put-{next(counter)}"}))


@pytest.mark.benchmark(group="request_details.list_day")
def test_list_day_page(benchmark, bench_store, seeded):
    page = benchmark(bench_store.request_details.list_day, DAY, limit=50, offset=100)
    assert len(page) == 50 and page[0].request_id == "bench-rd-01899"
