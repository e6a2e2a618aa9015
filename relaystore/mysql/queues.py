"""Concurrency-queue bookkeeping on MySQL, aging like upstream's Redis keys (§5).

Each upstream key becomes a row whose expires_at stands for the key's TTL: a row past it reads as
absent (0, zeros, empty list) and the next write starts it afresh, exactly as Redis would after the
key expired. Every write is one round trip (an upsert, or a small START TRANSACTION ... COMMIT
batch that locks the one row it changes first), so concurrent callers never lose an increment.
"""
from __future__ import annotations

from .. import limit_rules as rules
from ..records import QueueStats
from .batches import batch_value, run_batch
from .pool import MySQLPool

# Normalise (an expired counter restarts at 0) and lock the row, then add one unless full.
ENTER_QUEUE = """
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
START TRANSACTION;
INSERT INTO concurrency_queue_counts (key_id, waiting, expires_at)
    VALUES (%(key_id)s, 0, UTC_TIMESTAMP(3) + INTERVAL %(ttl)s SECOND)
    ON DUPLICATE KEY UPDATE waiting = IF(expires_at <= UTC_TIMESTAMP(3), 0, waiting);
UPDATE concurrency_queue_counts
    SET waiting = waiting + 1, expires_at = UTC_TIMESTAMP(3) + INTERVAL %(ttl)s SECOND
    WHERE key_id = %(key_id)s AND (%(max_waiting)s = 0 OR waiting < %(max_waiting)s);
SET @rs_entered = ROW_COUNT();
SELECT IF(@rs_entered = 1, waiting, 0) AS waiting FROM concurrency_queue_counts WHERE key_id = %(key_id)s;
COMMIT
"""

# Upstream's DECR then DEL at <= 0; an expired counter counts as missing (DECR of nothing is -1 -> 0).
LEAVE_QUEUE = """
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
START TRANSACTION;
UPDATE concurrency_queue_counts SET waiting = IF(expires_at <= UTC_TIMESTAMP(3), 0, waiting - 1)
    WHERE key_id = %(key_id)s;
DELETE FROM concurrency_queue_counts WHERE key_id = %(key_id)s AND waiting <= 0;
SELECT COALESCE(MAX(waiting), 0) AS waiting FROM concurrency_queue_counts WHERE key_id = %(key_id)s;
COMMIT
"""

SELECT_QUEUE_WAITING = """
    SELECT waiting FROM concurrency_queue_counts WHERE key_id = %(key_id)s AND expires_at > UTC_TIMESTAMP(3)
"""

DELETE_QUEUE_COUNT = "DELETE FROM concurrency_queue_counts WHERE key_id = %(key_id)s"

DELETE_ALL_QUEUE_COUNTS = "DELETE FROM concurrency_queue_counts"

_STAT_COLUMNS = ", ".join(rules.QUEUE_OUTCOMES)
# HINCRBY + EXPIRE 7 d: every counter restarts from 0 if the row had expired. expires_at is
# assigned last, so each IF sees the old value (MySQL and MariaDB assign left to right).
UPSERT_QUEUE_STAT = (
    "SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\nSTART TRANSACTION;\n"
    f"INSERT INTO concurrency_queue_stats ({_STAT_COLUMNS}, key_id, expires_at) VALUES ("
    + ", ".join(f"%({c})s" for c in rules.QUEUE_OUTCOMES)
    + ", %(key_id)s, UTC_TIMESTAMP(3) + INTERVAL %(ttl)s SECOND)\n    ON DUPLICATE KEY UPDATE "
    + ", ".join(f"{c} = IF(expires_at <= UTC_TIMESTAMP(3), 0, {c}) + %({c})s" for c in rules.QUEUE_OUTCOMES)
    + ", expires_at = UTC_TIMESTAMP(3) + INTERVAL %(ttl)s SECOND;\n"
    f"SELECT {_STAT_COLUMNS} FROM concurrency_queue_stats WHERE key_id = %(key_id)s;\n"
    "COMMIT"
)

SELECT_QUEUE_STATS = (f"SELECT {_STAT_COLUMNS} FROM concurrency_queue_stats"
                      " WHERE key_id = %(key_id)s AND expires_at > UTC_TIMESTAMP(3)")

# LPUSH + LTRIM + EXPIRE for one list: lock (or create) the list row, drop the samples of a list
# that had expired, add the sample, keep the newest `keep`, re-arm the TTL.
_PUSH_WAIT_SAMPLE = """
INSERT INTO concurrency_queue_wait_lists (list_id, expires_at)
    VALUES (%({p})s, UTC_TIMESTAMP(3) + INTERVAL %(ttl)s SECOND)
    ON DUPLICATE KEY UPDATE list_id = list_id;
DELETE FROM concurrency_queue_wait_times WHERE list_id = %({p})s
    AND (SELECT expires_at FROM concurrency_queue_wait_lists WHERE list_id = %({p})s) <= UTC_TIMESTAMP(3);
UPDATE concurrency_queue_wait_lists SET expires_at = UTC_TIMESTAMP(3) + INTERVAL %(ttl)s SECOND
    WHERE list_id = %({p})s;
INSERT INTO concurrency_queue_wait_times (list_id, wait_ms) VALUES (%({p})s, %(wait_ms)s);
SET @rs_cut = (SELECT id FROM concurrency_queue_wait_times WHERE list_id = %({p})s
               ORDER BY id DESC LIMIT 1 OFFSET {skip});
DELETE FROM concurrency_queue_wait_times WHERE list_id = %({p})s AND id < @rs_cut;
"""
_BEGIN = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\nSTART TRANSACTION;"
# The key's list, then the global one: always in that order, so two pushes never wait on each other
# in opposite orders.
INSERT_WAIT_SAMPLE = (_BEGIN + _PUSH_WAIT_SAMPLE.format(p="key_id", skip=rules.WAIT_SAMPLES_PER_KEY - 1)
                      + "COMMIT")
