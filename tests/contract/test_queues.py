"""Concurrency-queue bookkeeping contract on both backends: waiter counts, outcome stats, wait samples."""
from __future__ import annotations

import threading

import pytest

from relaystore import InvalidInput
from relaystore.records import QueueStats

KEY = "22222222-2222-4222-8222-222222222222"


def test_enter_and_leave_count_waiters(store):
    assert [store.queues.enter(KEY, timeout_ms=10_000) for _ in range(3)] == [1, 2, 3]
    assert store.queues.waiting(KEY) == 3
    assert [store.queues.leave(KEY) for _ in range(3)] == [2, 1, 0]
    assert store.queues.waiting(KEY) == 0


def test_leave_never_goes_below_zero(store):
    assert store.queues.leave(KEY) == 0
    assert store.queues.leave(KEY) == 0
    assert store.queues.waiting(KEY) == 0
    assert store.queues.enter(KEY) == 1


def test_enter_refuses_when_max_waiting_are_queued(store):
    assert store.queues.enter(KEY, max_waiting=2) == 1
    assert store.queues.enter(KEY, max_waiting=2) == 2
    assert store.queues.enter(KEY, max_waiting=2) == 0
    assert store.queues.waiting(KEY) == 2
    assert store.queues.leave(KEY) == 1
    assert store.queues.enter(KEY, max_waiting=2) == 2


def test_concurrent_enters_and_leaves_lose_no_update(store):
    errors: list[BaseException] = []

    def worker(action) -> None:
        try:
            for _ in range(50):
                action(KEY)
        except BaseException as exc:
            errors.append(exc)

    def run(action) -> None:
        threads = [threading.Thread(target=worker, args=(action,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    run(store.queues.enter)
    assert store.queues.waiting(KEY) == 400
    run(store.queues.leave)
    assert errors == []
    assert store.queues.waiting(KEY) == 0


def test_clear_and_clear_all_drop_counters_but_keep_stats(store):
    store.queues.enter(KEY)
    store.queues.enter("other")
    store.queues.record_stat(KEY, "entered")
    store.queues.clear(KEY)
    assert store.queues.waiting(KEY) == 0 and store.queues.waiting("other") == 1
    assert store.queues.clear_all() == 1
    assert store.queues.waiting("other") == 0
    assert store.queues.stats(KEY).entered == 1


def test_stats_count_each_outcome(store):
    assert store.queues.stats(KEY) == QueueStats()
    assert store.queues.record_stat(KEY, "entered") == 1
    assert store.queues.record_stat(KEY, "entered") == 2
    assert store.queues.record_stat(KEY, "rejected_overload") == 1
    assert store.queues.stats(KEY) == QueueStats(entered=2, rejected_overload=1)
    assert store.queues.stats("other") == QueueStats()
    with pytest.raises(InvalidInput):
        store.queues.record_stat(KEY, "bogus")


def test_wait_samples_are_newest_first_and_also_global(store):
    for ms in (100, 250, 175):
        store.queues.record_wait(KEY, ms)
    store.queues.record_wait("other", 999)
    store.queues.record_wait("third", 5, include_global=False)
    assert store.queues.wait_times(KEY) == [175, 250, 100]
    assert store.queues.wait_times("third") == [5]
    assert store.queues.global_wait_times() == [999, 175, 250, 100]
    assert store.queues.wait_times("never") == []


def test_bad_queue_arguments_are_invalid_input(store):
    for call in (lambda: store.queues.enter(KEY, timeout_ms=-1), lambda: store.queues.enter(KEY, max_waiting=-1),
                 lambda: store.queues.record_wait(KEY, -5), lambda: store.queues.record_wait(KEY, 1.5),
                 lambda: store.queues.enter("")):
        with pytest.raises(InvalidInput):
            call()
    assert store.queues.waiting(KEY) == 0
