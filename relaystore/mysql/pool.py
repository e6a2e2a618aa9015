"""Pooled PyMySQL connections (DBUtils PooledDB) with cursor/transaction contexts and error translation.

Pool defaults, chosen by measurement rather than taken from DBUtils:
- `ping` is not DBUtils' "ping on every checkout" (a COM_PING round trip before every query, which
  turned a ~270 us point lookup into ~420 us here). Instead a pinger runs at checkout and pings only
  a connection idle for more than MYSQL_IDLE_PING_SECONDS, reconnecting it if dead; a busy pool pays
  one clock read per checkout.
- `reset=False`: no ROLLBACK round trip when a connection goes back. Transactions opened with
  transaction() always end in COMMIT or ROLLBACK, and DBUtils still rolls back a begin() left open.
- Reads through cursor() keep DBUtils' failover: a statement that fails on a lost connection is
  re-sent once on a fresh one. Relative writes (`x = x + n`) must use write_cursor() or
  transaction(), where nothing is re-sent, so a write is never applied twice.
- `autocommit=True` and `time_zone='+00:00'` on every connection: one-statement writes commit
  without a second round trip, and DATETIME values are UTC whatever the server's zone.
- Idle connections are reused last-in first-out (DBUtils hands them out FIFO): at low concurrency
  one warm connection (and its server thread) serves every call instead of each of N idle ones in
  turn, which measured ~7% slower per auth with 8 idle connections.
- Hot reads may be server-side prepared statements (`prepared()` + `fetchone_prepared()`): parsing
  the 55-column auth SELECT took the server ~70 us of a ~300 us call. PyMySQL has no binary
  protocol, so they are SQL-level `PREPARE`d on every new connection (a round trip per statement
  when it opens, before any caller sees it) and run as `EXECUTE name USING <escaped literals>`, which
  MariaDB accepts; MySQL only takes @variables there, so on MySQL (and wherever PREPARE failed,
  e.g. a database without the schema yet) the same statement simply runs unprepared.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import pymysql
import pymysql.cursors
from dbutils.pooled_db import PooledDB, PooledDBError, TooManyConnections
from pymysql.constants import CLIENT, ER

from ..config import Settings
from ..errors import AlreadyExists, BackendError, BackendUnavailable, Conflict, RelayStoreError
from .bulk import literal_function

T = TypeVar("T")

# What the driver and pool raise; anything else from a `with` body is the caller's and passes through.
DRIVER_ERRORS = (pymysql.err.MySQLError, PooledDBError)

# Server errors after which the whole transaction may simply be run again.
RETRYABLE_TRANSACTION_ERRORS = (ER.LOCK_DEADLOCK, ER.LOCK_WAIT_TIMEOUT)


def retry_rolled_back(work: Callable[[], T], *, attempts: int = 3, backoff: float = 0.005) -> T:
    """Run `work()` again after a deadlock or lock-wait timeout: the server rolled the whole
    transaction back, so re-sending it applies it once. Waits backoff x attempt seconds between tries.
    The one retry loop of the MySQL backend (transactions, one-round-trip batches, migration copies)."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Conflict as exc:
            cause = exc.__cause__
            code = cause.args[0] if cause is not None and cause.args else None
            if code not in RETRYABLE_TRANSACTION_ERRORS or attempt == attempts:
                raise
            time.sleep(backoff * attempt)
    raise AssertionError("unreachable")


def translate(exc: BaseException) -> RelayStoreError:
    """Map a PyMySQL/DBUtils exception to relaystore's hierarchy (the one place that does)."""
    if isinstance(exc, RelayStoreError):
        return exc
    code = exc.args[0] if getattr(exc, "args", None) and isinstance(exc.args[0], int) else None
    if isinstance(exc, pymysql.err.IntegrityError):
        if code == ER.DUP_ENTRY:
            return AlreadyExists(f"duplicate key: {exc.args[1] if len(exc.args) > 1 else exc}")
        return Conflict(f"integrity error {code}: {exc.args[1] if len(exc.args) > 1 else exc}")
    if isinstance(exc, TooManyConnections):
        return BackendUnavailable("MySQL pool exhausted (raise MYSQL_POOL_SIZE)")
    if isinstance(exc, (pymysql.err.OperationalError, pymysql.err.InterfaceError, PooledDBError,
                        ConnectionError, TimeoutError)):
        if code in RETRYABLE_TRANSACTION_ERRORS:
            return Conflict(f"MySQL error {code}: {exc.args[1]}")
        if code is not None and code < 2000 and code not in (1040, 1042, 1043, 1045, 1049, 1053):
            return BackendError(f"MySQL error {code}: {exc.args[1] if len(exc.args) > 1 else exc}")
        return BackendUnavailable(f"MySQL unavailable: {exc}")
    if isinstance(exc, pymysql.err.MySQLError):
        return BackendError(f"MySQL error {code}: {exc.args[1] if len(exc.args) > 1 else exc}")
    return BackendError(f"MySQL client failure: {exc!r}")


