"""Concurrency leases on MySQL: `leases` rows guarded by one lock row per key in `lease_keys`.

Locking design (why at most `limit` live leases can exist, whatever the callers and processes):
- acquire() is ONE round trip: a multi-statement batch START TRANSACTION ... COMMIT. Its first
  statement in the transaction, INSERT INTO lease_keys ... ON DUPLICATE KEY UPDATE, creates the
  key's parent row or, when it exists, takes an exclusive lock on it (a duplicate-key upsert locks
  the row X even when it changes nothing). Every acquire of that key queues on this one row;
  acquires of other keys do not.
- Holding it, the batch reads the database clock (UTC_TIMESTAMP(3)), deletes the key's expired
  leases, counts the rest and inserts the new lease only if the count is below `limit`. Every
  writer that can add a lease holds the same row lock until it commits, so no two counts overlap:
  the count an acquirer sees includes every lease committed before it, and nothing can be added
  between its count and its insert.
- The lock is held from that first statement to COMMIT, inside one batch: a few hundred
  microseconds of server work, never waiting on the client. A client that vanishes after sending
  the batch leaves the server to finish it (the lease then simply expires) or, if the connection
  drops first, to roll it back; either way the lock does not outlive the batch.
- No deadlock: each acquire takes exactly one parent row lock, and takes it first. The rest runs at
  READ COMMITTED (set for that one transaction), which takes no gap locks for the DELETE and the
  reads, so its only other locks are on its own key's lease rows. release() and refresh() are
  single-row autocommit statements on a lease's primary key: they wait for nothing while holding a
  lock. They take no parent lock; they can only shorten or keep the count, never grow it, and an
  acquirer that counts a lease concurrently being released just counts conservatively.
  purge_expired() prunes each key under the same parent lock, as acquire() does. Deadlock or
  lock-wait errors (not expected) roll the whole batch back and it is re-run.
- Expiry is by the database's clock (UTC_TIMESTAMP), never a client's, so hosts with drifting
  clocks agree; a crashed holder's lease stops counting when expires_at passes and is deleted by the
  key's next acquire() (or purge_expired()).
"""
from __future__ import annotations

from .. import limit_rules as rules
from .batches import batch_value, run_batch
from .pool import MySQLPool

# Lock the key's row, prune, insert if below the limit, report: one transaction, one round trip.
# `limit` 0 = unlimited; a live lease of the same request is extended (ON DUPLICATE KEY UPDATE).
# The count is the INSERT's own condition (a consistent read at READ COMMITTED, as a separate
# SELECT would be; the parent row lock is what orders it), and `acquired` is whether the request's
# lease exists afterwards: expired rows of the key were just pruned, so it exists exactly when it
# was inserted or extended. 7 statements instead of 8 with a user variable (bench/README #8).
ACQUIRE_LEASE = """
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
START TRANSACTION;
INSERT INTO lease_keys (key_id) VALUES (%(key_id)s) ON DUPLICATE KEY UPDATE key_id = key_id;
DELETE FROM leases WHERE key_id = %(key_id)s AND expires_at <= UTC_TIMESTAMP(3);
INSERT INTO leases (key_id, request_id, expires_at)
    SELECT %(key_id)s, %(request_id)s, UTC_TIMESTAMP(3) + INTERVAL %(lease_us)s MICROSECOND FROM DUAL
    WHERE (SELECT %(limit)s = 0 OR COUNT(*) < %(limit)s OR COALESCE(SUM(request_id = %(request_id)s), 0) > 0
           FROM leases WHERE key_id = %(key_id)s)
    ON DUPLICATE KEY UPDATE expires_at = UTC_TIMESTAMP(3) + INTERVAL %(lease_us)s MICROSECOND;
SELECT EXISTS (SELECT 1 FROM leases WHERE key_id = %(key_id)s AND request_id = %(request_id)s) AS acquired;
COMMIT
"""

# Extend a live lease; an expired one stays expired (upstream refresh prunes first).
UPDATE_LEASE_EXPIRY = """
    UPDATE leases SET expires_at = UTC_TIMESTAMP(3) + INTERVAL %(lease_us)s MICROSECOND
    WHERE key_id = %(key_id)s AND request_id = %(request_id)s AND expires_at > UTC_TIMESTAMP(3)
"""

