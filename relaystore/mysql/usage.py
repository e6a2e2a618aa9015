"""Usage and cost on MySQL: every rollup in `usage_rollups` (see schema.sql for the table's shape).

record() is one round trip: START TRANSACTION; one multi-row upsert of every rollup the request
moves; the key's last_used_at; COMMIT (pool.batch). Either all rollups move or none. A deadlock
or lock-wait timeout (the server rolled the transaction back) is re-sent; a lost connection is
not, since the COMMIT may have landed.
Reads are point or short range reads on the primary key; the reports across owners use
ix_usage_rollups_period_bucket. The backend-neutral rules (buckets, models, Opus week) are in
usage_rules.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from .. import usage_rules as rules
from ..config import Settings
from ..errors import InvalidInput
from ..records import CostLimits, UsageBreakdown, UsageRow, UsageTotals
from .batches import run_batch
from .pool import MySQLPool

KEY, ACCOUNT = "k", "a"
_PERIOD_CODE = {"total": "T", "monthly": "M", "daily": "D", "hourly": "H"}
OPUS = "O"
_TEN_DIGITS = Decimal("1e-10")
_ZERO = Decimal(0)

COUNTERS = ("requests", "input_tokens", "output_tokens", "cache_create_tokens", "cache_read_tokens",
            "ephemeral_5m_tokens", "ephemeral_1h_tokens", "long_context_input_tokens",
            "long_context_output_tokens", "long_context_requests", "real_cost", "rated_cost")
ROLLUP_COLUMNS = ("scope", "owner_id", "period", "bucket", "model") + COUNTERS
_COUNTER_LIST = ", ".join(COUNTERS)
_SUM_LIST = ", ".join(f"SUM({c}) AS {c}" for c in COUNTERS)

# One row per rollup; the row count varies (8 to 17), so the VALUES list is built from this
# constant and filled with positional parameters (named ones would need a name per row and column).
INSERT_USAGE_ROLLUPS = (
    f"INSERT INTO usage_rollups ({', '.join(ROLLUP_COLUMNS)}) VALUES {{rows}} "
    "ON DUPLICATE KEY UPDATE " + ", ".join(f"{c} = {c} + VALUES({c})" for c in COUNTERS))
_ROW_PLACEHOLDERS = "(" + ", ".join(["%s"] * len(ROLLUP_COLUMNS)) + ")"

# last_used_at only moves forwards (a late or back-dated record never rewinds it).
TOUCH_API_KEY_LAST_USED = ("UPDATE api_keys SET last_used_at = %s "
                           "WHERE id = %s AND (last_used_at IS NULL OR last_used_at < %s)")


@lru_cache(maxsize=32)
def record_sql(row_count: int) -> str:
    """The whole record() round trip for `row_count` rollup rows (cached per count)."""
    rows = ", ".join([_ROW_PLACEHOLDERS] * row_count)
    return f"START TRANSACTION; {INSERT_USAGE_ROLLUPS.format(rows=rows)}; {TOUCH_API_KEY_LAST_USED}; COMMIT"


def _money(value: float) -> Decimal:
    """A float cost as an exact DECIMAL literal (PyMySQL sends a float as DOUBLE, which would round sums)."""
    if value <= 0:
        return _ZERO
    return Decimal(repr(value)).quantize(_TEN_DIGITS, ROUND_HALF_UP)


def rollup_rows(ev: rules.UsageEvent) -> list[tuple[Any, ...]]:
    """Every rollup row one event adds to, in primary-key order (see schema.sql for the codes)."""
    b = ev.buckets
    base = (1, ev.input_tokens, ev.output_tokens, ev.cache_create_tokens, ev.cache_read_tokens,
            ev.ephemeral_5m_tokens, ev.ephemeral_1h_tokens)
    long = (ev.input_tokens, ev.output_tokens, 1) if ev.long_context else (0, 0, 0)
    no_long = (0, 0, 0)
    real, rated = _money(ev.real_cost), _money(ev.rated_cost)
    # Owner-level rows mirror upstream's cost keys (only when real cost > 0); model rows its *Micro fields.
    owner_cost = (real, rated) if ev.real_cost > 0 else (_ZERO, _ZERO)
    model_cost = (real, rated)
    key_id, m = ev.key_id, ev.model
    rows = [
        (KEY, key_id, "T", "", "") + base + long + owner_cost,
        (KEY, key_id, "M", b.month, "") + base + no_long + owner_cost,
        (KEY, key_id, "D", b.day, "") + base + long + owner_cost,
        (KEY, key_id, "H", b.hour, "") + base + no_long + owner_cost,
        (KEY, key_id, "T", "", m) + base + no_long + model_cost,
        (KEY, key_id, "M", b.month, m) + base + no_long + model_cost,
        (KEY, key_id, "D", b.day, m) + base + no_long + model_cost,
        (KEY, key_id, "H", b.hour, m) + base + no_long + model_cost,
    ]
    if ev.opus:
        rows.append((KEY, key_id, OPUS, "", "") + base + no_long + (real, rated))
        rows.append((KEY, key_id, OPUS, b.hour, "") + base + no_long + (real, rated))
    if ev.account_id is not None:
        aid = ev.account_id
        rows += [
            (ACCOUNT, aid, "T", "", "") + base + long + owner_cost,
            (ACCOUNT, aid, "M", b.month, "") + base + no_long + owner_cost,
            (ACCOUNT, aid, "D", b.day, "") + base + long + owner_cost,
            (ACCOUNT, aid, "H", b.hour, "") + base + no_long + owner_cost,
            (ACCOUNT, aid, "M", b.month, m) + base + no_long + model_cost,
            (ACCOUNT, aid, "D", b.day, m) + base + no_long + model_cost,
            (ACCOUNT, aid, "H", b.hour, m) + base + no_long + model_cost,
        ]
    # Same lock order in every transaction. Python compares str by code point, as the server
    # compares the ASCII ids and the UTF-8 bytes of `model`.
    rows.sort(key=lambda r: r[:5])
    return rows


def _totals(row: dict[str, Any] | None, *, with_cost: bool) -> UsageTotals:
    """A rollup row (or sums) as UsageTotals; tokens and all_tokens are derived."""
    if row is None:
        return UsageTotals(real_cost=0.0 if with_cost else None, rated_cost=0.0 if with_cost else None)
    inp, out = int(row["input_tokens"]), int(row["output_tokens"])
    cc, cr = int(row["cache_create_tokens"]), int(row["cache_read_tokens"])
    return UsageTotals(
        requests=int(row["requests"]), input_tokens=inp, output_tokens=out, cache_create_tokens=cc,
        cache_read_tokens=cr, tokens=inp + out, all_tokens=inp + out + cc + cr,
        ephemeral_5m_tokens=int(row["ephemeral_5m_tokens"]), ephemeral_1h_tokens=int(row["ephemeral_1h_tokens"]),
        long_context_input_tokens=int(row["long_context_input_tokens"]),
        long_context_output_tokens=int(row["long_context_output_tokens"]),
        long_context_requests=int(row["long_context_requests"]),
        real_cost=float(row["real_cost"]) if with_cost else None,
        rated_cost=float(row["rated_cost"]) if with_cost else None)


def _model(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else value


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(timezone.utc).replace(tzinfo=None)


# Hot read: one primary-key point lookup.
SELECT_USAGE_ROLLUP = (f"SELECT {_COUNTER_LIST} FROM usage_rollups WHERE scope = %(scope)s "
                       "AND owner_id = %(owner_id)s AND period = %(period)s AND bucket = %(bucket)s "
                       "AND model = ''")

# An owner's per-model rows of one bucket: one short primary-key range.
SELECT_USAGE_ROLLUP_MODELS = (f"SELECT model, {_COUNTER_LIST} FROM usage_rollups WHERE scope = %(scope)s "
                              "AND owner_id = %(owner_id)s AND period = %(period)s "
                              "AND bucket = %(bucket)s ORDER BY model")

SELECT_API_KEY_WEEKLY_RESET = "SELECT weekly_reset_day, weekly_reset_hour FROM api_keys WHERE id = %(id)s"

# The Opus week: the key's 'O' hour rows from the week's first to its 168th hour (bucket ''
# is the all-time row and sorts before every hour).
SELECT_OPUS_WEEK_COST = ("SELECT COALESCE(SUM(rated_cost), 0) AS rated_cost FROM usage_rollups "
                         "WHERE scope = 'k' AND owner_id = %(key_id)s AND period = 'O' "
                         "AND bucket BETWEEN %(first_hour)s AND %(last_hour)s AND model = ''")

# Auth's cost inputs in one statement: two primary-key points and one <=168-row primary-key range.
SELECT_COST_LIMITS = """
    SELECT
      (SELECT rated_cost FROM usage_rollups
        WHERE scope = 'k' AND owner_id = %(key_id)s AND period = 'D' AND bucket = %(day)s
          AND model = '') AS daily,
      (SELECT COALESCE(SUM(rated_cost), 0) FROM usage_rollups
        WHERE scope = 'k' AND owner_id = %(key_id)s AND period = 'O'
          AND bucket BETWEEN %(first_hour)s AND %(last_hour)s AND model = '') AS weekly_opus,
      (SELECT rated_cost FROM usage_rollups
        WHERE scope = 'k' AND owner_id = %(key_id)s AND period = 'T' AND bucket = ''
          AND model = '') AS total
