"""Account side-state contract on both backends: balance caches, balance script, test history."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from relaystore import InvalidInput
from relaystore.timefmt import utcnow
from tests.contract.test_api_keys import HOSTILE

P, A = "claude-console", "3f1c9a2e-0000-4000-8000-000000000001"


def test_balance_cache_round_trips_with_upstream_defaults(store):
    assert store.account_state.get_balance(P, A) is None
    record = store.account_state.set_balance(P, A, balance=12.5, raw_data={"credits": [1, 2]},
                                             quota={"daily": 100})
    assert (record.currency, record.query_method, record.status, record.error_message) == ("USD", "api",
                                                                                         "success", "")
    assert record.last_refresh_at is not None
    assert store.account_state.get_balance(P, A) == record
    failed = store.account_state.set_balance(P, A, balance=None, status="error", error_message="HTTP 401",
                                             raw_data={}, query_method="script")
    got = store.account_state.get_balance(P, A)
    assert got == failed and got.balance is None and got.raw_data is None and got.quota is None


def test_local_estimate_and_delete_of_both_caches(store):
    assert store.account_state.get_local_balance(P, A) is None
    store.account_state.set_local_balance(P, A, {"estimated": 3.25, "currency": "USD"})
    assert store.account_state.get_local_balance(P, A) == {"estimated": 3.25, "currency": "USD"}
    store.account_state.set_balance(P, A, balance=1)
    assert store.account_state.delete_balance(P, A) is True
    assert store.account_state.get_balance(P, A) is None and store.account_state.get_local_balance(P, A) is None
    assert store.account_state.delete_balance(P, A) is False


def test_balance_caches_expire(store):
    store.account_state.set_balance(P, A, balance=1, ttl_seconds=0.4)
    store.account_state.set_local_balance(P, A, {"e": 1}, ttl_seconds=0.4)
    store.account_state.set_balance(P, "other", balance=2)
    time.sleep(0.9)
    assert store.account_state.get_balance(P, A) is None
    assert store.account_state.get_local_balance(P, A) is None
    assert store.account_state.get_balance(P, "other").balance == 2


def test_balance_script_config(store):
    assert store.account_state.get_balance_script(P, A) is None
    store.account_state.set_balance_script(P, A, {"url": "https://x/balance", "path": "$.data.balance"})
    assert store.account_state.get_balance_script(P, A) == {"url": "https://x/balance", "path": "$.data.balance"}
    assert store.account_state.delete_balance_script(P, A) is True
    assert store.account_state.get_balance_script(P, A) is None


def test_test_history_keeps_the_newest_five_newest_first(store):
    for i in range(7):
        store.account_state.add_test_result(P, A, {"success": i % 2 == 0, "duration": i})
    store.account_state.add_test_result(P, "other", "plain text result")
    history = store.account_state.list_test_results(P, A)
    assert [r["duration"] for r in history] == [6, 5, 4, 3, 2]
    assert store.account_state.list_test_results(P, "other") == ["plain text result"]
    at = utcnow() - timedelta(minutes=5)
    assert store.account_state.set_last_test(P, A, at) == at.replace(microsecond=at.microsecond // 1000 * 1000)
    assert store.account_state.get_last_test(P, A) == at.replace(microsecond=at.microsecond // 1000 * 1000)
    store.account_state.delete_test_state(P, A)
    assert store.account_state.list_test_results(P, A) == [] and store.account_state.get_last_test(P, A) is None
    assert store.account_state.list_test_results(P, "other") == ["plain text result"]


def test_bad_account_coordinates_are_refused(store):
    with pytest.raises(InvalidInput, match="platform"):
        store.account_state.get_balance("", A)
    with pytest.raises(InvalidInput, match="account_id"):
        store.account_state.set_balance(P, "with space", balance=1)
    with pytest.raises(InvalidInput, match="balance"):
        store.account_state.set_balance(P, A, balance="12")


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_values_round_trip(store, text):
    record = store.account_state.set_balance(P, A, balance=0.1, error_message=text[:16_383],
                                             raw_data={"t": text}, currency=text[:64])
    assert store.account_state.get_balance(P, A) == record
    store.account_state.add_test_result(P, A, {"error": text})
    assert store.account_state.list_test_results(P, A)[0] == {"error": text}
    store.account_state.set_balance_script(P, A, {"script": text})
    assert store.account_state.get_balance_script(P, A) == {"script": text}
