"""Scheduler reads and single-account reads over the loaded accounts, secrets decrypted on the way out.

`scheduler.read` is what a scheduler does per request: the schedulable accounts of a platform (the
data set's 160 claude-console accounts, a few inactive, unschedulable or in error), best first.
"""
from __future__ import annotations

import itertools
import random

import pytest

from relaystore import benchload

PLATFORM = "claude-console"
LOADED = benchload.ACCOUNT_PLATFORMS.count(PLATFORM)


@pytest.mark.benchmark(group="scheduler.read")
def test_list_schedulable(benchmark, bench_store, bench_data):
    benchmark.extra_info.update(backend=bench_store.backend, accounts=LOADED)
    found = benchmark(bench_store.accounts.list_schedulable, PLATFORM)
    assert LOADED // 2 < len(found) < LOADED and found[0].secrets["apiKey"].startswith("sk-bench-")


@pytest.mark.benchmark(group="scheduler.read_group")
def test_list_schedulable_in_group(benchmark, bench_store, bench_data):
    """The same read limited to a group (a claude group: claude and claude-console members)."""
    group, members = bench_data.data.group(0)
    benchmark.extra_info.update(backend=bench_store.backend, members=len(members))
    found = benchmark(bench_store.accounts.list_schedulable, PLATFORM, group_id=group.id)
    assert found and {a.id for a in found} <= set(members)


@pytest.mark.benchmark(group="accounts.get")
def test_get_account(benchmark, bench_store, bench_data):
    data = bench_data.data
    rng = random.Random(11)
    ids = itertools.cycle([data.account_id(i) for i in rng.choices(
        [i for i, p in enumerate(benchload.ACCOUNT_PLATFORMS) if p == PLATFORM], k=1000)])
    benchmark.extra_info.update(backend=bench_store.backend)
    account = benchmark(lambda: bench_store.accounts.get(PLATFORM, next(ids)))
    assert account is not None and account.secrets["apiKey"].startswith("sk-bench-")