SELECT_LIVE_LEASE = """
    SELECT 1 AS live FROM leases
    WHERE key_id = %(key_id)s AND request_id = %(request_id)s AND expires_at > UTC_TIMESTAMP(3)
"""

DELETE_LEASE = """
    DELETE FROM leases
    WHERE key_id = %(key_id)s AND request_id = %(request_id)s AND expires_at > UTC_TIMESTAMP(3)
"""

COUNT_LIVE_LEASES = """
    SELECT COUNT(*) AS n FROM leases WHERE key_id = %(key_id)s AND expires_at > UTC_TIMESTAMP(3)
"""

# The sweep's scan is over the whole (small: live leases plus leftovers) table, so that the hot
# path maintains no secondary index.
SELECT_KEYS_WITH_EXPIRED_LEASES = """
    SELECT DISTINCT key_id FROM leases WHERE expires_at <= UTC_TIMESTAMP(3) LIMIT %(batch)s
"""

# Prune one key under its parent lock, exactly as acquire() does, so the sweep cannot deadlock with it.
DELETE_EXPIRED_LEASES_OF_KEY = """
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
START TRANSACTION;
INSERT INTO lease_keys (key_id) VALUES (%(key_id)s) ON DUPLICATE KEY UPDATE key_id = key_id;
DELETE FROM leases WHERE key_id = %(key_id)s AND expires_at <= UTC_TIMESTAMP(3);
SELECT ROW_COUNT() AS n;
COMMIT
"""


class MySQLLeases:
    """store.leases on MySQL (see module docstring for the locking design)."""

    def __init__(self, pool: MySQLPool) -> None:
        self.pool = pool

    def acquire(self, key_id: str, request_id: str, *, limit: int, ttl_seconds: float) -> bool:
        """Take a lease if fewer than `limit` live leases exist (0 = unlimited); one round trip."""
        params = {"key_id": rules.check_id("key_id", key_id),
                  "request_id": rules.check_id("request_id", request_id),
                  "limit": rules.check_limit(limit), "lease_us": rules.lease_ms(ttl_seconds) * 1000}
        return bool(batch_value(run_batch(self.pool, ACQUIRE_LEASE, params), "acquired"))

    def refresh(self, key_id: str, request_id: str, *, ttl_seconds: float) -> bool:
        """Extend a live lease to now + ttl; False (and no change) if it is unknown or expired."""
        params = {"key_id": rules.check_id("key_id", key_id),
                  "request_id": rules.check_id("request_id", request_id),
                  "lease_us": rules.lease_ms(ttl_seconds) * 1000}
        with self.pool.cursor() as cur:  # an absolute write: re-sending it is harmless
            if cur.execute(UPDATE_LEASE_EXPIRY, params) == 1:
                return True
            # 0 rows changed also when the new expiry equals the old one (same ms, same ttl).
            cur.execute(SELECT_LIVE_LEASE, params)
            return cur.fetchone() is not None

    def release(self, key_id: str, request_id: str) -> bool:
        """Drop a lease; False if it was unknown or already expired (a harmless no-op)."""
        params = {"key_id": rules.check_id("key_id", key_id),
                  "request_id": rules.check_id("request_id", request_id)}
        with self.pool.write_cursor() as cur:  # never re-sent: a resend would report False
            return bool(cur.execute(DELETE_LEASE, params) == 1)

    def count(self, key_id: str) -> int:
        """Live leases of a key (expired rows are not counted, whether or not pruned yet)."""
        row = self.pool.fetchone(COUNT_LIVE_LEASES, {"key_id": rules.check_id("key_id", key_id)})
        return int(row["n"]) if row else 0

    def purge_expired(self, *, batch_size: int = 1000) -> int:
        """Delete expired leases of keys nobody acquires any more; returns how many rows went."""
        removed = 0
        while True:
            keys = self.pool.fetchall(SELECT_KEYS_WITH_EXPIRED_LEASES, {"batch": batch_size})
            for row in keys:
                removed += int(batch_value(run_batch(self.pool, DELETE_EXPIRED_LEASES_OF_KEY,
                                                     {"key_id": row["key_id"]}), "n"))
            if len(keys) < batch_size:
                return removed
