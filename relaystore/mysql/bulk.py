"""Multi-row INSERT for bulk copies: PyMySQL's executemany() with a cheaper value escaper.

PyMySQL escapes each value through a generic type dispatch; a migration escapes millions of them
(an API-key row has 52), and that dispatch was a third of the copy's time. For str, int, bool and
None the literal is one expression, and for a finite Decimal PyMySQL's own `format(value, "f")`;
every other type (datetime, float, bytes) still goes through PyMySQL's own escape. The statements
are the ones executemany() would send, split at the same max_stmt_length (tests/mysql/test_bulk.py
checks every literal against PyMySQL's). MySQLPool.batch() renders its parameters with it too.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pymysql.constants import SERVER_STATUS
from pymysql.converters import escape_string
from pymysql.cursors import RE_INSERT_VALUES

_NAMED = re.compile(r"%\((\w+)\)s")


@lru_cache(maxsize=256)
def _positional(values: str) -> tuple[str, tuple[str, ...]]:
    """A VALUES template with %(name)s placeholders as one with %s, and the names in order."""
    return _NAMED.sub("%s", values), tuple(_NAMED.findall(values))


def literal_function(conn: Any) -> Callable[[Any], str]:
    """The SQL literal of a value for this connection (its charset and NO_BACKSLASH_ESCAPES mode)."""
    escape = conn.escape
    if conn.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES:
        return escape   # quotes are doubled instead: leave it to PyMySQL

    def literal(value: Any) -> str:
        kind = type(value)
        if kind is str:
            return "'" + escape_string(value) + "'"
        if value is None:
            return "NULL"
        if kind is int:
            return str(value)
        if kind is bool:
            return "1" if value else "0"
        if kind is Decimal and value.is_finite():
            return format(value, "f")   # PyMySQL's Decimal2Literal
        return escape(value)

    return literal


def executemany(cur: Any, query: str, rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]]) -> int:
    """cur.executemany(query, rows) for an INSERT ... VALUES (...) [ON DUPLICATE KEY UPDATE ...]."""
    if not rows:
        return 0
    match = RE_INSERT_VALUES.match(query)
    if match is None:
        raise ValueError("bulk.executemany needs an INSERT ... VALUES (...) statement")
    conn = cur.connection
    literal = literal_function(conn)
    encoding = conn.encoding
    prefix = (match.group(1) % ()).encode(encoding)
    values = match.group(2).rstrip()
    postfix = ((match.group(3) or "") % ()).encode(encoding)
    limit = cur.max_stmt_length
    positional, names = _positional(values)
    affected = 0
    sql = bytearray(prefix)
    first = True
    for row in rows:
        if isinstance(row, Mapping):
            text = positional % tuple([literal(row[name]) for name in names])
        else:
            text = values % tuple([literal(value) for value in row])
        chunk = text.encode(encoding)
        if not first and len(sql) + len(chunk) + len(postfix) + 1 > limit:
            affected += cur.execute(bytes(sql + postfix))
            sql = bytearray(prefix)
            first = True
        if not first:
            sql += b","
        sql += chunk
        first = False
    affected += cur.execute(bytes(sql + postfix))
    return affected
