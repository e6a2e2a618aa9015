"""TTL semantics on MySQL: the registry of expiring tables, the read filter, the purge routine.

Upstream keeps sessions, sticky mappings and request details under Redis TTLs. On MySQL each
such row carries `expires_at DATETIME(3)` (UTC; NULL = never):
- writes compute it on the server (`EXPIRES_AT`: UTC_TIMESTAMP(3) + the TTL), reads keep only
  `LIVE` rows, both on the database's clock, so clients with skewed clocks agree;
- `purge_expired()` (`relaystore db purge-expired`) deletes expired rows in batches of
  `batch_size`, oldest first, through each table's ix_<table>_expires index. It is safe at any
  time: it touches only rows no read can return, each batch commits on its own, and a concurrent
  purge or write merely finds fewer rows.

Other families register their expiring tables by appending to EXPIRING (or calling register()).
"""
from __future__ import annotations

import re

from ..errors import InvalidInput
from .pool import MySQLPool

# (table, expires-at column) of every table whose rows expire; appended to by other families.
EXPIRING: list[tuple[str, str]] = [
    ("user_sessions", "expires_at"),
    ("admin_sessions", "expires_at"),
    ("admin_credentials", "expires_at"),
    ("oauth_sessions", "expires_at"),
    ("sticky_sessions", "expires_at"),
    ("request_details", "expires_at"),
    ("account_state", "expires_at"),
    ("account_test_results", "expires_at"),
]

# The read filter every query of an expiring table carries (database clock, not the client's).
LIVE = "(expires_at IS NULL OR expires_at > UTC_TIMESTAMP(3))"

# The value writes store: now on the server plus %(ttl_ms)s milliseconds.
EXPIRES_AT = "DATE_ADD(UTC_TIMESTAMP(3), INTERVAL %(ttl_ms)s * 1000 MICROSECOND)"

DEFAULT_BATCH_SIZE = 1000
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

SELECT_EXISTING_TABLES = """
    SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()
"""

# One batch, oldest first, through ix_<table>_expires. Table and column come from EXPIRING
# (checked identifiers), never from input; the batch size is a bound parameter.
DELETE_EXPIRED = "DELETE FROM {table} WHERE {column} <= UTC_TIMESTAMP(3) ORDER BY {column} LIMIT %(limit)s"


def register(table: str, column: str = "expires_at") -> None:
    """Add an expiring table to the purge (idempotent)."""
    for name in (table, column):
        if not _IDENTIFIER.fullmatch(name):
            raise InvalidInput(f"{name!r} is not a plain lower-case SQL identifier")
    if (table, column) not in EXPIRING:
        EXPIRING.append((table, column))


def purge_expired(pool: MySQLPool, *, batch_size: int = DEFAULT_BATCH_SIZE,
                  max_batches: int | None = None) -> dict[str, int]:
    """Delete every expired row, batch by batch; returns rows deleted per table.

    Tables of the registry that this database lacks (an older schema) are skipped and reported
    as -1. `max_batches` bounds the work per table for a purge run from a busy hot path.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInput("batch_size must be a positive whole number")
    existing = {row["name"] for row in pool.fetchall(SELECT_EXISTING_TABLES)}
    counts: dict[str, int] = {}
    for table, column in EXPIRING:
        if not (_IDENTIFIER.fullmatch(table) and _IDENTIFIER.fullmatch(column)):
            raise InvalidInput(f"expiring table {table!r}.{column!r} is not a plain identifier")
        if table not in existing:
            counts[table] = -1
            continue
        sql = DELETE_EXPIRED.format(table=table, column=column)
        deleted = batches = 0
        while max_batches is None or batches < max_batches:
            # Autocommit per batch: short lock holds, and re-sending a lost DELETE of expired
            # rows is harmless (it deletes the same kind of rows, or none).
            with pool.cursor() as cur:
                n = cur.execute(sql, {"limit": batch_size})
            deleted += n
            batches += 1
            if n < batch_size:
                break
        counts[table] = counts.get(table, 0) + deleted
    return counts


# --- batch statements for tables keyed by one column (the migration's families) ----------------------
# Built once at import from a family's code constants (checked identifiers), never from input. The
# upsert writes expires_at as given: the absolute instant Redis holds for the key (PEXPIRETIME), the
# same on every copy. Only on a Redis without PEXPIRETIME (before 7.0) is it the copier's clock plus the
# key's PTTL, which wobbles by a few milliseconds between copies: keep_close() then keeps a stored
# expiry within COPY_JITTER_MS of the new one, so a re-run changes no row (with exact expiries the two
# are equal and it is a plain assignment). Reads and key listings keep LIVE rows only; deletes take every row.

# How far apart two copies' expiries of one unchanged key can be (PTTL fallback only: clock + latency).
COPY_JITTER_MS = 1000


def keep_close(column: str = "expires_at") -> str:
    """ON DUPLICATE KEY UPDATE assignment of an expiry column: the new value unless within COPY_JITTER_MS
    of the stored one (NULL on either side: the new value). Put it last: it reads the old value."""
    _checked(column)
    return (f"{column} = IF(ABS(TIMESTAMPDIFF(MICROSECOND, {column}, VALUES({column}))) < {COPY_JITTER_MS * 1000},"
            f" {column}, VALUES({column}))")


def _checked(*names: str) -> None:
    for name in names:
        if not _IDENTIFIER.fullmatch(name):
            raise InvalidInput(f"{name!r} is not a plain lower-case SQL identifier")


def upsert_rows_sql(table: str, key_column: str, columns: tuple[str, ...]) -> str:
    """Multi-row absolute upsert (bulk.executemany) of key_column, columns and expires_at."""
    names = (key_column, *columns, "expires_at")
    _checked(table, *names)
    return (f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(f'%({n})s' for n in names)})"
            f" ON DUPLICATE KEY UPDATE {', '.join(f'{n} = VALUES({n})' for n in columns)}, {keep_close()}")


def select_rows_sql(table: str, key_column: str, columns: tuple[str, ...]) -> str:
    """Live rows of a batch of keys; `{keys}` is filled with one placeholder per key."""
    _checked(table, key_column, *columns)
    return (f"SELECT {', '.join((key_column, *columns, 'expires_at'))} FROM {table}"
            f" WHERE {key_column} IN ({{keys}}) AND {LIVE}")


def keys_after_sql(table: str, key_column: str) -> str:
    """One page of live keys in primary-key order after %(after)s (keyset pagination).

    FORCE INDEX: with most rows live the optimizer otherwise ranges over ix_<table>_expires and
    sorts every live row for each page, which makes a listing quadratic in the table's size."""
    _checked(table, key_column)
    return (f"SELECT {key_column} AS k FROM {table} FORCE INDEX (PRIMARY) WHERE {key_column} > %(after)s AND {LIVE}"
            f" ORDER BY {key_column} LIMIT %(limit)s")


def delete_rows_sql(table: str, key_column: str) -> str:
    """Every row (live or expired) of a batch of keys; `{keys}` as in select_rows_sql."""
    _checked(table, key_column)
    return f"DELETE FROM {table} WHERE {key_column} IN ({{keys}})"


def placeholders(n: int) -> str:
    """`%s, %s, ...` for an IN list of n values."""
    return ", ".join(["%s"] * n)
