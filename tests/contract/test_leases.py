"""Lease contract: the same scenarios on both backends (ids show [mysql] and [redis])."""
from __future__ import annotations

import time

import pytest

from relaystore import InvalidInput, account_lease_id

KEY = "11111111-1111-4111-8111-111111111111"


def test_acquire_up_to_the_limit_then_refuses(store):
    results = [store.leases.acquire(KEY, f"req-{i}", limit=3, ttl_seconds=30) for i in range(5)]
    assert results == [True, True, True, False, False]
    assert store.leases.count(KEY) == 3


def test_refused_acquire_leaves_no_lease_behind(store):
    assert store.leases.acquire(KEY, "a", limit=1, ttl_seconds=30)
    assert not store.leases.acquire(KEY, "b", limit=1, ttl_seconds=30)
    assert not store.leases.release(KEY, "b")
    assert store.leases.count(KEY) == 1


def test_limit_zero_means_unlimited(store):
    assert all(store.leases.acquire(KEY, f"req-{i}", limit=0, ttl_seconds=30) for i in range(20))
    assert store.leases.count(KEY) == 20


def test_release_frees_a_slot(store):
    assert store.leases.acquire(KEY, "a", limit=1, ttl_seconds=30)
    assert store.leases.release(KEY, "a") is True
    assert store.leases.count(KEY) == 0
    assert store.leases.acquire(KEY, "b", limit=1, ttl_seconds=30)


def test_release_of_unknown_or_released_lease_is_a_false_no_op(store):
    assert store.leases.release(KEY, "never-acquired") is False
    store.leases.acquire(KEY, "a", limit=2, ttl_seconds=30)
    assert store.leases.release(KEY, "a") is True
    assert store.leases.release(KEY, "a") is False
    assert store.leases.count(KEY) == 0


def test_reacquire_by_the_same_request_extends_it_even_at_the_limit(store):
    assert store.leases.acquire(KEY, "a", limit=1, ttl_seconds=0.3)
    assert store.leases.acquire(KEY, "a", limit=1, ttl_seconds=30)
    time.sleep(0.4)
    assert store.leases.count(KEY) == 1  # the second acquire's 30 s expiry holds, not the first's 0.3 s


def test_keys_are_independent(store):
    assert store.leases.acquire(KEY, "a", limit=1, ttl_seconds=30)
    assert store.leases.acquire("other-key", "a", limit=1, ttl_seconds=30)
    assert store.leases.count(KEY) == 1 and store.leases.count("other-key") == 1


def test_expired_leases_never_count(store):
    for i in range(3):
        assert store.leases.acquire(KEY, f"short-{i}", limit=3, ttl_seconds=0.3)
    time.sleep(0.4)
    assert store.leases.count(KEY) == 0
    assert all(store.leases.acquire(KEY, f"new-{i}", limit=3, ttl_seconds=30) for i in range(3))
    assert not store.leases.acquire(KEY, "one-too-many", limit=3, ttl_seconds=30)
    assert store.leases.count(KEY) == 3


def test_release_and_refresh_of_an_expired_lease_report_false(store):
    assert store.leases.acquire(KEY, "a", limit=1, ttl_seconds=0.2)
    time.sleep(0.3)
    assert store.leases.refresh(KEY, "a", ttl_seconds=30) is False
    assert store.leases.count(KEY) == 0  # refresh did not bring it back
    assert store.leases.release(KEY, "a") is False


def test_refresh_extends_a_live_lease(store):
    assert store.leases.acquire(KEY, "a", limit=1, ttl_seconds=0.3)
    assert store.leases.refresh(KEY, "a", ttl_seconds=30) is True
    time.sleep(0.4)
    assert store.leases.count(KEY) == 1
    assert not store.leases.acquire(KEY, "b", limit=1, ttl_seconds=30)


def test_refresh_twice_with_the_same_ttl_reports_true_both_times(store):
    assert store.leases.acquire(KEY, "a", limit=1, ttl_seconds=30)
    assert [store.leases.refresh(KEY, "a", ttl_seconds=30) for _ in range(5)] == [True] * 5


def test_refresh_of_unknown_lease_is_false(store):
    assert store.leases.refresh(KEY, "nobody", ttl_seconds=30) is False
    assert store.leases.count(KEY) == 0


def test_account_leases_use_upstreams_console_account_id(store):
    account_key = account_lease_id("acc-1")
    assert account_key == "console_account:acc-1"
    assert store.leases.acquire(account_key, "a", limit=1, ttl_seconds=30)
    assert not store.leases.acquire(account_key, "b", limit=1, ttl_seconds=30)
    assert store.leases.count("acc-1") == 0


def test_purge_expired_keeps_live_leases(store):
    store.leases.acquire(KEY, "short", limit=0, ttl_seconds=0.2)
    store.leases.acquire(KEY, "long", limit=0, ttl_seconds=30)
    time.sleep(0.3)
    store.leases.purge_expired()
    assert store.leases.count(KEY) == 1
    assert store.leases.release(KEY, "long") is True


BAD_LIMITS_AND_TTLS = [
    {"limit": -1, "ttl_seconds": 30}, {"limit": 1.5, "ttl_seconds": 30}, {"limit": True, "ttl_seconds": 30},
    {"limit": 1, "ttl_seconds": 0}, {"limit": 1, "ttl_seconds": -1}, {"limit": 1, "ttl_seconds": float("nan")},
    {"limit": 1, "ttl_seconds": "30"},
]


def test_bad_limit_or_ttl_is_invalid_input(store):
    for kwargs in BAD_LIMITS_AND_TTLS:
        with pytest.raises(InvalidInput):
            store.leases.acquire(KEY, "a", **kwargs)
    with pytest.raises(InvalidInput):
        store.leases.refresh(KEY, "a", ttl_seconds=0)
    assert store.leases.count(KEY) == 0


def test_bad_ids_are_invalid_input(store):
    for bad_id in ["", "x" * 192, "clé", "tab\there", None]:
        with pytest.raises(InvalidInput):
            store.leases.acquire(KEY, bad_id, limit=1, ttl_seconds=30)
        with pytest.raises(InvalidInput):
            store.leases.acquire(bad_id, "a", limit=1, ttl_seconds=30)
        with pytest.raises(InvalidInput):
            store.leases.count(bad_id)
        with pytest.raises(InvalidInput):
            store.leases.release(KEY, bad_id)


def test_hostile_but_valid_ids_are_stored_verbatim(store):
    hostile = "'; DROP TABLE leases; -- %s %(x)s \\ *?[a]"
    assert store.leases.acquire(hostile, hostile, limit=1, ttl_seconds=30)
    assert store.leases.count(hostile) == 1
    assert store.leases.release(hostile, hostile) is True
