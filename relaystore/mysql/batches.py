"""Helpers for one-round-trip transactions sent with pool.batch() (leases, queues, rate limits)."""
from __future__ import annotations

import time
from typing import Any

from ..errors import Conflict
from .pool import RETRYABLE_TRANSACTION_ERRORS, MySQLPool


def run_batch(pool: MySQLPool, sql: str, params: dict[str, Any], *, attempts: int = 3) -> list[list[dict[str, Any]]]:
    """pool.batch(), re-run after a deadlock or lock-wait timeout (the server rolled it all back)."""
    for attempt in range(1, attempts + 1):
        try:
            return pool.batch(sql, params)
        except Conflict as exc:
            cause = exc.__cause__
            code = cause.args[0] if cause is not None and cause.args else None
            if code not in RETRYABLE_TRANSACTION_ERRORS or attempt == attempts:
                raise
            time.sleep(0.002 * attempt)
    raise AssertionError("unreachable")


def batch_value(results: list[list[dict[str, Any]]], column: str) -> Any:
    """The value of `column` in the first row of the batch's only result set that has it."""
    for rows in results:
        if rows and column in rows[0]:
            return rows[0][column]
    raise AssertionError(f"batch returned no {column!r} column")
