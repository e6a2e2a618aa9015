"""MySQL-only checks of usage: one round trip, atomicity, no double count, index use, exact money."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from relaystore import BackendError, BackendUnavailable
from relaystore.mysql import usage as mu
from relaystore.mysql.pool import MySQLPool
from relaystore.store import Store
from relaystore.usage_rules import usage_event
from tests.conftest import base_settings

UTC = timezone.utc
AT = datetime(2025, 7, 30, 1, 2, 3, tzinfo=UTC)
OPUS = {"model": "claude-opus-4-20250514", "account_id": "acct-1", "account_type": "claude-official"}


class _CountingCursor:
    """A real cursor that counts execute() calls: one call is one request to the server."""

    def __init__(self, cur: Any, counter: list[int]) -> None:
        self._cur, self._counter = cur, counter

    def execute(self, *args: Any) -> Any:
        self._counter[0] += 1
        return self._cur.execute(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


class CountingPool(MySQLPool):
    """The real pool, counting the statements batches each cursor sends."""

    executes = [0]

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        with super().cursor() as cur:
            yield _CountingCursor(cur, self.executes)


def _rows(store: Store) -> int:
    return int(store.pool.fetchone("SELECT COUNT(*) AS n FROM usage_rollups")["n"])


def test_record_is_one_request_of_one_transaction(mysql_database):
    settings = base_settings(database_type="mysql", mysql_database=mysql_database, mysql_pool_size=1)
    store = Store(settings)
    pool = CountingPool(settings)
    try:
        key_id = store.api_keys.create("trip")[0].id
        usage = mu.MySQLUsage(pool, settings)
        questions = "SHOW SESSION STATUS LIKE 'Questions'"
        pool.executes[0] = 0
        before = int(pool.fetchone(questions)["Value"])
        usage.record(key_id, input_tokens=1, at=AT, real_cost=0.5, rated_cost=0.5, **OPUS)
        after = int(pool.fetchone(questions)["Value"])
        assert pool.executes[0] == 3                  # SHOW, the record, SHOW
        assert after - before == 5                    # START TRANSACTION, INSERT, UPDATE, COMMIT + one SHOW
        assert _rows(store) == 17                     # 4 key, 4 key x model, 2 Opus, 4 account, 3 account x model
    finally:
        pool.close()
        store.close()


def test_rollup_rows_per_event_are_in_primary_key_order():
    plain = mu.rollup_rows(usage_event("k", model="m", at=AT))
    with_account = mu.rollup_rows(usage_event("k", at=AT, real_cost=1.0, **OPUS))
    assert (len(plain), len(with_account)) == (8, 17)
    assert [r[:5] for r in with_account] == sorted(r[:5] for r in with_account)
    assert {r[2] for r in with_account if r[0] == "k" and r[4] == ""} == {"T", "M", "D", "H", "O"}


def test_record_is_all_or_nothing(mysql_store):
    key_id = mysql_store.api_keys.create("atomic")[0].id
    mysql_store.pool.fetchone("CREATE TRIGGER refuse_touch BEFORE UPDATE ON api_keys FOR EACH ROW "
                              "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by test'")
    with pytest.raises(BackendError, match="refused by test"):
        mysql_store.usage.record(key_id, input_tokens=5, at=AT, **OPUS)   # the last statement fails
    assert _rows(mysql_store) == 0                                        # so no rollup moved
    mysql_store.pool.fetchone("DROP TRIGGER refuse_touch")
    mysql_store.usage.record(key_id, input_tokens=5, at=AT, **OPUS)
    assert mysql_store.usage.totals(key_id).input_tokens == 5


def test_lost_connection_is_not_resent_and_never_double_counts(mysql_database):
    store = Store(base_settings(database_type="mysql", mysql_database=mysql_database, mysql_pool_size=1))
    try:
        key_id = store.api_keys.create("lost")[0].id
        thread_id = store.pool.fetchone("SELECT CONNECTION_ID() AS id")["id"]
        killer = MySQLPool(base_settings(mysql_database=mysql_database, mysql_pool_size=1))
        killer.fetchone("KILL %s", (thread_id,))
        killer.close()
        with pytest.raises(BackendUnavailable):
            store.usage.record(key_id, model="m", input_tokens=1, at=AT)
        assert store.usage.totals(key_id).requests == 0
        store.usage.record(key_id, model="m", input_tokens=1, at=AT)
        assert store.usage.totals(key_id).requests == 1
    finally:
        store.close()


def test_money_sums_are_exact_decimals(mysql_store):
    key_id = mysql_store.api_keys.create("money")[0].id
    for _ in range(10):
        mysql_store.usage.record(key_id, model="m", real_cost=0.1, rated_cost=0.1, at=AT)
    assert mysql_store.usage.cost(key_id) == 1.0                    # ten float 0.1s would give 0.9999999999999999
    row = mysql_store.pool.fetchone("SELECT rated_cost FROM usage_rollups WHERE scope = 'k' AND period = 'T' "
                                    "AND model = ''")
    assert row["rated_cost"] == Decimal("1.0000000000")


def test_models_differing_by_trailing_space_stay_apart(mysql_store):
    key_id = mysql_store.api_keys.create("pad")[0].id
    mysql_store.usage.record(key_id, model="m", at=AT)
    mysql_store.usage.record(key_id, model="m ", at=AT)
    assert {m: t.requests for m, t in mysql_store.usage.by_model(key_id, date=AT).items()} == {"m": 1, "m ": 1}


# --- index use -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def loaded_store() -> Iterator[tuple[Store, list[str]]]:
    """A database with 300 keys x 60 days of rollups (~110,000 rows), written straight into the table."""
    from relaystore.mysql.schema import drop_database, init_database
    name = f"relaystore_test_{uuid.uuid4().hex[:8]}"
    init_database(base_settings(), database=name)
    store = Store(base_settings(database_type="mysql", mysql_database=name))
    keys = [str(uuid.uuid4()) for _ in range(300)]
    rows = []
    start = datetime(2025, 6, 1, tzinfo=UTC)
    counters = (1, 10, 5, 0, 0, 0, 0, 0, 0, 0, Decimal("0.01"), Decimal("0.02"))
    for n, key_id in enumerate(keys):
        rows.append(("k", key_id, "T", "", "") + counters)
        for model in ("claude-opus-4", "gpt-4o"):
            rows.append(("k", key_id, "T", "", model) + counters)
        for month in ("2025-06", "2025-07"):
            rows.append(("k", key_id, "M", month, "") + counters)
        for d in range(60):
            day = (start + timedelta(days=d)).strftime("%Y-%m-%d")
            rows.append(("k", key_id, "D", day, "") + counters)
            rows.append(("k", key_id, "D", day, "claude-opus-4" if (n + d) % 2 else "gpt-4o") + counters)
            if d >= 55:
                for h in range(0, 24, 3):
                    rows.append(("k", key_id, "H", f"{day}:{h:02d}", "") + counters)
                    rows.append(("k", key_id, "O", f"{day}:{h:02d}", "") + counters)
        if n < 20:
            for month in ("2025-06", "2025-07"):
                rows.append(("a", f"acct-{n}", "M", month, "") + counters)
                rows.append(("a", f"acct-{n}", "M", month, "gpt-4o") + counters)
    sql = (f"INSERT INTO usage_rollups ({', '.join(mu.ROLLUP_COLUMNS)}) VALUES "
           f"({', '.join(['%s'] * len(mu.ROLLUP_COLUMNS))})")
    with store.pool.cursor() as cur:
        for i in range(0, len(rows), 5000):
            cur.executemany(sql, rows[i:i + 5000])
        cur.execute("ANALYZE TABLE usage_rollups")
        cur.fetchall()
    yield store, keys
    store.close()
    drop_database(base_settings(), name)


def _plan(store: Store, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return store.pool.fetchall("EXPLAIN " + sql, params)


def _assert_indexed(plan: list[dict[str, Any]], index: str) -> None:
    tables = [row for row in plan if row["table"] == "usage_rollups"]
    assert tables, plan
    for row in tables:
        assert row["type"] != "ALL", row
        assert row["key"] == index, row


def test_hot_reads_use_the_primary_key(loaded_store):
    store, keys = loaded_store
    key_id = keys[7]
    point = {"scope": "k", "owner_id": key_id, "period": "D", "bucket": "2025-07-20"}
    _assert_indexed(_plan(store, mu.SELECT_USAGE_ROLLUP, point), "PRIMARY")
    _assert_indexed(_plan(store, mu.SELECT_USAGE_ROLLUP_MODELS, point), "PRIMARY")
    week = {"key_id": key_id, "first_hour": "2025-07-28:00", "last_hour": "2025-08-03:23"}
    _assert_indexed(_plan(store, mu.SELECT_OPUS_WEEK_COST, week), "PRIMARY")
    plan = _plan(store, mu.SELECT_COST_LIMITS, dict(week, day="2025-07-30"))
    _assert_indexed(plan, "PRIMARY")
    assert len([r for r in plan if r["table"] == "usage_rollups"]) == 3
    touch = store.pool.fetchall("EXPLAIN " + mu.TOUCH_API_KEY_LAST_USED, (AT.replace(tzinfo=None), key_id,
                                                                        AT.replace(tzinfo=None)))
    assert touch[0]["type"] != "ALL" and touch[0]["key"] == "PRIMARY"


def test_report_queries_use_an_index(loaded_store):
    store, keys = loaded_store
    _assert_indexed(_plan(store, mu.SELECT_KEY_DAYS, {"key_id": keys[3], "first": "2025-07-01",
                                                      "last": "2025-07-07"}), "PRIMARY")
    _assert_indexed(_plan(store, mu.SELECT_ACCOUNT_MODELS_ALL_TIME, {"owner_id": "acct-3"}), "PRIMARY")
    for period, first, last in (("D", "2025-07-01", "2025-07-03"), ("M", "2025-07", "2025-07"), ("T", "", "")):
        _assert_indexed(_plan(store, mu.SELECT_TOP_KEYS_BY_COST, {"period": period, "first": first,
                                                                  "last": last, "limit": 10}),
                        "ix_usage_rollups_period_bucket")
    _assert_indexed(_plan(store, mu.SELECT_MODEL_DAYS, {"first": "2025-07-01", "last": "2025-07-03"}),
                    "ix_usage_rollups_period_bucket")


def test_reports_over_the_loaded_table_add_up(loaded_store):
    store, keys = loaded_store
    top = store.usage.top_keys_by_cost(start_day="2025-07-01", end_day="2025-07-03", limit=5)
    assert len(top) == 5 and all(r.usage.requests == 3 for r in top)       # one all-models row a day
    assert top[0].usage.rated_cost == pytest.approx(0.06)
    days = store.usage.report_key_range(keys[0], "2025-07-01", "2025-07-07")
    assert [r.bucket for r in days] == [f"2025-07-0{d}" for d in range(1, 8)]
    models = store.usage.model_usage_by_day("2025-07-01", "2025-07-01")
    assert sum(r.usage.requests for r in models) == 300
