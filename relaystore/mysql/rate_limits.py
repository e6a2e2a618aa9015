"""Rate-limit windows on MySQL: one rate_limit_windows row per key standing for upstream's four keys (§6).

check_and_increment() is one round trip: a READ COMMITTED transaction that creates or locks the
key's row (INSERT ... ON DUPLICATE KEY UPDATE), restarts the window when it is missing, past its
expiry (upstream's PX) or older than the window now configured (upstream's `now - start >= window`),
picks the blocking reason in upstream's order, and counts the request only when none applies.
Concurrent checks of one key queue on its row, so the last free slot goes to exactly one of them.
Times are the database's clock; cost is DECIMAL and added exactly (parameters are cast from text).
"""
from __future__ import annotations

from datetime import timedelta, timezone
from decimal import Decimal

from .. import limit_rules as rules
from ..records import RateLimitResult, RateLimitWindow
from .batches import run_batch
from .pool import MySQLPool

_MAX_COST = "CAST(%(max_cost)s AS DECIMAL(24,10))"

# The upsert creates a fresh window or locks the existing row; the UPDATE restarts a window that
# is past its expiry or older than the configured window (its WHERE reads the old values, and one
# statement sees one UTC_TIMESTAMP). The request counts only when no reason blocks it.
CHECK_RATE_LIMIT = f"""
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
START TRANSACTION;
INSERT INTO rate_limit_windows (key_id, window_start, expires_at, requests, tokens, cost)
    VALUES (%(key_id)s, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL %(window_us)s MICROSECOND, 0, 0, 0)
    ON DUPLICATE KEY UPDATE key_id = key_id;
UPDATE rate_limit_windows
    SET requests = 0, tokens = 0, cost = 0, window_start = UTC_TIMESTAMP(3),
        expires_at = UTC_TIMESTAMP(3) + INTERVAL %(window_us)s MICROSECOND
    WHERE key_id = %(key_id)s
      AND (expires_at <= UTC_TIMESTAMP(3) OR window_start <= UTC_TIMESTAMP(3) - INTERVAL %(window_us)s MICROSECOND);
SET @rs_reason = (SELECT CASE
        WHEN %(max_requests)s > 0 AND requests >= %(max_requests)s THEN 'requests'
        WHEN %(max_tokens)s > 0 AND tokens >= %(max_tokens)s THEN 'tokens'
        WHEN %(max_tokens)s <= 0 AND {_MAX_COST} > 0 AND cost >= {_MAX_COST} THEN 'cost'
    END FROM rate_limit_windows WHERE key_id = %(key_id)s);
UPDATE rate_limit_windows SET requests = requests + 1 WHERE key_id = %(key_id)s AND @rs_reason IS NULL;
SELECT @rs_reason AS reason, requests, tokens, cost, window_start
    FROM rate_limit_windows WHERE key_id = %(key_id)s;
COMMIT
"""

# Step 4, after the response: only a live window counts it (a relative write: never re-sent).
ADD_RATE_LIMIT_USAGE = """
    UPDATE rate_limit_windows
    SET tokens = tokens + %(tokens)s, cost = cost + CAST(%(cost)s AS DECIMAL(24,10))
    WHERE key_id = %(key_id)s AND expires_at > UTC_TIMESTAMP(3)
"""

SELECT_RATE_LIMIT_WINDOW = """
    SELECT requests, tokens, cost, window_start FROM rate_limit_windows
    WHERE key_id = %(key_id)s AND expires_at > UTC_TIMESTAMP(3)
      AND window_start > UTC_TIMESTAMP(3) - INTERVAL %(window_us)s MICROSECOND
"""

DELETE_RATE_LIMIT_WINDOW = "DELETE FROM rate_limit_windows WHERE key_id = %(key_id)s"


def _text(value: object) -> str | None:
    """A user variable read back from the server (str, or bytes for some server/charset combinations)."""
    if isinstance(value, (bytes, bytearray)):
        return value.decode("ascii")
    return None if value is None else str(value)


class MySQLRateLimits:
    """store.rate_limits on MySQL (see module docstring)."""

    def __init__(self, pool: MySQLPool) -> None:
        self.pool = pool

    def check_and_increment(self, key_id: str, *, window_minutes: float, max_requests: int = 0,
                            max_tokens: int = 0, max_cost: float = 0.0) -> RateLimitResult:
        """Upstream's steps 1-3 as one transaction: restart the window if due, check, count the request."""
        window = rules.window_ms(window_minutes)
        params = {"key_id": rules.check_id("key_id", key_id), "window_us": window * 1000,
                  "max_requests": rules.check_count("max_requests", max_requests),
                  "max_tokens": rules.check_count("max_tokens", max_tokens),
                  "max_cost": rules.decimal_text(rules.check_cost("max_cost", max_cost))}
        results = run_batch(self.pool, CHECK_RATE_LIMIT, params)
        row = next(rows[0] for rows in results if rows and "window_start" in rows[0])
        reason = _text(row["reason"])
        window_start = row["window_start"].replace(tzinfo=timezone.utc)
        return RateLimitResult(
            allowed=reason is None, reason=reason, requests=int(row["requests"]), tokens=int(row["tokens"]),
            cost=float(row["cost"]), window_start=window_start,
            reset_at=window_start + timedelta(milliseconds=window))

    def add_usage(self, key_id: str, *, tokens: int = 0, cost: float = 0.0) -> bool:
        """Step 4, after the response: add tokens and rated cost to the live window; False if none is live."""
        params = {"key_id": rules.check_id("key_id", key_id), "tokens": rules.check_count("tokens", tokens),
                  "cost": rules.decimal_text(rules.check_cost("cost", cost))}
        if tokens == 0 and cost == 0:
            return False
        with self.pool.write_cursor() as cur:
            return bool(cur.execute(ADD_RATE_LIMIT_USAGE, params) == 1)

    def current(self, key_id: str, *, window_minutes: float) -> RateLimitWindow | None:
        """The live window's counters, or None when there is none (missing, or older than the window)."""
        window = rules.window_ms(window_minutes)
        row = self.pool.fetchone(SELECT_RATE_LIMIT_WINDOW,
                                 {"key_id": rules.check_id("key_id", key_id), "window_us": window * 1000})
        if row is None:
            return None
        window_start = row["window_start"].replace(tzinfo=timezone.utc)
        return RateLimitWindow(requests=int(row["requests"]), tokens=int(row["tokens"]),
                               cost=float(Decimal(row["cost"])), window_start=window_start,
                               reset_at=window_start + timedelta(milliseconds=window))

    def reset(self, key_id: str) -> None:
        """End the key's window now (the next check starts a new one)."""
        with self.pool.cursor() as cur:
            cur.execute(DELETE_RATE_LIMIT_WINDOW, {"key_id": rules.check_id("key_id", key_id)})
