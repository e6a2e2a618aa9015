"""Rate-limit windows (§6): the four `rate_limit:{part}:{keyId}` STRING keys <-> one rate_limit_windows row.

Each Redis key is one record (one column of the row), so copies of the four keys stay independent,
as dual-mode writes and the copy-sequence guard need. window_start carries the window's PX as the
row's expires_at; the counters share it (upstream sets all four with one PX). A row whose window_start
key is absent holds window_start = 1970-01-01: its non-zero counters are upstream's TTL-less leftovers
(INCRBY/INCRBYFLOAT after the window ended) and come back without a TTL; MySQL reads it as no window.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ... import limit_rules as rules
from ...errors import DataError, InvalidInput
from ...mysql import bulk
from ...mysql.pool import MySQLPool
from ...redis.keys import Keys
from .. import ttl
from ..family import Family, KeySource
from .concurrency_queues import whole_number
from .rows import pages
from .rows import placeholders as _in

PARTS = ("window_start", "requests", "tokens", "cost")
COUNTERS = PARTS[1:]
KEY_RE = re.compile(r"rate_limit:(window_start|requests|tokens|cost):(.+)", re.DOTALL)
_BIGINT = 2 ** 63 - 1
_COST_SCALE = Decimal("1e-10")                   # rate_limit_windows.cost DECIMAL(24,10)
_COST_MAX = Decimal(10) ** 14
NO_WINDOW = ttl.EPOCH                         # window_start and expires_at of a row without a window key


@dataclass(frozen=True, slots=True)
class RateLimitPart:
    """One rate_limit:{part}:{keyId} key: window start (epoch ms) or counter value, and its expiry."""

    key_id: str
    part: str
    value: int | Decimal
    expires_at: datetime


UPSERT_WINDOW_START = f"""
    INSERT INTO rate_limit_windows (key_id, window_start, expires_at) VALUES (%s, %s, %s)
    ON DUPLICATE KEY UPDATE window_start = VALUES(window_start), {ttl.keep_close('expires_at')}
"""
# A counter arriving before its window_start key creates the row without a window.
UPSERT_COUNTER = """
    INSERT INTO rate_limit_windows (key_id, window_start, expires_at, {column}) VALUES (%s, %s, %s, %s)
    ON DUPLICATE KEY UPDATE {column} = VALUES({column})
"""
CLEAR_WINDOW_START = "UPDATE rate_limit_windows SET window_start = %s, expires_at = %s WHERE key_id IN ({ids})"
CLEAR_COUNTER = "UPDATE rate_limit_windows SET {column} = 0 WHERE key_id IN ({ids})"
DELETE_EMPTY_WINDOWS = """
    DELETE FROM rate_limit_windows
    WHERE key_id IN ({ids}) AND window_start = %s AND requests = 0 AND tokens = 0 AND cost = 0
"""
SELECT_WINDOW_PAGE = """
    SELECT key_id, window_start, expires_at, requests, tokens, cost FROM rate_limit_windows
    WHERE key_id > %(after)s ORDER BY key_id LIMIT %(limit)s
"""
SELECT_WINDOWS = """
    SELECT key_id, window_start, expires_at, requests, tokens, cost FROM rate_limit_windows WHERE key_id IN ({ids})
