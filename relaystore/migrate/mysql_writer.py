"""Write side of a copy into MySQL: one READ COMMITTED transaction per batch, the copy-sequence guard,
and column limit checks that turn "Data too long" into a DataError naming the Redis key.

The guard (migration_sync) is what makes copies safe while the relay keeps writing (dual mode):
each batch was read from Redis together with an INCR'd sequence number, and the batch's
INSERT ... ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq)) row-locks every key it
copies until COMMIT. Two copies of one key therefore serialize on that row, and a copy that
finds a larger number there (a newer read of the key already committed) leaves the key alone.
READ COMMITTED keeps InnoDB from taking gap locks (the DELETE of tag rows by key id would
otherwise lock neighbouring keys' ranges and deadlock concurrent copies).

The records themselves are written by each family's write_mysql() with its DAO's own upsert (for
API keys mysql/api_keys.py UPSERT_API_KEY: an executemany() of a plain INSERT ... VALUES (...)
ON DUPLICATE KEY UPDATE col = VALUES(col), which PyMySQL sends as multi-row statements).
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from decimal import Decimal
from typing import Any, TypeVar

from ..errors import DataError
from ..mysql import bulk
from ..mysql.pool import MySQLPool, retry_rolled_back

T = TypeVar("T")


def key_digest(key: str) -> bytes:
    """migration_sync's primary key for a relative Redis key name."""
    return hashlib.sha1(key.encode("utf-8", "surrogateescape")).digest()


# Strict mode whatever the server's default: a value that does not fit is refused (and reported
# with its key), never truncated. Then READ COMMITTED for the one transaction that follows.
BEGIN_COPY = """
    SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES');
    SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
    START TRANSACTION
"""


@contextmanager
def copy_transaction(pool: MySQLPool) -> Iterator[Any]:
    """START TRANSACTION at READ COMMITTED, strict mode ... COMMIT; ROLLBACK on error; never re-sent."""
    with pool.write_cursor() as cur:
        cur.execute(BEGIN_COPY)
        while cur.nextset():
            pass
        try:
            yield cur
        except BaseException:
            with suppress(Exception):  # a dead connection has nothing left to roll back
                cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")


def retry_deadlocks(work: Callable[[], T], *, attempts: int = 5) -> T:
    """Run `work` again after a deadlock or lock wait timeout (the transaction was rolled back whole)."""
    return retry_rolled_back(work, attempts=attempts, backoff=0.01)


# Claim these keys for a copy read at `seq`; the row lock is held until the batch commits.
UPSERT_MIGRATION_SYNC = """
    INSERT INTO migration_sync (key_digest, family, seq) VALUES (%s, %s, %s)
    ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq))
"""

# Keys a newer read has already been copied for; {digests} is a run of %s placeholders.
SELECT_NEWER_MIGRATION_SYNCS = "SELECT key_digest FROM migration_sync WHERE key_digest IN ({digests}) AND seq > %s"


def guard(cur: Any, family: str, keys: Sequence[str], seq: int) -> set[str]:
    """Claim `keys` for a copy read at `seq`; return those a newer copy already owns (leave them alone)."""
    if not keys:
        return set()
    digests = {key_digest(k): k for k in keys}
    bulk.executemany(cur, UPSERT_MIGRATION_SYNC, [(d, family, seq) for d in digests])
    cur.execute(SELECT_NEWER_MIGRATION_SYNCS.format(digests=", ".join(["%s"] * len(digests))),
                [*digests, seq])
    return {digests[bytes(row["key_digest"])] for row in cur.fetchall()}


SELECT_COLUMNS = """
    SELECT TABLE_NAME AS tbl, COLUMN_NAME AS col, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type,
           CHARACTER_MAXIMUM_LENGTH AS max_chars, CHARACTER_OCTET_LENGTH AS max_bytes,
           NUMERIC_PRECISION AS num_precision, NUMERIC_SCALE AS num_scale, IS_NULLABLE AS nullable,
           CHARACTER_SET_NAME AS charset
    FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
"""

_INT_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "bigint": 64}
_TEXT_TYPES = {"tinytext", "text", "mediumtext", "longtext"}


class ColumnChecker:
    """Checks a row against its table's column types before writing, so one bad value is reported
    with its key instead of failing a whole batch in strict SQL mode. Checks are compiled once per
    column from information_schema (bulk copies check millions of values)."""

    def __init__(self, pool: MySQLPool) -> None:
        self._checks: dict[str, dict[str, Callable[[Any], str | None]]] = {}
        for row in pool.fetchall(SELECT_COLUMNS):
            self._checks.setdefault(row["tbl"], {})[row["col"]] = _compile(row)

    def check(self, table: str, row: dict[str, Any], key: str) -> None:
        """Raise DataError naming `key` and the column when a value cannot be stored; never shows the value."""
        checks = self._checks.get(table)
        if checks is None:
            raise DataError(f"table {table} does not exist: run `relaystore db init`")
        for name, value in row.items():
            check = checks.get(name)
            if check is None:
                raise DataError(f"{table} has no column {name}: run `relaystore db init`")
            problem = check(value)
            if problem is not None:
                raise DataError(f"{key}: value for {table}.{name} {problem}")


def _compile(spec: dict[str, Any]) -> Callable[[Any], str | None]:
    """A check for one column: returns what is wrong with a value, or None."""
    kind = spec["data_type"]
    nullable = spec["nullable"] == "YES"
    max_chars = spec["max_chars"]
    max_bytes = spec["max_bytes"]
    text = kind in _TEXT_TYPES
    ascii_only = spec["charset"] == "ascii"
    if kind in _INT_BITS:
        bits = _INT_BITS[kind]
        low, high = ((0, 2 ** bits - 1) if "unsigned" in spec["column_type"]
                     else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    elif kind == "decimal":
        limit = Decimal(10) ** (spec["num_precision"] - spec["num_scale"])
        float_limit = float(limit)

    def check(value: Any) -> str | None:
        if value is None:
            return None if nullable else "is missing (column is NOT NULL)"
        kind_of = type(value)
        if kind_of is str:
            if ascii_only and not value.isascii():
                return "is not ASCII"
            if text:
                # 4 bytes per character at most: only long texts need encoding to be measured
                if len(value) * 4 > max_bytes and len(value.encode("utf-8", "surrogatepass")) > max_bytes:
                    return f"is longer than {max_bytes} bytes"
            elif max_chars is not None and len(value) > max_chars:
                return f"is longer than {max_chars} characters"
            return None
        if kind_of is bool:
            return None
        if kind_of is int and kind in _INT_BITS:
            return None if low <= value <= high else f"is out of range for {spec['column_type']}"
        if kind == "decimal" and kind_of in (int, float, Decimal):
            if kind_of is float:
                if not math.isfinite(value):
                    return "is not a finite number"
                if abs(value) < float_limit * 0.999:  # clear of the edge: no exact test needed
                    return None
            return None if abs(Decimal(str(value))) < limit else f"is out of range for {spec['column_type']}"
        if kind_of in (bytes, bytearray):
            return None if max_bytes is None or len(value) <= max_bytes else f"is longer than {max_bytes} bytes"
        return None

    return check
