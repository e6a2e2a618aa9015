"""Concurrency queues (§5): waiter counters, outcome stats and wait-time sample lists <-> their tables.

concurrency:queue:{keyId} STRING      <-> concurrency_queue_counts (waiting, expires_at)
concurrency:queue:stats:{keyId} HASH  <-> concurrency_queue_stats (one column per outcome, expires_at)
concurrency:queue:wait_times:{id} LIST <-> concurrency_queue_wait_lists (expires_at) + concurrency_queue_wait_times
Every key carries a TTL; its absolute expiry is stored and re-armed by a rollback. A stats field is
present in Redis exactly when its counter is non-zero (HINCRBY 1 creates it), so zeros are not written back.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ... import limit_rules as rules
from ...errors import DataError, InvalidInput
from ...mysql import bulk
from ...mysql.pool import MySQLPool
from ...redis.keys import Keys
from .. import ttl
from ..family import Family, KeySource
from .rows import pages
from .rows import placeholders as _in

COUNT_RE = re.compile(r"concurrency:queue:(?!stats:|wait_times:)(.+)", re.DOTALL)
STATS_RE = re.compile(r"concurrency:queue:stats:(.+)", re.DOTALL)
WAITS_RE = re.compile(r"concurrency:queue:wait_times:(.+)", re.DOTALL)
_INT_MIN, _INT_MAX = -(2 ** 31), 2 ** 31 - 1        # concurrency_queue_counts.waiting INT
_BIGINT_MAX = 2 ** 63 - 1
_STAT_COLUMNS = ", ".join(rules.QUEUE_OUTCOMES)


@dataclass(frozen=True, slots=True)
class QueueCount:
    key_id: str
    waiting: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class QueueStatsCounters:
    key_id: str
    counts: tuple[int, ...]     # in rules.QUEUE_OUTCOMES order
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class WaitList:
    list_id: str
    samples: tuple[int, ...]    # newest first, as LRANGE returns them
    expires_at: datetime


UPSERT_QUEUE_COUNTS = f"""
    INSERT INTO concurrency_queue_counts (key_id, waiting, expires_at) VALUES (%s, %s, %s)
    ON DUPLICATE KEY UPDATE waiting = VALUES(waiting), {ttl.keep_close('expires_at')}
"""
UPSERT_QUEUE_STATS = (
    f"INSERT INTO concurrency_queue_stats (key_id, {_STAT_COLUMNS}, expires_at) VALUES (%s, "
    + ", ".join(["%s"] * len(rules.QUEUE_OUTCOMES)) + ", %s)\n    ON DUPLICATE KEY UPDATE "
    + ", ".join(f"{c} = VALUES({c})" for c in rules.QUEUE_OUTCOMES) + f", {ttl.keep_close('expires_at')}"
)
UPSERT_WAIT_LISTS = f"""
    INSERT INTO concurrency_queue_wait_lists (list_id, expires_at) VALUES (%s, %s)
    ON DUPLICATE KEY UPDATE {ttl.keep_close('expires_at')}
"""
# Samples are replaced only for lists whose samples changed: ids are AUTO_INCREMENT, so rewriting an
# unchanged list would change rows on a re-run. Inserted oldest first: id order is push order.
SELECT_SAMPLES_OF_LISTS = """
    SELECT list_id, wait_ms FROM concurrency_queue_wait_times WHERE list_id IN ({ids}) ORDER BY list_id, id DESC
"""
DELETE_SAMPLES_OF_LISTS = "DELETE FROM concurrency_queue_wait_times WHERE list_id IN ({ids})"
INSERT_SAMPLES = "INSERT INTO concurrency_queue_wait_times (list_id, wait_ms) VALUES (%s, %s)"

DELETE_QUEUE_COUNTS = "DELETE FROM concurrency_queue_counts WHERE key_id IN ({ids})"
DELETE_QUEUE_STATS = "DELETE FROM concurrency_queue_stats WHERE key_id IN ({ids})"
DELETE_WAIT_LISTS = "DELETE FROM concurrency_queue_wait_lists WHERE list_id IN ({ids})"

# Live rows only (an expired row stands for a key Redis has dropped), one keyset page at a time.
SELECT_QUEUE_COUNT_PAGE = """
    SELECT key_id AS id, expires_at > UTC_TIMESTAMP(3) AS live FROM concurrency_queue_counts
    WHERE key_id > %(after)s ORDER BY key_id LIMIT %(limit)s
"""
SELECT_QUEUE_STATS_PAGE = """
    SELECT key_id AS id, expires_at > UTC_TIMESTAMP(3) AS live FROM concurrency_queue_stats
    WHERE key_id > %(after)s ORDER BY key_id LIMIT %(limit)s