INSERT_WAIT_SAMPLE_WITH_GLOBAL = (
    _BEGIN + _PUSH_WAIT_SAMPLE.format(p="key_id", skip=rules.WAIT_SAMPLES_PER_KEY - 1)
    + _PUSH_WAIT_SAMPLE.format(p="global_id", skip=rules.WAIT_SAMPLES_GLOBAL - 1) + "COMMIT")

SELECT_WAIT_SAMPLES = """
    SELECT s.wait_ms FROM concurrency_queue_wait_times AS s
    JOIN concurrency_queue_wait_lists AS l ON l.list_id = s.list_id
    WHERE s.list_id = %(list_id)s AND l.expires_at > UTC_TIMESTAMP(3)
    ORDER BY s.id DESC LIMIT %(keep)s
"""


class MySQLQueues:
    """store.queues on MySQL (see module docstring)."""

    def __init__(self, pool: MySQLPool) -> None:
        self.pool = pool

    def enter(self, key_id: str, *, timeout_ms: float = rules.QUEUE_DEFAULT_TIMEOUT_MS, max_waiting: int = 0) -> int:
        """Count one more waiter and return the new count; 0 (not counted) if `max_waiting` are waiting."""
        params = {"key_id": rules.check_id("key_id", key_id), "ttl": rules.queue_ttl_seconds(timeout_ms),
                  "max_waiting": rules.check_count("max_waiting", max_waiting)}
        return int(batch_value(run_batch(self.pool, ENTER_QUEUE, params), "waiting"))

    def leave(self, key_id: str) -> int:
        """Count one waiter less and return how many are left (the row is deleted at zero)."""
        params = {"key_id": rules.check_id("key_id", key_id)}
        return int(batch_value(run_batch(self.pool, LEAVE_QUEUE, params), "waiting"))

    def waiting(self, key_id: str) -> int:
        """Requests now waiting for a lease of this key."""
        row = self.pool.fetchone(SELECT_QUEUE_WAITING, {"key_id": rules.check_id("key_id", key_id)})
        return max(0, int(row["waiting"])) if row else 0

    def clear(self, key_id: str) -> None:
        """Forget the key's waiter count (upstream clearConcurrencyQueue)."""
        with self.pool.cursor() as cur:
            cur.execute(DELETE_QUEUE_COUNT, {"key_id": rules.check_id("key_id", key_id)})

    def clear_all(self) -> int:
        """Delete every waiter counter, keeping stats and samples (upstream does this at startup)."""
        with self.pool.write_cursor() as cur:
            return int(cur.execute(DELETE_ALL_QUEUE_COUNTS))

    def record_stat(self, key_id: str, outcome: str) -> int:
        """Add one to an outcome counter (entered, success, timeout, ...); returns its new value."""
        rules.check_outcome(outcome)
        params: dict[str, object] = {name: int(name == outcome) for name in rules.QUEUE_OUTCOMES}
        params.update(key_id=rules.check_id("key_id", key_id), ttl=rules.QUEUE_STATS_TTL_SECONDS)
        return int(batch_value(run_batch(self.pool, UPSERT_QUEUE_STAT, params), outcome))

    def stats(self, key_id: str) -> QueueStats:
        """The key's outcome counters; zeros when none were recorded within the last 7 days."""
        row = self.pool.fetchone(SELECT_QUEUE_STATS, {"key_id": rules.check_id("key_id", key_id)})
        return QueueStats(**{name: int(row[name]) for name in rules.QUEUE_OUTCOMES}) if row else QueueStats()

    def record_wait(self, key_id: str, wait_ms: int, *, include_global: bool = True) -> None:
        """Keep one wait sample in the key's list and (by default) the global list; one round trip."""
        params = {"key_id": rules.check_id("key_id", key_id), "wait_ms": rules.check_count("wait_ms", wait_ms),
                  "global_id": rules.GLOBAL_WAIT_LIST, "ttl": rules.WAIT_TIMES_TTL_SECONDS}
        run_batch(self.pool, INSERT_WAIT_SAMPLE_WITH_GLOBAL if include_global else INSERT_WAIT_SAMPLE, params)

    def wait_times(self, key_id: str) -> list[int]:
        """The key's wait samples in ms, newest first (at most 500)."""
        return self._samples(rules.check_id("key_id", key_id), rules.WAIT_SAMPLES_PER_KEY)

    def global_wait_times(self) -> list[int]:
        """The relay-wide wait samples in ms, newest first (at most 2000)."""
        return self._samples(rules.GLOBAL_WAIT_LIST, rules.WAIT_SAMPLES_GLOBAL)

    def _samples(self, list_id: str, keep: int) -> list[int]:
        rows = self.pool.fetchall(SELECT_WAIT_SAMPLES, {"list_id": list_id, "keep": keep})
        return [int(row["wait_ms"]) for row in rows]