"""


def cost_text(value: Decimal) -> str:
    """The cost as INCRBYFLOAT writes it: plain decimal, no trailing zeros ("0", "1.5", "100")."""
    return format(value.normalize(), "f") if value else "0"


def parts_of_row(row: dict[str, Any], now: datetime) -> list[RateLimitPart]:
    """The Redis keys a row stands for: all four while its window lives; its non-zero counters without TTL
    when it has no window key; nothing once the window expired."""
    key_id = row["key_id"]
    values = {"requests": int(row["requests"]), "tokens": int(row["tokens"]), "cost": Decimal(row["cost"])}
    if row["window_start"] == NO_WINDOW:
        return [RateLimitPart(key_id, part, values[part], ttl.NEVER) for part in COUNTERS if values[part]]
    if row["expires_at"] <= now:
        return []
    values["window_start"] = ttl.to_ms(row["window_start"])
    return [RateLimitPart(key_id, part, values[part], row["expires_at"]) for part in PARTS]


class RateLimitsFamily(Family):
    name = "rate_limits"
    sources = (KeySource(type="string", match="rate_limit:*", regex=KEY_RE),)
    tables = ("rate_limit_windows",)
    needs_ttl = True

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> RateLimitPart:
        match = KEY_RE.fullmatch(key)
        assert match is not None
        part, key_id = match.groups()
        try:
            rules.check_id("key id", key_id)
        except InvalidInput as exc:
            raise DataError(f"{key}: {exc}") from None
        number: int | Decimal
        if part == "cost":
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise DataError(f"{key}: value is not a number") from None
            if not number.is_finite() or not 0 <= number < _COST_MAX:
                raise DataError(f"{key}: value is not a cost MySQL can hold (0 to 10^14 USD)")
            number = number.quantize(_COST_SCALE)
        elif part == "window_start":
            number = whole_number(key, value, "value", 1, ttl.to_ms(ttl.NEVER) - 1)
        else:
            number = whole_number(key, value, "value", 0, _BIGINT)
        return RateLimitPart(key_id, part, number, ttl.expiry_of(expire_at_ms) or ttl.NEVER)

    def key_of(self, record: RateLimitPart) -> str:
        return f"rate_limit:{record.part}:{record.key_id}"

    def write_mysql(self, cur: Any, records: Sequence[RateLimitPart]) -> None:
        records = sorted(records, key=lambda r: (r.key_id, PARTS.index(r.part)))
        starts = [(r.key_id, ttl.from_ms(int(r.value)), r.expires_at) for r in records if r.part == "window_start"]
        bulk.executemany(cur, UPSERT_WINDOW_START, starts)
        for column in COUNTERS:
            rows = [(r.key_id, NO_WINDOW, NO_WINDOW, r.value) for r in records if r.part == column]
            bulk.executemany(cur, UPSERT_COUNTER.format(column=column), rows)

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        by_part: dict[str, list[str]] = {}
        for key in keys:
            match = KEY_RE.fullmatch(key)
            if match:
                by_part.setdefault(match.group(1), []).append(match.group(2))
        for part, ids in by_part.items():
            ids.sort()
            if part == "window_start":
                cur.execute(CLEAR_WINDOW_START.format(ids=_in(len(ids))), [NO_WINDOW, NO_WINDOW, *ids])
            else:
                cur.execute(CLEAR_COUNTER.format(column=part, ids=_in(len(ids))), ids)
        ids = sorted({i for group in by_part.values() for i in group})
        if ids:
            cur.execute(DELETE_EMPTY_WINDOWS.format(ids=_in(len(ids))), [*ids, NO_WINDOW])

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        for rows in pages(pool, SELECT_WINDOW_PAGE, batch_size, "key_id"):
            now = ttl.from_ms(ttl.now_ms())
            keys = [self.key_of(p) for row in rows for p in parts_of_row(row, now)]
            if keys:
                yield keys

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, RateLimitPart]:
        wanted = set(keys)
        ids = sorted({m.group(2) for m in map(KEY_RE.fullmatch, keys) if m})
        if not ids:
            return {}
        now = ttl.from_ms(ttl.now_ms())
        out = {}
        for row in pool.fetchall(SELECT_WINDOWS.format(ids=_in(len(ids))), ids):
            for part in parts_of_row(row, now):
                key = self.key_of(part)
                if key in wanted:
                    out[key] = part
        return out

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[RateLimitPart]) -> None:
        for record in records:
            if not ttl.live(record.expires_at):
                continue   # the window ended since it was read
            full = k.prefix + self.key_of(record)
            text = cost_text(record.value) if record.part == "cost" else str(record.value)   # type: ignore[arg-type]
            pipe.set(full, text)
            ttl.queue_expiry(pipe, full, record.expires_at)

    def compare(self, redis_record: RateLimitPart, mysql_record: RateLimitPart) -> list[str]:
        diff = []
        if redis_record.value != mysql_record.value:
            diff.append("value")
        if not ttl.same_expiry(redis_record.expires_at, mysql_record.expires_at):
            diff.append("ttl")
        return diff
