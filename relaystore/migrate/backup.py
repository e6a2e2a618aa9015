"""`relaystore export` / `relaystore import`: logical JSON-lines backups of a Redis keyspace or MySQL data.

Redis: a header line, then one line per key: {"key" (relative to REDIS_KEY_PREFIX), "type",
"ttl_ms" (-1 = none), "value"}: a string; a hash as an object; a list; a set as a sorted list; a
zset as [[member, score], ...]; a stream as [[id, {field: value}], ...] (consumer groups are not
kept). A key or value that is not UTF-8 puts the whole line in base64 ("encoding": "base64").
The export reads a live keyspace batch by batch: it is exact for a quiet keyspace only (stop the
relay, or use Redis' own RDB snapshot for a point-in-time copy).

MySQL: a header line, then per table {"table", "columns"} and one {"table", "row"} line per row
(binary columns hex, DATETIME ISO, DECIMAL as a string), streamed with a server-side cursor. It
restores into a database made by `relaystore db init` whose data tables are empty.
"""
from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import IO, Any

import pymysql
import pymysql.cursors
import redis

from ..config import Settings
from ..errors import Conflict, DataError, InvalidInput
from ..mysql.pool import connect_args, translate
from ..redis.client import redis_errors
from ..timefmt import to_iso
from .redis_reader import glob_escape, queue_read

REDIS_FORMAT = "relaystore-redis-export"
MYSQL_FORMAT = "relaystore-mysql-export"
FORMAT_VERSION = 1
# Tables db init fills itself; an import may overwrite their rows, every other table must be empty.
SEEDED_TABLES = ("schema_version", "system_settings")
_IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,64}")
_BINARY_TYPES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}


def _now() -> str:
    return to_iso(datetime.now(timezone.utc))


# --- Redis ---------------------------------------------------------------------------------------

def bytes_client(settings: Settings) -> redis.Redis:
    """A client that returns raw bytes (backups must carry any value, not only UTF-8 text)."""
    pool = redis.ConnectionPool.from_url(settings.redis_connection_url(), decode_responses=False,
                                         socket_connect_timeout=5, socket_timeout=30)
    return redis.Redis(connection_pool=pool)


def _value_to_json(kind: str, raw: Any, text: Callable[[bytes], str]) -> Any:
    """The type's JSON form with every bytes item mapped through `text`."""
    if kind == "string":
        return text(raw)
    if kind == "hash":
        return {text(f): text(v) for f, v in sorted(raw.items())}
    if kind == "list":
        return [text(v) for v in raw]
    if kind == "set":
        return sorted(text(v) for v in raw)
    if kind == "zset":
        return [[text(m), s] for m, s in raw]
    if kind == "stream":
        return [[text(i), {text(f): text(v) for f, v in fields.items()}] for i, fields in raw]
    raise ValueError(kind)


def _utf8(b: bytes) -> str:
    return b.decode()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _line(key: bytes, kind: str, pttl: int, raw: Any) -> dict[str, Any]:
    try:
        return {"key": key.decode(), "type": kind, "ttl_ms": pttl, "value": _value_to_json(kind, raw, _utf8)}
    except UnicodeDecodeError:
        return {"key": _b64(key), "type": kind, "ttl_ms": pttl, "encoding": "base64",
                "value": _value_to_json(kind, raw, _b64)}


def export_redis(settings: Settings, out: IO[str], *, batch_size: int = 1000) -> dict[str, int]:
    """Write every key under the prefix to `out`; returns {type: count}."""
    client = bytes_client(settings)
    prefix = settings.redis_key_prefix.encode()
    counts: dict[str, int] = {}
    out.write(json.dumps({"format": REDIS_FORMAT, "version": FORMAT_VERSION, "exported_at": _now(),
                          "prefix": settings.redis_key_prefix}) + "\n")
    try:
        with redis_errors():
            batch: list[bytes] = []
            for full in client.scan_iter(match=glob_escape(settings.redis_key_prefix).encode() + b"*",
                                         count=batch_size):
                batch.append(full)
                if len(batch) >= batch_size:
                    _export_batch(client, prefix, batch, out, counts)
                    batch = []
            if batch:
                _export_batch(client, prefix, batch, out, counts)
    finally:
        client.close()
    return counts


def _export_batch(client: redis.Redis, prefix: bytes, keys: list[bytes], out: IO[str], counts: dict[str, int]) -> None:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    kinds = [k.decode() for k in pipe.execute()]
    wanted = [(key, kind) for key, kind in zip(keys, kinds) if kind != "none"]
    pipe = client.pipeline(transaction=False)
    for key, kind in wanted:
        queue_read(pipe, key, kind)  # type: ignore[arg-type]
        pipe.pttl(key)
    results = pipe.execute(raise_on_error=False)
    for (key, kind), raw, pttl in zip(wanted, results[0::2], results[1::2]):
        if isinstance(raw, Exception) or isinstance(pttl, Exception) or pttl == -2 or raw is None:
            continue  # changed type or expired since the TYPE call: a live keyspace moves
        out.write(json.dumps(_line(key[len(prefix):], kind, int(pttl), raw), ensure_ascii=False) + "\n")
        counts[kind] = counts.get(kind, 0) + 1


