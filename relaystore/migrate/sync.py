"""The one routine that copies Redis keys into MySQL: bulk copy, catch-up and dual-mode writes use it.

copy(family, keys):
1. read the keys' values and PTTLs from Redis in one MULTI that also INCRs the copy sequence;
2. decode and validate each value (a bad one is reported with its key and not written);
3. in one MySQL transaction: claim the keys in migration_sync at that sequence number, then
   upsert the records of present keys and delete those of vanished keys — except keys a newer
   copy has already written (mysql_writer.guard).

Whatever the interleaving of copies of one key, MySQL ends with the value of the copy that read
Redis last, and each Redis write in dual mode is followed by its own copy: so MySQL converges on
Redis's value, counters included, with no increment applied twice or lost.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from ..errors import AlreadyExists, BackendUnavailable, DataError, RelayStoreError
from ..mysql.pool import MySQLPool
from ..redis.keys import Keys
from .family import Family
from .mysql_writer import ColumnChecker, copy_transaction, guard, retry_deadlocks
from .redis_reader import fetch

ON_ERROR = ("skip", "stop")
# A codec message ends with a repr of the offending value ("...: 'lots'"); a server message quotes
# the value before "for column"/"for key". Logs and reports show keys and field names, never values.
_VALUE_TAIL = re.compile(r":\s*(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\Z", re.DOTALL)
_SERVER_VALUE = re.compile(r"'(?:[^'\\]|\\.)*'(?= for (?:column|key))", re.DOTALL)
# Server errors that mean "this value cannot be stored" (a bad value, reported and skipped), not a failure.
DATA_ERROR_CODES = {1048, 1062, 1264, 1265, 1292, 1366, 1367, 1406, 3140, 4025}


def redact(message: str) -> str:
    """The message without the value it quotes (values may be secrets; keys and field names are not)."""
    return _SERVER_VALUE.sub("<value>", _VALUE_TAIL.sub("", message))


def _is_bad_value(exc: RelayStoreError) -> bool:
    if isinstance(exc, (DataError, AlreadyExists)):
        return True
    cause = exc.__cause__
    return bool(cause is not None and cause.args and cause.args[0] in DATA_ERROR_CODES)


@dataclass
class CopyResult:
    """What one copy did; `errors` holds (Family.label(key), message) without values or secret key names."""

    read: int = 0          # keys found in Redis
    written: int = 0       # records upserted (dry run: would be)
    gone: int = 0          # keys absent from Redis whose MySQL records were removed (dry run: would be)
    stale: int = 0         # keys a newer copy had already written
    skipped: int = 0       # bad values, not written
    failed: int = 0        # good values whose write failed
    errors: list[tuple[str, str]] = field(default_factory=list)
    seq: int | None = None

    def add(self, other: CopyResult) -> None:
        for name in ("read", "written", "gone", "stale", "skipped", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


class Copier:
    """Copies keys of any family from one Redis keyspace into one MySQL database."""

    def __init__(self, client: redis.Redis, keys: Keys, pool: MySQLPool) -> None:
        self.client = client
        self.keys = keys
        self.pool = pool
        self._checker: ColumnChecker | None = None
        # Test hook: called with "read", "written" (before COMMIT) and "committed" for each batch.
        self.hook: Callable[[str], None] | None = None

    @property
    def checker(self) -> ColumnChecker:
        """The column limits, read from information_schema on first use (only dry runs check records)."""
        if self._checker is None:
            self._checker = ColumnChecker(self.pool)
        return self._checker

    def _stage(self, name: str) -> None:
        if self.hook is not None:
            self.hook(name)

    def copy(self, family: Family, keys: Sequence[str], *, dry_run: bool = False,
             on_error: str = "skip") -> CopyResult:
        """Copy these relative keys of `family` (absent ones delete their records); see the module doc.

        A dry run also checks each record against the column limits MySQL would enforce. A real run
        leaves that to MySQL (strict mode) and, when a batch is refused, halves it until the refused
        key is found, so one bad value costs a few extra transactions, not a per-key check of every key.
        """
        result = CopyResult()
        items = []
        for key in dict.fromkeys(keys):
            source = family.owns(key)
            if source is None:
                raise ValueError(f"{key} does not belong to family {family.name}")
            items.append((key, source.type))
        fetched, result.seq = fetch(self.client, self.keys.prefix, items, ttl=family.needs_ttl,
                                    seq_key=None if dry_run else self.keys.migration_seq, label=family.label)
        self._stage("read")
        work: list[tuple[str, Any]] = []   # (key, record), record None for a key gone from Redis
        for item in fetched:
            if item.error is not None:
                result.skipped += 1
                result.errors.append((family.label(item.key), item.error))
                continue
            if item.value is None:
                work.append((item.key, None))
                continue
            result.read += 1
            try:
                record = family.decode_fetched(item)
                if dry_run:
                    family.check(record, self.checker)
            except DataError as exc:
                result.skipped += 1
                result.errors.append((family.label(item.key), redact(str(exc))))
                continue
            work.append((item.key, record))
        if result.errors and on_error == "stop":
            return result
        if dry_run:
            result.written = sum(1 for _, r in work if r is not None)
            result.gone = len(work) - result.written
            return result
        assert result.seq is not None
        self._write_isolating(family, work, result.seq, result, on_error)
        return result

    def _write_isolating(self, family: Family, work: list[tuple[str, Any]], seq: int, result: CopyResult,
                         on_error: str) -> None:
        """Write `work`; if MySQL refuses it, halve it to find and report the refused keys."""
        if not work:
            return
        try:
            self._write(family, work, seq, result)
            return
        except BackendUnavailable:
            raise
        except RelayStoreError as exc:
            if len(work) > 1:
                middle = len(work) // 2
                self._write_isolating(family, work[:middle], seq, result, on_error)
                if not (result.errors and on_error == "stop"):
                    self._write_isolating(family, work[middle:], seq, result, on_error)
                return
            key = work[0][0]
            if _is_bad_value(exc):
                result.skipped += 1
            else:
                result.failed += 1
            name = family.label(key)
            result.errors.append((name, f"{name}: {redact(str(exc))}"))

    def _write(self, family: Family, work: list[tuple[str, Any]], seq: int, result: CopyResult) -> None:
        def attempt() -> tuple[int, int, int]:
            with copy_transaction(self.pool) as cur:
                stale = guard(cur, family.name, [k for k, _ in work], seq)
                fresh = [r for k, r in work if r is not None and k not in stale]
                vanished = [k for k, r in work if r is None and k not in stale]
                if fresh:
                    family.write_mysql(cur, fresh)
                if vanished:
                    family.delete_mysql(cur, vanished)
                self._stage("written")
            return len(fresh), len(vanished), len(stale)

        written, vanished, stale = retry_deadlocks(attempt)
        self._stage("committed")
        result.written += written
        result.gone += vanished
        result.stale += stale