def _idle_pinger(idle_seconds: float) -> Callable[[Any], bool]:
    """A DBUtils ping check that only pings connections idle longer than `idle_seconds`."""
    def check(con: Any) -> bool:
        now = time.monotonic()
        last = getattr(con, "_relaystore_last_checkout", now)
        con._relaystore_last_checkout = now
        if now - last < idle_seconds:
            return True
        con.ping(reconnect=False)  # raises on a dead connection; DBUtils then reconnects
        return True
    return check


_PARAM = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class Prepared:
    """A statement (named %(x)s parameters) that pooled connections prepare server-side when they open."""

    name: str
    sql: str

    @property
    def server_sql(self) -> str:
        """The text given to PREPARE: each parameter becomes `?`."""
        return _PARAM.sub("?", self.sql)

    @property
    def execute_sql(self) -> str:
        """`EXECUTE name USING %(a)s, ...`: PyMySQL escapes the values into literals, as for any query."""
        names = _PARAM.findall(self.sql)
        return f"EXECUTE {self.name}" + (" USING " + ", ".join(f"%({n})s" for n in names) if names else "")


# Every prepared statement, registered at import time by the DAO modules (before any pool opens).
_PREPARED: dict[str, Prepared] = {}


def prepared(name: str, sql: str) -> Prepared:
    """Register a hot statement to be prepared on every new pooled connection; run it with fetchone_prepared()."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,63}", name):
        raise ValueError(f"prepared statement name {name!r} must be a lower-case identifier")
    stmt = Prepared(name, sql)
    if _PREPARED.setdefault(name, stmt) != stmt:
        raise ValueError(f"prepared statement {name!r} is already registered with other SQL")
    return stmt


def _connect(**kwargs: Any) -> Any:
    """pymysql.connect() plus PREPARE of every registered statement (MariaDB only; see module doc).

    The names that prepared are kept on the connection; a statement that does not (its table is
    missing, max_prepared_stmt_count reached) runs unprepared on this connection.
    """
    con = pymysql.connect(**kwargs)
    done: set[str] = set()
    if "MariaDB" in str(con.server_version):
        for stmt in list(_PREPARED.values()):
            try:
                with con.cursor() as cur:
                    cur.execute(f"PREPARE {stmt.name} FROM %s", (stmt.server_sql,))
                done.add(stmt.name)
            except pymysql.err.MySQLError:
                pass
    con._relaystore_prepared = done
    return con


_connect.dbapi = pymysql  # type: ignore[attr-defined]  # DBUtils reads the driver's exceptions from here


def connect_args(settings: Settings, *, database: str | None = None) -> dict[str, Any]:
    """PyMySQL keyword arguments for these settings (database=None connects to no database)."""
    return dict(
        host=settings.mysql_host,
        port=settings.mysql_port,
        user=settings.mysql_user,
        password=settings.mysql_password,
        database=database,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=settings.mysql_connect_timeout,
        cursorclass=pymysql.cursors.DictCursor,
        # Lets batch() send "BEGIN; ...; COMMIT" as one round trip. Safe because every value is a
        # bound parameter escaped by PyMySQL; only trusted constants are ever formatted into SQL.
        client_flag=CLIENT.MULTI_STATEMENTS,
    )


def _render(conn: Any, sql: str, params: Any) -> str:
    """`sql` with its parameters as literals, as cursor.execute() would format them, through bulk's
    per-type escaper: a batch such as usage record() carries ~280 values, and PyMySQL's generic
    escape dispatch was ~10% of that call."""
    if params is None:
        return sql
    literal = literal_function(conn)
    if isinstance(params, Mapping):
        return sql % {name: literal(value) for name, value in params.items()}
    return sql % tuple([literal(value) for value in params])


class _LifoPooledDB(PooledDB):  # type: ignore[misc]
    """PooledDB that hands out the most recently returned idle connection first."""

    def cache(self, con: Any) -> None:
        with self._lock:  # DBUtils' Condition wraps an RLock, so cache() may take it again
            super().cache(con)
            idle = self._idle_cache
            if idle and idle[-1] is con:  # connection() pops index 0
                idle.insert(0, idle.pop())


class MySQLPool:
    """The store's connections; use cursor(), write_cursor() or transaction(), never raw connections."""

    def __init__(self, settings: Settings, *, database: str | None = None) -> None:
        self.settings = settings
        self.database = settings.mysql_database if database is None else database
        try:
            self._pool = _LifoPooledDB(
                creator=_connect,
                mincached=settings.mysql_pool_min_idle,
                maxcached=settings.mysql_pool_size,
                maxconnections=settings.mysql_pool_size,
                blocking=True,
                reset=False,
                ping=(1, _idle_pinger(settings.mysql_idle_ping_seconds)),
                setsession=["SET time_zone = '+00:00'"],
                **connect_args(settings, database=self.database),
            )
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """An autocommit cursor for reads and idempotent writes; a lost connection is retried once."""
        try:
            con = self._pool.connection()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        try:
            cur = con.cursor()
            try:
                yield cur
            finally:
                cur.close()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        finally:
            con.close()

    @contextmanager
    def write_cursor(self) -> Iterator[Any]:
        """An autocommit cursor whose statements are never re-sent: for relative one-statement writes."""
        with self.cursor() as cur, cur.no_failover():
            yield cur

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """BEGIN ... COMMIT on one connection; ROLLBACK on any exception; nothing is re-sent."""
        try:
            con = self._pool.connection()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        try:
            con.begin()
            cur = con.cursor()
            try:
                yield cur
                con.commit()
            except BaseException:
                # A failed ROLLBACK (connection gone) must not mask the error that caused it;
                # DBUtils reopens the connection in that case and the server discards the work.
                with suppress(Exception):
                    con.rollback()
                raise
            finally:
                cur.close()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        finally:
            con.close()

    def batch(self, sql: str, params: Any = None) -> list[list[dict[str, Any]]]:
        """Send several `;`-separated statements in one round trip and return each one's rows.

        Never re-sent (safe for relative writes). Wrap the statements in START TRANSACTION ...
        COMMIT for atomicity; if any statement fails, the server stops there and this method
        issues ROLLBACK before the connection goes back to the pool, then raises.
        """
        with self.cursor() as cur:
            with cur.no_failover():
                try:
                    cur.execute(_render(cur.connection, sql, params))
                    results = [list(cur.fetchall())]
                    while cur.nextset():
                        results.append(list(cur.fetchall()))
                except DRIVER_ERRORS:
                    with suppress(Exception):  # a dead connection has nothing left to roll back
                        cur.execute("ROLLBACK")
                    raise
            return results

    def run_transaction(self, work: Callable[[Any], T], *, attempts: int = 3) -> T:
        """Run `work(cursor)` in a transaction, re-running it whole after a deadlock or lock timeout."""
        def once() -> T:
            with self.transaction() as cur:
                return work(cur)
        return retry_rolled_back(once, attempts=attempts, backoff=0.005)

    def fetchone(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        """Run one read and return its first row (or None)."""
        with self.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    def fetchone_prepared(self, stmt: Prepared, params: dict[str, Any]) -> dict[str, Any] | None:
        """fetchone() of a registered statement: EXECUTE where this connection prepared it, else the SQL."""
        row: dict[str, Any] | None
        with self.cursor() as cur:
            if stmt.name in getattr(cur.connection, "_relaystore_prepared", ()):
                try:
                    cur.execute(stmt.execute_sql, params)
                    row = cur.fetchone()
                    return row
                except pymysql.err.MySQLError as exc:
                    if not exc.args or exc.args[0] != ER.UNKNOWN_STMT_HANDLER:
                        raise
                    cur.connection._relaystore_prepared.discard(stmt.name)  # deallocated: go unprepared
            cur.execute(stmt.sql, params)
            row = cur.fetchone()
            return row

    def fetchall(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        """Run one read and return all rows."""
        with self.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def state(self) -> dict[str, int]:
        """Pool counters for `relaystore db check`: idle connections and connections in use."""
        return {
            "max_connections": self.settings.mysql_pool_size,
            "idle": len(getattr(self._pool, "_idle_cache", [])),
            "in_use": int(getattr(self._pool, "_connections", 0)),
        }

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()