def _read_header(lines: Iterator[str], expected: str) -> dict[str, Any]:
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError):
        raise DataError("backup file is empty or not JSON lines") from None
    if not isinstance(header, dict) or header.get("format") != expected:
        found = header.get("format") if isinstance(header, dict) else None
        raise DataError(f"not a {expected} file (its first line says {found!r})")
    if header.get("version") != FORMAT_VERSION:
        raise DataError(f"unsupported backup version {header.get('version')!r}")
    return header


def import_redis(settings: Settings, source: IO[str], *, force: bool = False, batch_size: int = 1000) -> dict[str, int]:
    """Restore an export under the prefix; the keyspace must be empty unless force. Returns {type: count}."""
    client = bytes_client(settings)
    prefix = settings.redis_key_prefix.encode()
    counts: dict[str, int] = {}
    try:
        with redis_errors():
            if not force:
                for _ in client.scan_iter(match=glob_escape(settings.redis_key_prefix).encode() + b"*", count=1000):
                    raise Conflict(f"Redis keyspace {settings.redis_key_prefix!r} is not empty; "
                                   "import into an empty one, or pass --force to write over it")
            lines = (line for line in source if line.strip())
            _read_header(lines, REDIS_FORMAT)
            pipe = client.pipeline(transaction=False)
            pending = 0
            for number, line in enumerate(lines, start=2):
                try:
                    entry = json.loads(line)
                    _queue_restore(pipe, prefix, entry)
                except (ValueError, KeyError, TypeError) as exc:
                    raise DataError(f"backup line {number}: {type(exc).__name__}: not a valid key entry") from None
                counts[entry["type"]] = counts.get(entry["type"], 0) + 1
                pending += 1
                if pending >= batch_size:
                    pipe.execute()
                    pipe = client.pipeline(transaction=False)
                    pending = 0
            pipe.execute()
    finally:
        client.close()
    return counts


def _queue_restore(pipe: Any, prefix: bytes, entry: dict[str, Any]) -> None:
    b = ((lambda s: base64.b64decode(s)) if entry.get("encoding") == "base64"
         else (lambda s: s.encode()))
    key = prefix + b(entry["key"])
    kind, value, ttl = entry["type"], entry["value"], int(entry["ttl_ms"])
    pipe.delete(key)
    if kind == "string":
        pipe.set(key, b(value))
    elif kind == "hash":
        pipe.hset(key, mapping={b(f): b(v) for f, v in value.items()})
    elif kind == "list":
        for start in range(0, len(value), 1000):
            pipe.rpush(key, *[b(v) for v in value[start:start + 1000]])
    elif kind == "set":
        for start in range(0, len(value), 1000):
            pipe.sadd(key, *[b(v) for v in value[start:start + 1000]])
    elif kind == "zset":
        for start in range(0, len(value), 1000):
            pipe.zadd(key, {b(m): float(s) for m, s in value[start:start + 1000]})
    elif kind == "stream":
        for entry_id, fields in value:
            pipe.xadd(key, {b(f): b(v) for f, v in fields.items()}, id=b(entry_id))
    else:
        raise TypeError(f"unknown type {kind!r}")
    if ttl > 0:
        pipe.pexpire(key, ttl)


# --- MySQL ---------------------------------------------------------------------------------------

def _connect(settings: Settings, *, streaming: bool = False) -> pymysql.connections.Connection:
    args = connect_args(settings, database=settings.mysql_database)
    if streaming:
        args["cursorclass"] = pymysql.cursors.SSDictCursor
    try:
        con = pymysql.connect(**args)
        with con.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
        return con
    except pymysql.err.MySQLError as exc:
        raise translate(exc) from exc


# Base tables of the current database and their columns in order; names are checked against
# _IDENTIFIER before being formatted into a statement.
SELECT_TABLE_COLUMNS = """
    SELECT c.TABLE_NAME AS tbl, c.COLUMN_NAME AS col, c.DATA_TYPE AS data_type
    FROM information_schema.COLUMNS c
    JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
    WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
    ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION
"""

# The primary key of each table, so exports come out in a stable order.
SELECT_PRIMARY_KEYS = """
    SELECT TABLE_NAME AS tbl, COLUMN_NAME AS col FROM information_schema.STATISTICS
    WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = 'PRIMARY' ORDER BY TABLE_NAME, SEQ_IN_INDEX
"""


