"""Scheduler reads and single-account reads, both backends, secrets decrypted on the way out."""
from __future__ import annotations

import random

import pytest

POOL = 200      # accounts in the benchmarked platform (a large upstream deployment has tens to hundreds)
GROUP = 20      # of which in one group


@pytest.fixture(scope="module")
def accounts(request: pytest.FixtureRequest) -> dict[str, dict[str, object]]:
    """POOL claude-console accounts per backend (a few unschedulable), GROUP of them in one group."""
    out: dict[str, dict[str, object]] = {}
    for backend in ("mysql", "redis"):
        store = request.getfixturevalue(f"bench_{backend}_store")
        ids = [store.accounts.create("claude-console", name=f"bench {i}", priority=i % 10,
                                     apiKey=f"sk-bench-{i}", apiUrl="https://api.example/v1",
                                     is_active=i % 17 != 0, status="error" if i % 23 == 0 else "active").id
               for i in range(POOL)]
        group = store.account_groups.create("claude", "bench group")
        for account_id in ids[:GROUP]:
            store.account_groups.add_member(group.id, account_id)
        out[backend] = {"ids": ids, "group": group.id}
    return out


@pytest.mark.benchmark(group="accounts.list_schedulable")
def test_list_schedulable(benchmark, bench_store, accounts):
    found = benchmark(bench_store.accounts.list_schedulable, "claude-console")
    assert 150 < len(found) < POOL and found[0].secrets["apiKey"].startswith("sk-bench-")


@pytest.mark.benchmark(group="accounts.list_schedulable_group")
def test_list_schedulable_in_group(benchmark, bench_store, accounts):
    group_id = accounts[bench_store.backend]["group"]
    found = benchmark(bench_store.accounts.list_schedulable, "claude-console", group_id=group_id)
    assert 0 < len(found) <= GROUP


@pytest.mark.benchmark(group="accounts.get")
def test_get_account(benchmark, bench_store, accounts):
    ids = accounts[bench_store.backend]["ids"]
    rng = random.Random(11)
    account = benchmark(lambda: bench_store.accounts.get("claude-console", ids[rng.randrange(len(ids))]))
    assert account is not None and account.secrets["apiKey"].startswith("sk-bench-")
