"""Shared base for families whose Redis keys carry a TTL (sessions, sticky mappings, request details).

A record is the key's decoded value plus its absolute expiry as Redis holds it (migrate/ttl.py:
the same instant on every copy), stored in the row's expires_at (mysql/expiry.py) and re-armed
with PEXPIREAT by write_redis, so a rollback an hour later gives each key an hour less, as Redis
would have.

Subclasses say how one value maps (decode_value, compare_values, queue_value); KeyedTableFamily
adds the MySQL side for the usual shape, one row per key in a table keyed by the key's variable
part. `secret_prefix` makes label() redact that part when it is a bearer token.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from ...errors import DataError
from ...mysql import bulk, expiry
from ...mysql.pool import MySQLPool
from ...redis.keys import Keys
from .. import ttl
from ..family import Family
from .rows import key_pages

T = TypeVar("T")
SHOWN_SECRET_CHARS = 6


@dataclass(frozen=True, slots=True)
class Expiring(Generic[T]):
    """One key's record: its relative key, its decoded value and when it expires (aware UTC, or None)."""

    key: str
    value: T
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Parsed(Generic[T]):
    """A JSON string value kept verbatim (copied and rolled back byte for byte) with its parsed record."""

    text: str
    record: T


def redact_tail(key: str, prefix: str) -> str:
    """`prefix` + the first few characters of the secret that follows it + "…" (enough to SCAN for it)."""
    secret = key[len(prefix):]
    shown = min(SHOWN_SECRET_CHARS, len(secret) // 4)
    return f"{prefix}{secret[:shown]}…"


class ExpiringFamily(Family, Generic[T]):
    """A family of TTL'd keys; records are Expiring[T]. See the module docstring."""

    needs_ttl = True
    # When set, the part of the key after this prefix is a secret (a session token): label() redacts it.
    secret_prefix: str | None = None
    # False when the table's expires_at is NOT NULL (upstream always sets a TTL on these keys).
    ttl_optional = False

    def label(self, key: str) -> str:
        if self.secret_prefix is not None and key.startswith(self.secret_prefix):
            return redact_tail(key, self.secret_prefix)
        return key

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> Expiring[T]:
        expires_at = ttl.aware_utc(ttl.expiry_of(expire_at_ms))
        if expires_at is None and not self.ttl_optional:
            raise DataError(f"{self.label(key)}: the key has no TTL (upstream always sets one); "
                            "EXPIRE it or delete it")
        return Expiring(key, self.decode_value(key, value), expires_at)

    def decode_value(self, key: str, value: Any) -> T:
        """The record a key's value holds; DataError names self.label(key) and the field."""
        raise NotImplementedError

    def key_of(self, record: Expiring[T]) -> str:
        return record.key

    def compare(self, redis_record: Expiring[T], mysql_record: Expiring[T]) -> list[str]:
        diff = self.compare_values(redis_record.value, mysql_record.value)
        if not ttl.same_expiry(redis_record.expires_at, mysql_record.expires_at):
            diff.append("expires_at")
        return diff

    def compare_values(self, a: T, b: T) -> list[str]:
        """Names of the value's fields that differ; default: whole-value equality."""
        return [] if a == b else ["value"]

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[Expiring[T]]) -> None:
        for record in records:
            self.queue_value(pipe, k, record)
            ttl.queue_expiry(pipe, k.prefix + record.key, record.expires_at)

    def queue_value(self, pipe: Any, k: Keys, record: Expiring[T]) -> None:
        """Queue upstream's write of the value (without its TTL: write_redis arms that)."""
        raise NotImplementedError


class KeyedTableFamily(ExpiringFamily[T]):
    """Keys `key_prefix + id` <-> rows of `table` keyed by `key_column` = id, with `columns` and expires_at.

    Subclasses set the four names and map values with to_row()/from_row(); the SQL comes from
    mysql/expiry.py's builders (multi-row upsert through bulk.executemany, keyset pagination).
    """

    table: str = ""
    key_column: str = ""
    key_prefix: str = ""
    columns: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.tables = (self.table,)
        self.upsert_sql = expiry.upsert_rows_sql(self.table, self.key_column, self.columns)
        self.select_sql = expiry.select_rows_sql(self.table, self.key_column, self.columns)
        self.keys_sql = expiry.keys_after_sql(self.table, self.key_column)
        self.delete_sql = expiry.delete_rows_sql(self.table, self.key_column)

    def to_row(self, record: Expiring[T]) -> dict[str, Any]:
        """The `columns` of a record's row (the key column and expires_at are added here)."""
        raise NotImplementedError

    def from_row(self, key: str, row: dict[str, Any]) -> T:
        """The value a row holds (DataError names self.label(key))."""
        raise NotImplementedError

    def _id(self, key: str) -> str:
        return key[len(self.key_prefix):]

    def check(self, record: Expiring[T], checker: Any) -> None:
        row = {self.key_column: self._id(record.key), **self.to_row(record)}
        checker.check(self.table, row, self.label(record.key))

    def write_mysql(self, cur: Any, records: Sequence[Expiring[T]]) -> None:
        bulk.executemany(cur, self.upsert_sql, [
            {self.key_column: self._id(r.key), **self.to_row(r), "expires_at": ttl.naive_utc(r.expires_at)}
            for r in records])

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        if keys:
            cur.execute(self.delete_sql.format(keys=expiry.placeholders(len(keys))), [self._id(k) for k in keys])

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        return key_pages(pool, self.keys_sql, "k", self.key_prefix, batch_size)

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, Expiring[T]]:
        ids = [self._id(k) for k in keys if k.startswith(self.key_prefix)]
        if not ids:
            return {}
        rows = pool.fetchall(self.select_sql.format(keys=expiry.placeholders(len(ids))), ids)
        out: dict[str, Expiring[T]] = {}
        for row in rows:
            key = self.key_prefix + row[self.key_column]
            out[key] = Expiring(key, self.from_row(key, row), ttl.aware_utc(row["expires_at"]))
        return out