def _tables(cur: Any) -> dict[str, dict[str, str]]:
    """{table: {column: data type}} in column order."""
    cur.execute(SELECT_TABLE_COLUMNS)
    out: dict[str, dict[str, str]] = {}
    for row in cur.fetchall():
        for name in (row["tbl"], row["col"]):
            if not _IDENTIFIER.fullmatch(name):
                raise DataError(f"identifier {name!r} is not a plain name; use mysqldump for this database")
        out.setdefault(row["tbl"], {})[row["col"]] = row["data_type"].lower()
    return out


def _to_json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _from_json(value: Any, data_type: str) -> Any:
    if value is None:
        return None
    if data_type in _BINARY_TYPES:
        return bytes.fromhex(value)
    if data_type in ("datetime", "timestamp"):
        return datetime.fromisoformat(value)
    if data_type == "date":
        return date.fromisoformat(value)
    return value


def export_mysql(settings: Settings, out: IO[str]) -> dict[str, int]:
    """Write every base table's rows to `out`; returns {table: rows}."""
    con = _connect(settings, streaming=True)
    counts: dict[str, int] = {}
    try:
        with con.cursor(pymysql.cursors.DictCursor) as cur:
            tables = _tables(cur)
            cur.execute(SELECT_PRIMARY_KEYS)
            keys: dict[str, list[str]] = {}
            for row in cur.fetchall():
                keys.setdefault(row["tbl"], []).append(row["col"])
            version = None
            if "schema_version" in tables:
                cur.execute("SELECT MAX(version) AS v FROM schema_version")
                version = cur.fetchone()["v"]
        out.write(json.dumps({"format": MYSQL_FORMAT, "version": FORMAT_VERSION, "exported_at": _now(),
                              "database": settings.mysql_database, "schema_version": version}) + "\n")
        for table, columns in tables.items():
            out.write(json.dumps({"table": table, "columns": list(columns)}) + "\n")
            order = ", ".join(f"`{c}`" for c in keys.get(table, list(columns)))
            counts[table] = 0
            with con.cursor() as cur:  # unbuffered: rows stream, memory stays flat
                cur.execute(f"SELECT {', '.join(f'`{c}`' for c in columns)} FROM `{table}` ORDER BY {order}")
                for row in cur:
                    out.write(json.dumps({"table": table, "row": {c: _to_json(v) for c, v in row.items()}},
                                         ensure_ascii=False) + "\n")
                    counts[table] += 1
    except pymysql.err.MySQLError as exc:
        raise translate(exc) from exc
    finally:
        con.close()
    return counts


def import_mysql(settings: Settings, source: IO[str], *, force: bool = False, batch_size: int = 1000) -> dict[str, int]:
    """Restore an export into a db-init'ed database whose data tables are empty (unless force)."""
    con = _connect(settings)
    counts: dict[str, int] = {}
    try:
        with con.cursor() as cur:
            tables = _tables(cur)
            if not force:
                for table in tables:
                    if table in SEEDED_TABLES:
                        continue
                    cur.execute(f"SELECT 1 FROM `{table}` LIMIT 1")
                    if cur.fetchone():
                        raise Conflict(f"MySQL table {settings.mysql_database}.{table} is not empty; import into "
                                       "a database fresh from `relaystore db init`, or pass --force")
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")  # rows arrive table by table, not in FK order
            lines = (line for line in source if line.strip())
            _read_header(lines, MYSQL_FORMAT)
            table, sql = "", ""
            columns: list[str] = []
            rows: list[list[Any]] = []

            def flush() -> None:
                if rows:
                    con.begin()
                    cur.executemany(sql, rows)
                    con.commit()
                    counts[table] = counts.get(table, 0) + len(rows)
                    rows.clear()

            for number, line in enumerate(lines, start=2):
                try:
                    entry = json.loads(line)
                except ValueError:
                    raise DataError(f"backup line {number} is not JSON") from None
                if "columns" in entry:
                    flush()
                    table = entry["table"]
                    if table not in tables:
                        raise DataError(f"backup line {number}: table {table} does not exist here; run db init")
                    columns = list(entry["columns"])
                    missing = [c for c in columns if c not in tables[table]]
                    if missing:
                        raise DataError(f"backup line {number}: {table} has no columns {', '.join(missing)}")
                    names = ", ".join(f"`{c}`" for c in columns)
                    sql = (f"INSERT INTO `{table}` ({names}) VALUES ({', '.join(['%s'] * len(columns))}) "
                           f"ON DUPLICATE KEY UPDATE {', '.join(f'`{c}` = VALUES(`{c}`)' for c in columns)}")
                    counts.setdefault(table, 0)
                    continue
                if entry.get("table") != table or "row" not in entry:
                    raise InvalidInput(f"backup line {number}: a row outside its table section")
                types = tables[table]
                rows.append([_from_json(entry["row"].get(c), types[c]) for c in columns])
                if len(rows) >= batch_size:
                    flush()
            flush()
    except pymysql.err.MySQLError as exc:
        raise translate(exc) from exc
    finally:
        con.close()
    return counts
