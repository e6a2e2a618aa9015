"""Usage and cost contract: the same scenarios on both backends (ids show [mysql] and [redis]).

The store's TIMEZONE_OFFSET is upstream's default +8 unless a test builds its own store.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from relaystore import InvalidInput, NotSupported, UsageTotals
from relaystore.store import Store
from tests.conftest import base_settings

UTC = timezone.utc
AT = datetime(2025, 7, 30, 1, 2, 3, 456000, tzinfo=UTC)       # Wed 2025-07-30 09:02 at +8
SONNET = "claude-sonnet-4-20250514"
money = pytest.approx


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def record(store, key_id, at=AT, **kwargs):
    values = {"model": SONNET, "input_tokens": 100, "output_tokens": 20, "cache_create_tokens": 5,
              "cache_read_tokens": 7, "at": at}
    values.update(kwargs)
    store.usage.record(key_id, **values)


def counts(t: UsageTotals) -> tuple[int, ...]:
    """The counters both backends must agree on exactly."""
    return (t.requests, t.input_tokens, t.output_tokens, t.cache_create_tokens, t.cache_read_tokens, t.tokens,
            t.all_tokens, t.ephemeral_5m_tokens, t.ephemeral_1h_tokens)


def new_key(store, **settings):
    return store.api_keys.create("usage", **settings)[0].id


def test_unused_key_has_zero_totals_and_cost(store):
    key_id = new_key(store)
    assert store.usage.totals(key_id) == UsageTotals()
    assert store.usage.totals(key_id, period="hourly") == UsageTotals()
    assert store.usage.by_model(key_id) == {}
    assert store.usage.cost(key_id) == 0.0 and store.usage.cost(key_id, period="weekly") == 0.0


def test_record_adds_up_in_every_period(store):
    key_id = new_key(store)
    record(store, key_id, ephemeral_5m_tokens=3, ephemeral_1h_tokens=2)
    record(store, key_id, input_tokens=1, output_tokens=2, cache_create_tokens=0, cache_read_tokens=0,
           long_context=True)
    expected = (2, 101, 22, 5, 7, 123, 135, 3, 2)
    for period, date in (("total", None), ("daily", "2025-07-30"), ("monthly", "2025-07"),
                         ("hourly", "2025-07-30:09")):
        totals = store.usage.totals(key_id, period=period, date=date)
        assert counts(totals) == expected, period
        assert totals.real_cost is None and totals.rated_cost is None
    # long-context counters are kept for all time and per day, as upstream keeps them
    for period in ("total", "daily"):
        t = store.usage.totals(key_id, period=period, date=AT)
        assert (t.long_context_input_tokens, t.long_context_output_tokens, t.long_context_requests) == (1, 2, 1)
    assert store.usage.totals(key_id, period="monthly", date=AT).long_context_requests == 0


@pytest.fixture(params=["mysql", "redis"])
def offset_store(request):
    """A store per backend whose TIMEZONE_OFFSET is -5 (west of UTC, unlike upstream's default +8)."""
    offset = -5
    if request.param == "mysql":
        db = request.getfixturevalue("mysql_database")
        store = Store(base_settings(database_type="mysql", mysql_database=db, timezone_offset=offset))
    else:
        prefix = request.getfixturevalue("redis_prefix")
        store = Store(base_settings(database_type="redis", redis_key_prefix=prefix, timezone_offset=offset))
    yield store
    store.close()


def _check_boundary(store, before, after, offset):
    key_id = new_key(store)
    record(store, key_id, at=before)
    record(store, key_id, at=after, input_tokens=1)
    local_before, local_after = before + timedelta(hours=offset), after + timedelta(hours=offset)
    day1, day2 = local_before.strftime("%Y-%m-%d"), local_after.strftime("%Y-%m-%d")
    month1, month2 = day1[:7], day2[:7]
    hour1, hour2 = local_before.strftime("%Y-%m-%d:%H"), local_after.strftime("%Y-%m-%d:%H")
    assert day1 != day2 and month1 != month2 and hour1[-2:] == "23" and hour2[-2:] == "00"
    u = store.usage
    assert u.totals(key_id).requests == 2
    for period, first, second in (("daily", day1, day2), ("monthly", month1, month2), ("hourly", hour1, hour2)):
        assert (u.totals(key_id, period=period, date=first).input_tokens,
                u.totals(key_id, period=period, date=second).input_tokens) == (100, 1), period
        # a datetime lands in the same bucket as its local string
        assert u.totals(key_id, period=period, date=before).input_tokens == 100
        assert u.totals(key_id, period=period, date=after).input_tokens == 1
        assert set(u.by_model(key_id, period=period, date=second)) == {SONNET}


def test_boundaries_at_local_midnight_in_the_default_offset(store):
    _check_boundary(store, utc(2025, 7, 31, 15, 59, 59, 999000), utc(2025, 7, 31, 16), 8)


def test_boundaries_at_local_midnight_in_a_negative_offset(offset_store):
    _check_boundary(offset_store, utc(2025, 8, 1, 4, 59, 59, 999000), utc(2025, 8, 1, 5), -5)


def test_hour_boundary_splits_hourly_only(store):
    key_id = new_key(store)
    record(store, key_id, at=utc(2025, 7, 30, 1, 59, 59, 999000))
    record(store, key_id, at=utc(2025, 7, 30, 2))
    u = store.usage
    assert [u.totals(key_id, period="hourly", date=h).requests for h in ("2025-07-30:09", "2025-07-30:10")] \
        == [1, 1]
    assert u.totals(key_id, period="daily", date="2025-07-30").requests == 2


def test_date_argument_forms_agree(store):
    key_id = new_key(store)
    record(store, key_id)
    u = store.usage
    naive = AT.replace(tzinfo=None)
    plus_two = AT.astimezone(timezone(timedelta(hours=2)))
    for period, text in (("daily", "2025-07-30"), ("monthly", "2025-07"), ("hourly", "2025-07-30:09")):
        assert u.totals(key_id, period=period, date=text) == u.totals(key_id, period=period, date=AT) \
            == u.totals(key_id, period=period, date=naive) == u.totals(key_id, period=period, date=plus_two)


def test_by_model_groups_by_normalized_model_with_cost(store):
    key_id = new_key(store)
    record(store, key_id, model="us.anthropic.claude-3-5-sonnet-20241022-v2:0", real_cost=0.1, rated_cost=0.2)
    record(store, key_id, model="claude-3-5-sonnet-20241022", real_cost=0.3, rated_cost=0.6)
    record(store, key_id, model="gpt-4o:latest", input_tokens=1, output_tokens=1, cache_create_tokens=0,
           cache_read_tokens=0, real_cost=0.0000014, rated_cost=0.0000016)
    record(store, key_id, model="gpt-4o:free", input_tokens=3, output_tokens=0, cache_create_tokens=0,
           cache_read_tokens=0)
    for period in ("daily", "monthly", "hourly", "total"):
        models = store.usage.by_model(key_id, period=period, date=AT)
        assert set(models) == {"claude-3-5-sonnet-20241022", "gpt-4o", "gpt-4o:free"}, period
        claude = models["claude-3-5-sonnet-20241022"]
        assert counts(claude) == (2, 200, 40, 10, 14, 240, 264, 0, 0)
        assert claude.real_cost == money(0.4) and claude.rated_cost == money(0.8)
        assert counts(models["gpt-4o"])[:3] == (1, 1, 1)
        assert models["gpt-4o"].rated_cost == money(0.0000016, abs=1e-6)
        assert (models["gpt-4o:free"].requests, models["gpt-4o:free"].real_cost) == (1, 0.0)


def test_model_names_with_colons_and_long_context_suffix_stay_apart(store):
    key_id = new_key(store)
    for model in ("claude-sonnet-4-20250514[1m]", "claude-sonnet-4-20250514", "vendor:model:v2", ""):
        record(store, key_id, model=model)
    assert set(store.usage.by_model(key_id, date=AT)) == {"claude-sonnet-4-20250514[1m]",
                                                          "claude-sonnet-4-20250514", "vendor:model:v2", "unknown"}


def test_cost_counts_only_requests_with_real_cost(store):
    key_id = new_key(store)
    record(store, key_id, real_cost=0.2, rated_cost=0.3)
    record(store, key_id, real_cost=0.1, rated_cost=0.15, at=AT + timedelta(hours=1))
    record(store, key_id, real_cost=0.0, rated_cost=0.5)          # upstream skips the cost keys: no real cost
    u = store.usage
    assert u.cost(key_id) == money(0.45)
    assert u.cost(key_id, period="daily", date=AT) == money(0.45)
    assert u.cost(key_id, period="monthly", date="2025-07") == money(0.45)
    assert u.cost(key_id, period="hourly", date=AT) == money(0.3)
    assert u.cost(key_id, period="hourly", date=AT + timedelta(hours=1)) == money(0.15)
    assert u.cost(key_id, period="daily", date="2025-07-29") == 0.0
    # the per-model rollups count rated cost on its own, as upstream's ratedCostMicro does
    assert u.by_model(key_id, date=AT)[SONNET].rated_cost == money(0.95)


@pytest.mark.parametrize("model, account_type, counted", [
    ("claude-opus-4-20250514", "claude-official", True),
    ("us.anthropic.claude-opus-4-20250514-v1:0", "claude-console", True),
    ("ccr,claude-sonnet-4", "ccr", True),
    ("claude-opus-4-20250514", "openai", False),
    ("claude-opus-4-20250514", None, False),
    ("gpt-4o", "claude-official", False),
])
def test_weekly_opus_cost_counts_claude_models_on_claude_accounts(store, model, account_type, counted):
    key_id = new_key(store)
    record(store, key_id, model=model, account_id="acct-1" if account_type else None, account_type=account_type,
           real_cost=0.5, rated_cost=0.75)
    assert store.usage.cost(key_id, period="weekly", date=AT) == (money(0.75) if counted else 0.0)
    assert store.usage.cost(key_id, date=AT) == money(0.75)


def test_weekly_period_follows_the_keys_reset_day_and_hour(store):
    key_id = new_key(store, weekly_reset_day=3, weekly_reset_hour=10)    # Wednesday 10:00 local
    opus = {"model": "claude-opus-4-20250514", "account_id": "acct-1", "account_type": "claude-official"}
    record(store, key_id, at=utc(2025, 7, 30, 1, 59), real_cost=1.0, rated_cost=1.0, **opus)   # Wed 09:59
    record(store, key_id, at=utc(2025, 7, 30, 2, 0), real_cost=2.0, rated_cost=2.0, **opus)    # Wed 10:00
    record(store, key_id, at=utc(2025, 8, 6, 1, 59), real_cost=4.0, rated_cost=4.0, **opus)    # next Wed 09:59
    u = store.usage
    assert u.cost(key_id, period="weekly", date=utc(2025, 7, 30, 1, 30)) == money(1.0)
    assert u.cost(key_id, period="weekly", date=utc(2025, 7, 30, 2, 30)) == money(6.0)
    assert u.cost(key_id, period="weekly", date="2025-07-30T10") == money(6.0)
    assert u.cost(key_id, period="weekly", date=utc(2025, 7, 30, 2, 30), weekly_reset_day=3,
                  weekly_reset_hour=10) == money(6.0)
    limits = u.cost_limits(key_id, weekly_reset_day=3, weekly_reset_hour=10, at=utc(2025, 8, 6, 1, 59, 30))
    assert (limits.daily, limits.weekly_opus, limits.total) == (money(4.0), money(6.0), money(7.0))


def test_cost_limits_reads_today_this_week_and_all_time(store):
    key_id = new_key(store)
    opus = {"model": "claude-opus-4-20250514", "account_id": "acct-1", "account_type": "claude-official"}
    record(store, key_id, at=AT - timedelta(days=3), real_cost=1.0, rated_cost=1.5, **opus)   # Sunday: last week
    record(store, key_id, at=AT - timedelta(days=1), real_cost=1.0, rated_cost=2.5, **opus)   # Tuesday
    record(store, key_id, at=AT, real_cost=1.0, rated_cost=3.5, **opus)
    record(store, key_id, at=AT, model="gpt-4o", real_cost=1.0, rated_cost=0.25)
    limits = store.usage.cost_limits(key_id, at=AT)
    assert limits.daily == money(3.75)
    assert limits.weekly_opus == money(6.0)
    assert limits.total == money(7.75)
    empty = store.usage.cost_limits(new_key(store), at=AT)
    assert (empty.daily, empty.weekly_opus, empty.total) == (0.0, 0.0, 0.0)


def test_account_rollups_sum_over_keys(store):
    a, b = new_key(store), new_key(store)
    record(store, a, account_id="acct-1", account_type="claude-official", long_context=True)
    record(store, b, account_id="acct-1", account_type="claude-official", model="claude-opus-4-20250514")
    record(store, b, account_id="acct-2", account_type="claude-console")
    record(store, a)                                                  # no account
    u = store.usage
    for period in ("total", "daily", "monthly", "hourly"):
        assert counts(u.account_totals("acct-1", period=period, date=AT)) == (2, 200, 40, 10, 14, 240, 264, 0, 0)
        assert u.account_totals("acct-2", period=period, date=AT).requests == 1
    assert u.account_totals("acct-1").long_context_requests == 1
    assert u.account_totals("acct-1", period="daily", date=AT).long_context_requests == 1
    for period in ("daily", "monthly", "hourly"):
        usage = u.account_usage("acct-1", period=period, date=AT)
        assert counts(usage.totals) == counts(u.account_totals("acct-1", period=period, date=AT))
        assert {m: t.requests for m, t in usage.by_model.items()} == {SONNET: 1, "claude-opus-4-20250514": 1}
    assert u.account_usage("acct-3", date=AT).totals.requests == 0


def test_account_usage_for_all_time(store):
    key_id = new_key(store)
    record(store, key_id, account_id="acct-1", account_type="ccr")
    record(store, key_id, account_id="acct-1", account_type="ccr", at=AT + timedelta(days=40))
    if store.backend == "redis":
        with pytest.raises(NotSupported, match="MySQL"):
            store.usage.account_usage("acct-1", period="total")
        return
    usage = store.usage.account_usage("acct-1", period="total")
    assert usage.totals.requests == 2 and usage.by_model[SONNET].requests == 2


def test_report_key_range_lists_days_with_usage(store):
    key_id = new_key(store)
    today = datetime.now(UTC)             # Redis keeps daily keys 32 days: report on recent days
    for days_ago, cost in ((0, 0.5), (1, 0.25), (3, 1.0)):
        record(store, key_id, at=today - timedelta(days=days_ago), real_cost=cost / 2, rated_cost=cost)
    start = (today - timedelta(days=5) + timedelta(hours=8)).strftime("%Y-%m-%d")
    end = (today + timedelta(hours=8)).strftime("%Y-%m-%d")
    rows = store.usage.report_key_range(key_id, start, end)
    assert [r.bucket for r in rows] == sorted({(today - timedelta(days=d) + timedelta(hours=8)).strftime("%Y-%m-%d")
                                               for d in (0, 1, 3)})
    assert [r.usage.rated_cost for r in rows] == [money(1.0), money(0.25), money(0.5)]
    assert [r.usage.real_cost for r in rows] == [money(0.5), money(0.125), money(0.25)]
    assert all(r.key_id == key_id and r.usage.requests == 1 for r in rows)
    with pytest.raises(InvalidInput):
        store.usage.report_key_range(key_id, end, start)


def test_model_usage_by_day_sums_all_keys(store):
    a, b = new_key(store), new_key(store)
    record(store, a, model="claude-opus-4-20250514")
    record(store, b, model="claude-opus-4-20250514")
    record(store, b, model="gpt-4o", at=AT + timedelta(days=1))
    rows = store.usage.model_usage_by_day("2025-07-29", "2025-07-31")
    assert [(r.bucket, r.model, r.usage.requests, r.usage.input_tokens) for r in rows] == [
        ("2025-07-30", "claude-opus-4-20250514", 2, 200), ("2025-07-31", "gpt-4o", 1, 100)]


def test_top_keys_by_cost_needs_mysql(store):
    keys = [new_key(store) for _ in range(4)]
    for i, key_id in enumerate(keys):
        for _ in range(i + 1):
            record(store, key_id, real_cost=0.1, rated_cost=0.25 * (i + 1))
    if store.backend == "redis":
        with pytest.raises(NotSupported, match="MySQL"):
            store.usage.top_keys_by_cost(date=AT)
        return
    top = store.usage.top_keys_by_cost(date=AT, limit=3)
    assert [r.key_id for r in top] == keys[::-1][:3]
    assert [r.usage.rated_cost for r in top] == [money(4.0), money(2.25), money(1.0)]
    ranged = store.usage.top_keys_by_cost(start_day="2025-07-01", end_day="2025-07-31", limit=1)
    assert [r.key_id for r in ranged] == [keys[-1]] and ranged[0].usage.requests == 4
    assert [r.key_id for r in store.usage.top_keys_by_cost(period="total", limit=2)] == keys[::-1][:2]


def test_record_moves_last_used_at_forward_only(store):
    key_id = new_key(store)
    record(store, key_id, at=AT)
    assert store.api_keys.get(key_id).last_used_at == AT
    record(store, key_id, at=AT - timedelta(hours=1))
    assert store.api_keys.get(key_id).last_used_at == AT


def test_record_for_an_unknown_key_counts_usage_but_creates_no_key(store):
    key_id = str(uuid.uuid4())
    record(store, key_id)
    assert store.api_keys.get(key_id) is None
    assert store.usage.totals(key_id).requests == 1


@pytest.mark.parametrize("kwargs", [
    {"input_tokens": -1}, {"output_tokens": 2.5}, {"real_cost": float("inf")}, {"rated_cost": -1.0},
    {"account_id": "with space"}, {"at": "2025-07-30"},
])
def test_record_rejects_bad_input_and_writes_nothing(store, kwargs):
    key_id = new_key(store)
    with pytest.raises(InvalidInput):
        record(store, key_id, **kwargs)
    assert store.usage.totals(key_id).requests == 0


@pytest.mark.parametrize("call", [
    lambda u, k: u.totals(k, period="weekly"),
    lambda u, k: u.totals(k, period="daily", date="2025/07/30"),
    lambda u, k: u.by_model(k, period="hourly", date="2025-07-30"),
    lambda u, k: u.cost(k, period="yearly"),
    lambda u, k: u.cost(k, period="weekly", date="2025-07-28"),
    lambda u, k: u.cost_limits(k, weekly_reset_day=9),
    lambda u, k: u.report_key_range(k, "2025-07-31", "2025-07-30"),
])
def test_reads_reject_bad_periods_and_buckets(store, call):
    with pytest.raises(InvalidInput):
        call(store.usage, new_key(store))