"""

# All-time per model for an account: its month rows summed (one primary-key range).
SELECT_ACCOUNT_MODELS_ALL_TIME = (f"SELECT model, {_SUM_LIST} FROM usage_rollups "
                                  "WHERE scope = 'a' AND owner_id = %(owner_id)s AND period = 'M' "
                                  "AND model <> '' GROUP BY model ORDER BY model")

SELECT_KEY_DAYS = (f"SELECT bucket, {_COUNTER_LIST} FROM usage_rollups WHERE scope = 'k' "
                   "AND owner_id = %(key_id)s AND period = 'D' AND bucket BETWEEN %(first)s AND %(last)s "
                   "AND model = '' ORDER BY bucket")

# Reports across owners read ix_usage_rollups_period_bucket. FORCE INDEX (same syntax on MariaDB
# and MySQL): for the GROUP BY owner_id the optimizer otherwise scans every key row in primary-key
# order (measured on 110,000 rows: 35-50 ms that way, 2-7 ms on the index).
SELECT_TOP_KEYS_BY_COST = (f"SELECT owner_id, {_SUM_LIST} FROM usage_rollups "
                           "FORCE INDEX (ix_usage_rollups_period_bucket) "
                           "WHERE scope = 'k' AND period = %(period)s AND bucket BETWEEN %(first)s "
                           "AND %(last)s AND model = '' GROUP BY owner_id "
                           "ORDER BY SUM(rated_cost) DESC, owner_id LIMIT %(limit)s")

SELECT_MODEL_DAYS = (f"SELECT bucket, model, {_SUM_LIST} FROM usage_rollups "
                     "FORCE INDEX (ix_usage_rollups_period_bucket) "
                     "WHERE scope = 'k' AND period = 'D' AND bucket BETWEEN %(first)s AND %(last)s "
                     "AND model <> '' GROUP BY bucket, model ORDER BY bucket, model")


class MySQLUsage:
    """store.usage on MySQL."""

    def __init__(self, pool: MySQLPool, settings: Settings) -> None:
        self._pool = pool
        self._offset = settings.timezone_offset

    # --- writing ---------------------------------------------------------------------------------

    def record(self, key_id: str, *, model: str, input_tokens: int = 0, output_tokens: int = 0,
               cache_create_tokens: int = 0, cache_read_tokens: int = 0, ephemeral_5m_tokens: int = 0,
               ephemeral_1h_tokens: int = 0, long_context: bool = False, real_cost: float = 0.0,
               rated_cost: float = 0.0, account_id: str | None = None, account_type: str | None = None,
               at: datetime | None = None, weekly_reset_day: int | None = None,
               weekly_reset_hour: int | None = None) -> None:
        """Count one request in every rollup, atomically, in one round trip.

        weekly_reset_day/hour are accepted for symmetry with Redis and not needed here: the Opus
        week is summed from hour rows when it is read.
        """
        ev = rules.usage_event(
            key_id, model=model, input_tokens=input_tokens, output_tokens=output_tokens,
            cache_create_tokens=cache_create_tokens, cache_read_tokens=cache_read_tokens,
            ephemeral_5m_tokens=ephemeral_5m_tokens, ephemeral_1h_tokens=ephemeral_1h_tokens,
            long_context=long_context, real_cost=real_cost, rated_cost=rated_cost, account_id=account_id,
            account_type=account_type, at=at, offset_hours=self._offset)
        rows = rollup_rows(ev)
        params: list[Any] = [value for row in rows for value in row]
        at_naive = _naive_utc(ev.at)
        params += [at_naive, ev.key_id, at_naive]
        sql = record_sql(len(rows))
        run_batch(self._pool, sql, params)   # a deadlock rolled it all back: re-sent, counted once

    # --- reading ---------------------------------------------------------------------------------

    def _point(self, scope: str, owner_id: str, period: str, bucket: str) -> dict[str, Any] | None:
        return self._pool.fetchone(SELECT_USAGE_ROLLUP, {"scope": scope, "owner_id": owner_id,
                                                         "period": period, "bucket": bucket})

    def totals(self, key_id: str, *, period: str = "total", date: Any = None) -> UsageTotals:
        """One key's counters for a period bucket: a primary-key point read."""
        rules.check_period(period)
        bucket = rules.bucket_for(period, date, self._offset)
        return _totals(self._point(KEY, key_id, _PERIOD_CODE[period], bucket), with_cost=False)

    def by_model(self, key_id: str, *, period: str = "daily", date: Any = None) -> dict[str, UsageTotals]:
        """One key's counters and cost per normalized model for a period bucket."""
        rules.check_period(period)
        bucket = rules.bucket_for(period, date, self._offset)
        rows = self._pool.fetchall(SELECT_USAGE_ROLLUP_MODELS, {
            "scope": KEY, "owner_id": key_id, "period": _PERIOD_CODE[period], "bucket": bucket})
        return {_model(r["model"]): _totals(r, with_cost=True) for r in rows if r["model"]}

    def cost(self, key_id: str, *, period: str = "total", date: Any = None, weekly_reset_day: int | None = None,
             weekly_reset_hour: int | None = None) -> float:
        """Rated cost (USD) of a key in a period; "weekly" is the Opus week (reset from the key unless given)."""
        rules.check_period(period, rules.COST_PERIODS)
        if period != "weekly":
            bucket = rules.bucket_for(period, date, self._offset)
            row = self._point(KEY, key_id, _PERIOD_CODE[period], bucket)
            return float(row["rated_cost"]) if row else 0.0
        day, hour = weekly_reset_day, weekly_reset_hour
        if not isinstance(date, str) and (day is None or hour is None):
            stored = self._pool.fetchone(SELECT_API_KEY_WEEKLY_RESET, {"id": key_id})
            day = day if day is not None else int(stored["weekly_reset_day"]) if stored else 1
            hour = hour if hour is not None else int(stored["weekly_reset_hour"]) if stored else 0
        period_start = rules.bucket_for("weekly", date, self._offset, reset_day=1 if day is None else day,
                                        reset_hour=0 if hour is None else hour)
        first, last = rules.week_hour_range(period_start)
        row = self._pool.fetchone(SELECT_OPUS_WEEK_COST,
                                  {"key_id": key_id, "first_hour": first, "last_hour": last})
        return float(row["rated_cost"]) if row else 0.0

    def cost_limits(self, key_id: str, *, weekly_reset_day: int = 1, weekly_reset_hour: int = 0,
                    at: datetime | None = None) -> CostLimits:
        """Today's, this Opus week's and all-time rated cost: ONE SELECT (auth hot path)."""
        if at is None:
            at = datetime.now(timezone.utc)
        day = rules.buckets(at, self._offset).day
        first, last = rules.week_hour_range(rules.weekly_period(at, self._offset, weekly_reset_day,
                                                                weekly_reset_hour))
        row = self._pool.fetchone(SELECT_COST_LIMITS, {"key_id": key_id, "day": day,
                                                       "first_hour": first, "last_hour": last})
        assert row is not None  # a SELECT without FROM always returns its one row
        return CostLimits(daily=float(row["daily"] or 0), weekly_opus=float(row["weekly_opus"] or 0),
                          total=float(row["total"] or 0))

    # --- reports (indexed; see EXPLAIN tests) -----------------------------------------------

    def account_totals(self, account_id: str, *, period: str = "total", date: Any = None) -> UsageTotals:
        """One account's counters for a period bucket: a primary-key point read."""
        rules.check_period(period)
        bucket = rules.bucket_for(period, date, self._offset)
        return _totals(self._point(ACCOUNT, account_id, _PERIOD_CODE[period], bucket), with_cost=False)

    def account_usage(self, account_id: str, *, period: str = "daily", date: Any = None) -> UsageBreakdown:
        """One account's usage and cost in a bucket, overall and per model (one range read)."""
        rules.check_period(period)
        bucket = rules.bucket_for(period, date, self._offset)
        params = {"scope": ACCOUNT, "owner_id": account_id, "period": _PERIOD_CODE[period], "bucket": bucket}
        rows = self._pool.fetchall(SELECT_USAGE_ROLLUP_MODELS, params)
        overall = next((r for r in rows if not r["model"]), None)
        if period == "total":
            rows = self._pool.fetchall(SELECT_ACCOUNT_MODELS_ALL_TIME, {"owner_id": account_id})
        by_model = {_model(r["model"]): _totals(r, with_cost=True) for r in rows if r["model"]}
        return UsageBreakdown(bucket=bucket, totals=_totals(overall, with_cost=True), by_model=by_model)

    def report_key_range(self, key_id: str, start_day: Any, end_day: Any) -> list[UsageRow]:
        """One key's usage and cost per day over a date range (days with usage only)."""
        first, last = rules.check_day("start_day", start_day), rules.check_day("end_day", end_day)
        rules.check_range(first, last)
        rows = self._pool.fetchall(SELECT_KEY_DAYS, {"key_id": key_id, "first": first, "last": last})
        return [UsageRow(bucket=r["bucket"], key_id=key_id, usage=_totals(r, with_cost=True)) for r in rows]

    def top_keys_by_cost(self, *, period: str = "daily", date: Any = None, start_day: Any = None,
                         end_day: Any = None, limit: int = 10) -> list[UsageRow]:
        """The keys with the highest rated cost in one bucket, or over a day range (start_day..end_day)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput(f"limit must be a positive integer, got {limit!r}")
        if start_day is not None or end_day is not None:
            first = rules.check_day("start_day", start_day)
            last = rules.check_day("end_day", end_day)
            rules.check_range(first, last)
            code, bucket = "D", f"{first}..{last}"
        else:
            rules.check_period(period)
            first = last = bucket = rules.bucket_for(period, date, self._offset)
            code = _PERIOD_CODE[period]
        rows = self._pool.fetchall(SELECT_TOP_KEYS_BY_COST, {"period": code, "first": first, "last": last,
                                                             "limit": limit})
        return [UsageRow(bucket=bucket, key_id=r["owner_id"], usage=_totals(r, with_cost=True)) for r in rows]

    def model_usage_by_day(self, start_day: Any, end_day: Any) -> list[UsageRow]:
        """Usage and cost per model per day across all keys, summed from the key-and-model day rows."""
        first, last = rules.check_day("start_day", start_day), rules.check_day("end_day", end_day)
        rules.check_range(first, last)
        rows = self._pool.fetchall(SELECT_MODEL_DAYS, {"first": first, "last": last})
        return [UsageRow(bucket=r["bucket"], model=_model(r["model"]), usage=_totals(r, with_cost=True))
                for r in rows]