"""
SELECT_WAIT_LIST_PAGE = """
    SELECT list_id AS id, expires_at > UTC_TIMESTAMP(3) AS live FROM concurrency_queue_wait_lists
    WHERE list_id > %(after)s ORDER BY list_id LIMIT %(limit)s
"""
SELECT_QUEUE_COUNTS = """
    SELECT key_id, waiting, expires_at FROM concurrency_queue_counts
    WHERE key_id IN ({ids}) AND expires_at > UTC_TIMESTAMP(3)
"""
SELECT_QUEUE_STATS = f"""
    SELECT key_id, {_STAT_COLUMNS}, expires_at FROM concurrency_queue_stats
    WHERE key_id IN ({{ids}}) AND expires_at > UTC_TIMESTAMP(3)
"""
SELECT_WAIT_LISTS = """
    SELECT l.list_id, l.expires_at, s.wait_ms FROM concurrency_queue_wait_lists AS l
    LEFT JOIN concurrency_queue_wait_times AS s ON s.list_id = l.list_id
    WHERE l.list_id IN ({ids}) AND l.expires_at > UTC_TIMESTAMP(3)
    ORDER BY l.list_id, s.id DESC
"""

SELECT_ALL_QUEUE_COUNT_IDS = "SELECT key_id FROM concurrency_queue_counts"

_COUNT, _STATS, _WAITS = "concurrency:queue:", "concurrency:queue:stats:", "concurrency:queue:wait_times:"


def count_keys(pool: MySQLPool) -> list[str]:
    """The Redis key of every waiter counter MySQL holds, expired ones included (dual mode's clear_all)."""
    return [_COUNT + row["key_id"] for row in pool.fetchall(SELECT_ALL_QUEUE_COUNT_IDS)]


_WHOLE = re.compile(r"0|-?[1-9][0-9]*")


def whole_number(key: str, text: Any, what: str, low: int, high: int) -> int:
    """A counter as Redis's INCR family writes it (canonical decimal), within [low, high]; DataError otherwise.
    Only the canonical form is accepted: a rollback writes str(number), which must equal the original."""
    if not isinstance(text, str) or not _WHOLE.fullmatch(text):
        raise DataError(f"{key}: {what} is not a whole number")
    number = int(text)
    if not low <= number <= high:
        raise DataError(f"{key}: {what} is out of range")
    return number


def _id(key: str, prefix: str) -> str:
    ident = key[len(prefix):]
    try:
        return rules.check_id("key id", ident)
    except InvalidInput as exc:
        raise DataError(f"{key}: {exc}") from None


class ConcurrencyQueuesFamily(Family):
    name = "concurrency_queues"
    sources = (
        KeySource(type="string", match="concurrency:queue:*", regex=COUNT_RE),
        KeySource(type="hash", match="concurrency:queue:stats:*", regex=STATS_RE),
        KeySource(type="list", match="concurrency:queue:wait_times:*", regex=WAITS_RE),
    )
    tables = ("concurrency_queue_counts", "concurrency_queue_stats", "concurrency_queue_wait_lists",
              "concurrency_queue_wait_times")
    needs_ttl = True

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> QueueCount | QueueStatsCounters | WaitList:
        expires_at = ttl.expiry_of(expire_at_ms) or ttl.NEVER
        if STATS_RE.fullmatch(key):
            unknown = sorted(set(value) - set(rules.QUEUE_OUTCOMES))
            if unknown:
                raise DataError(f"{key}: unknown field {unknown[0]}")
            counts = tuple(whole_number(key, value[name], f"field {name}", 0, _BIGINT_MAX) if name in value else 0
                           for name in rules.QUEUE_OUTCOMES)
            return QueueStatsCounters(_id(key, _STATS), counts, expires_at)
        if WAITS_RE.fullmatch(key):
            samples = tuple(whole_number(key, v, "a wait sample", -_BIGINT_MAX, _BIGINT_MAX) for v in value)
            return WaitList(_id(key, _WAITS), samples, expires_at)
        waiting = whole_number(key, value, "the waiter count", _INT_MIN, _INT_MAX)
        return QueueCount(_id(key, _COUNT), waiting, expires_at)

    def key_of(self, record: Any) -> str:
        if isinstance(record, QueueStatsCounters):
            return _STATS + record.key_id
        if isinstance(record, WaitList):
            return _WAITS + record.list_id
        return _COUNT + record.key_id

    def write_mysql(self, cur: Any, records: Sequence[Any]) -> None:
        counts = sorted((r for r in records if isinstance(r, QueueCount)), key=lambda r: r.key_id)
        stats = sorted((r for r in records if isinstance(r, QueueStatsCounters)), key=lambda r: r.key_id)
        waits = sorted((r for r in records if isinstance(r, WaitList)), key=lambda r: r.list_id)
        bulk.executemany(cur, UPSERT_QUEUE_COUNTS, [(r.key_id, r.waiting, r.expires_at) for r in counts])
        bulk.executemany(cur, UPSERT_QUEUE_STATS, [(r.key_id, *r.counts, r.expires_at) for r in stats])
        if waits:
            self._write_wait_lists(cur, waits)

    @staticmethod
    def _write_wait_lists(cur: Any, waits: list[WaitList]) -> None:
        ids = [w.list_id for w in waits]
        bulk.executemany(cur, UPSERT_WAIT_LISTS, [(w.list_id, w.expires_at) for w in waits])  # locks the lists
        cur.execute(SELECT_SAMPLES_OF_LISTS.format(ids=_in(len(ids))), ids)
        stored: dict[str, list[int]] = {}
        for row in cur.fetchall():
            stored.setdefault(row["list_id"], []).append(int(row["wait_ms"]))
        changed = [w for w in waits if tuple(stored.get(w.list_id, ())) != w.samples]
        if not changed:
            return
        ids = [w.list_id for w in changed]
        cur.execute(DELETE_SAMPLES_OF_LISTS.format(ids=_in(len(ids))), ids)
        bulk.executemany(cur, INSERT_SAMPLES, [(w.list_id, ms) for w in changed for ms in reversed(w.samples)])

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        groups = ((DELETE_QUEUE_COUNTS, [k[len(_COUNT):] for k in keys if COUNT_RE.fullmatch(k)]),
                  (DELETE_QUEUE_STATS, [k[len(_STATS):] for k in keys if STATS_RE.fullmatch(k)]),
                  (DELETE_WAIT_LISTS, [k[len(_WAITS):] for k in keys if WAITS_RE.fullmatch(k)]),
                  (DELETE_SAMPLES_OF_LISTS, [k[len(_WAITS):] for k in keys if WAITS_RE.fullmatch(k)]))
        for sql, ids in groups:
            if ids:
                cur.execute(sql.format(ids=_in(len(ids))), sorted(ids))

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        for sql, prefix in ((SELECT_QUEUE_COUNT_PAGE, _COUNT), (SELECT_QUEUE_STATS_PAGE, _STATS),
                            (SELECT_WAIT_LIST_PAGE, _WAITS)):
            for rows in pages(pool, sql, batch_size, "id"):
                live = [prefix + row["id"] for row in rows if row["live"]]
                if live:
                    yield live

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ids = [k[len(_COUNT):] for k in keys if COUNT_RE.fullmatch(k)]
        if ids:
            for row in pool.fetchall(SELECT_QUEUE_COUNTS.format(ids=_in(len(ids))), ids):
                out[_COUNT + row["key_id"]] = QueueCount(row["key_id"], int(row["waiting"]), row["expires_at"])
        ids = [k[len(_STATS):] for k in keys if STATS_RE.fullmatch(k)]
        if ids:
            for row in pool.fetchall(SELECT_QUEUE_STATS.format(ids=_in(len(ids))), ids):
                counts = tuple(int(row[name]) for name in rules.QUEUE_OUTCOMES)
                out[_STATS + row["key_id"]] = QueueStatsCounters(row["key_id"], counts, row["expires_at"])
        ids = [k[len(_WAITS):] for k in keys if WAITS_RE.fullmatch(k)]
        if ids:
            lists: dict[str, tuple[datetime, list[int]]] = {}
            for row in pool.fetchall(SELECT_WAIT_LISTS.format(ids=_in(len(ids))), ids):
                _, samples = lists.setdefault(row["list_id"], (row["expires_at"], []))
                if row["wait_ms"] is not None:
                    samples.append(int(row["wait_ms"]))
            for list_id, (expires_at, samples) in lists.items():
                if samples:   # an empty list is no key in Redis
                    out[_WAITS + list_id] = WaitList(list_id, tuple(samples), expires_at)
        return out

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[Any]) -> None:
        for record in records:
            if not ttl.live(record.expires_at):
                continue   # expired since it was read
            full = k.prefix + self.key_of(record)
            if isinstance(record, QueueStatsCounters):
                fields = {name: n for name, n in zip(rules.QUEUE_OUTCOMES, record.counts) if n}
                if not fields:
                    continue
                pipe.hset(full, mapping=fields)
            elif isinstance(record, WaitList):
                pipe.rpush(full, *record.samples)
            else:
                pipe.set(full, record.waiting)
            ttl.queue_expiry(pipe, full, record.expires_at)

    def compare(self, redis_record: Any, mysql_record: Any) -> list[str]:
        diff = []
        for name in ("waiting", "counts", "samples"):
            if hasattr(redis_record, name) and getattr(redis_record, name) != getattr(mysql_record, name, None):
                diff.append(name)
        if type(redis_record) is not type(mysql_record):
            diff.append("type")
        if not ttl.same_expiry(redis_record.expires_at, mysql_record.expires_at):
            diff.append("ttl")
        return diff
