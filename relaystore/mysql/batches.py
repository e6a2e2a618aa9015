"""Helpers for one-round-trip transactions sent with pool.batch() (leases, queues, rate limits)."""
from __future__ import annotations

from typing import Any

from .pool import MySQLPool, retry_rolled_back


def run_batch(pool: MySQLPool, sql: str, params: Any, *, attempts: int = 3) -> list[list[dict[str, Any]]]:
    """pool.batch(), re-run after a deadlock or lock-wait timeout (the server rolled it all back)."""
    return retry_rolled_back(lambda: pool.batch(sql, params), attempts=attempts, backoff=0.002)


def batch_value(results: list[list[dict[str, Any]]], column: str) -> Any:
    """The value of `column` in the first row of the batch's only result set that has it."""
    for rows in results:
        if rows and column in rows[0]:
            return rows[0][column]
    raise AssertionError(f"batch returned no {column!r} column")
