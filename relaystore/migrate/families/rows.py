"""MySQL access the families all repeat: IN-list placeholders and keyset pages over a table's keys."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...mysql.expiry import placeholders
from ...mysql.pool import MySQLPool

__all__ = ["key_pages", "pages", "placeholders"]


def pages(pool: MySQLPool, sql: str, batch_size: int, *columns: str) -> Iterator[list[dict[str, Any]]]:
    """The rows of `sql`, a page at a time, until a page comes back empty (keyset pagination).

    One column: `sql` takes %(after)s, the last page's value of it; several (a composite key): one
    parameter per column, named like it. `sql` also takes %(limit)s and orders by those columns.
    """
    after = {"after": ""} if len(columns) == 1 else dict.fromkeys(columns, "")
    while rows := pool.fetchall(sql, {**after, "limit": batch_size}):
        yield rows
        last = rows[-1]
        after = {"after": last[columns[0]]} if len(columns) == 1 else {c: last[c] for c in columns}


def key_pages(pool: MySQLPool, sql: str, column: str, prefix: str, batch_size: int) -> Iterator[list[str]]:
    """Family.mysql_keys of a table whose `column` is the key's part after `prefix`."""
    for rows in pages(pool, sql, batch_size, column):
        yield [prefix + row[column] for row in rows]
