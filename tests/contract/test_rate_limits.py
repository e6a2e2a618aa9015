"""Rate-limit window contract on both backends: upstream's window-start semantics, atomic under threads."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from relaystore import InvalidInput

KEY = "33333333-3333-4333-8333-333333333333"
HOUR = 60


def test_first_request_starts_a_window_and_counts(store):
    result = store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_requests=10)
    assert (result.allowed, result.reason, result.requests, result.tokens, result.cost) == (True, None, 1, 0, 0.0)
    assert result.reset_at - result.window_start == timedelta(hours=1)
    window = store.rate_limits.current(KEY, window_minutes=HOUR)
    assert window is not None and window.requests == 1 and window.window_start == result.window_start


def test_request_limit_blocks_without_counting_the_blocked_request(store):
    allowed = [store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_requests=3) for _ in range(5)]
    assert [r.allowed for r in allowed] == [True, True, True, False, False]
    assert [r.requests for r in allowed] == [1, 2, 3, 3, 3]
    assert allowed[-1].reason == "requests"
    assert len({r.window_start for r in allowed}) == 1


def test_token_limit_blocks_after_usage_is_added(store):
    assert store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_tokens=1000).allowed
    assert store.rate_limits.add_usage(KEY, tokens=1000) is True
    result = store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_tokens=1000)
    assert (result.allowed, result.reason, result.tokens, result.requests) == (False, "tokens", 1000, 1)


def test_cost_limit_blocks_only_without_a_token_limit(store):
    store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_cost=0.5)
    assert store.rate_limits.add_usage(KEY, cost=0.3) and store.rate_limits.add_usage(KEY, cost=0.2)
    blocked = store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_cost=0.5)
    assert (blocked.allowed, blocked.reason) == (False, "cost")
    assert blocked.cost == pytest.approx(0.5)
    # upstream: a token limit takes precedence, and then cost is not checked at all
    precedence = store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_tokens=10, max_cost=0.5)
    assert precedence.allowed


def test_requests_are_checked_before_tokens(store):
    store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_requests=1, max_tokens=5)
    store.rate_limits.add_usage(KEY, tokens=5)
    assert store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_requests=1,
                                                 max_tokens=5).reason == "requests"


def test_elapsed_window_restarts_with_zero_counters(store):
    window = 0.005  # 300 ms
    first = store.rate_limits.check_and_increment(KEY, window_minutes=window, max_requests=1)
    store.rate_limits.add_usage(KEY, tokens=50, cost=1.5)
    assert not store.rate_limits.check_and_increment(KEY, window_minutes=window, max_requests=1).allowed
    time.sleep(0.35)
    assert store.rate_limits.current(KEY, window_minutes=window) is None
    again = store.rate_limits.check_and_increment(KEY, window_minutes=window, max_requests=1)
    assert (again.allowed, again.requests, again.tokens, again.cost) == (True, 1, 0, 0.0)
    assert again.window_start > first.window_start


def test_shorter_configured_window_restarts_an_older_window(store):
    store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_requests=1)
    time.sleep(0.35)
    # upstream compares now - window_start with the window configured now, not the one it began with
    assert store.rate_limits.check_and_increment(KEY, window_minutes=0.005, max_requests=1).allowed


def test_usage_outside_a_live_window_is_not_counted(store):
    assert store.rate_limits.add_usage(KEY, tokens=10, cost=0.1) is False
    assert store.rate_limits.current(KEY, window_minutes=HOUR) is None
    store.rate_limits.check_and_increment(KEY, window_minutes=0.005)
    time.sleep(0.35)
    assert store.rate_limits.add_usage(KEY, tokens=10) is False
    assert store.rate_limits.check_and_increment(KEY, window_minutes=HOUR).tokens == 0


def test_add_usage_of_nothing_is_a_no_op(store):
    store.rate_limits.check_and_increment(KEY, window_minutes=HOUR)
    assert store.rate_limits.add_usage(KEY) is False
    assert store.rate_limits.current(KEY, window_minutes=HOUR).tokens == 0


def test_reset_ends_the_window(store):
    store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_requests=1)
    store.rate_limits.reset(KEY)
    assert store.rate_limits.current(KEY, window_minutes=HOUR) is None
    assert store.rate_limits.check_and_increment(KEY, window_minutes=HOUR, max_requests=1).allowed


def test_concurrent_checks_allow_exactly_the_limit(store):
    allowed: list[bool] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(25):
                allowed.append(store.rate_limits.check_and_increment(KEY, window_minutes=HOUR,
                                                                     max_requests=50).allowed)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert allowed.count(True) == 50 and len(allowed) == 200
    assert store.rate_limits.current(KEY, window_minutes=HOUR).requests == 50


def test_concurrent_usage_adds_are_all_counted(store):
    store.rate_limits.check_and_increment(KEY, window_minutes=HOUR)
    threads = [threading.Thread(target=lambda: [store.rate_limits.add_usage(KEY, tokens=3, cost=0.125)
                                                for _ in range(25)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    window = store.rate_limits.current(KEY, window_minutes=HOUR)
    assert (window.tokens, window.cost) == (300, 12.5)


def test_bad_rate_limit_arguments_are_invalid_input(store):
    for call in (lambda: store.rate_limits.check_and_increment(KEY, window_minutes=0),
                 lambda: store.rate_limits.check_and_increment(KEY, window_minutes=1, max_requests=-1),
                 lambda: store.rate_limits.check_and_increment(KEY, window_minutes=1, max_cost=-0.5),
                 lambda: store.rate_limits.add_usage(KEY, tokens=1.5),
                 lambda: store.rate_limits.add_usage(KEY, cost=float("inf"))):
        with pytest.raises(InvalidInput):
            call()
    assert store.rate_limits.current(KEY, window_minutes=1) is None
