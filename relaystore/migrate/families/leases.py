"""Concurrency leases: each `concurrency:{keyId}` ZSET <-> its `leases` rows (+ lease_keys, lease_key_expiry).

Members are request ids, scores lease expiries in epoch ms (stored exactly as DATETIME(3)). Expired
members upstream has not pruned yet are copied unchanged, as is the set's own PEXPIRE: a MySQL record
exists (for verify and rollback) while that expiry has not passed. Per-account sets
(`concurrency:console_account:{id}`) are leases too; `concurrency:queue:*` belongs to concurrency_queues.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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

KEY_RE = re.compile(r"concurrency:(?!queue:)(.+)", re.DOTALL)
_PREFIX = "concurrency:"
_MAX_SCORE_MS = ttl.to_ms(ttl.NEVER)
_GRACE = timedelta(milliseconds=rules.LEASE_GRACE_MS)

# The key's lock row first (as acquire() takes it), then its leases replaced, then the set's expiry.
INSERT_LEASE_KEYS = "INSERT INTO lease_keys (key_id) VALUES (%s) ON DUPLICATE KEY UPDATE key_id = key_id"
DELETE_LEASES_OF_KEYS = "DELETE FROM leases WHERE key_id IN ({ids})"
INSERT_LEASES = "INSERT INTO leases (key_id, request_id, expires_at) VALUES (%s, %s, %s)"
UPSERT_LEASE_KEY_EXPIRY = f"""
    INSERT INTO lease_key_expiry (key_id, expires_at, newest_lease) VALUES (%s, %s, %s)
    ON DUPLICATE KEY UPDATE {ttl.keep_close('expires_at')}, newest_lease = VALUES(newest_lease)
"""
DELETE_LEASE_KEY_EXPIRY = "DELETE FROM lease_key_expiry WHERE key_id IN ({ids})"

# One page of key ids in primary-key order (keyset pagination) with what decides whether the set
# still exists: its newest lease and its copied PEXPIRE.
SELECT_LEASE_KEY_PAGE = """
    SELECT l.key_id, MAX(l.expires_at) AS newest, e.expires_at AS key_expires_at, e.newest_lease
    FROM leases AS l LEFT JOIN lease_key_expiry AS e ON e.key_id = l.key_id
    WHERE l.key_id > %(after)s
    GROUP BY l.key_id, e.expires_at, e.newest_lease
    ORDER BY l.key_id LIMIT %(limit)s
"""

SELECT_LEASES_OF_KEYS = """
    SELECT l.key_id, l.request_id, l.expires_at, e.expires_at AS key_expires_at, e.newest_lease
    FROM leases AS l LEFT JOIN lease_key_expiry AS e ON e.key_id = l.key_id
    WHERE l.key_id IN ({ids})
    ORDER BY l.key_id, l.request_id
"""


@dataclass(frozen=True, slots=True)
class LeaseSet:
    """One concurrency:{keyId} ZSET: (request id, expiry ms) members sorted by id, and the set's expiry."""

    key_id: str
    members: tuple[tuple[str, int], ...]
    expires_at: datetime


def key_expiry(newest: datetime, stored: datetime | None, copied_newest: datetime | None) -> datetime:
    """When the set expires: its copied PEXPIRE while the leases are as copied (same newest lease), else
    the newest lease + grace (leases acquired or extended on MySQL since: upstream re-arms the PEXPIRE)."""
    if stored is not None and copied_newest == newest:
        return stored
    return newest + _GRACE


class LeasesFamily(Family):
    name = "leases"
    sources = (KeySource(type="zset", match="concurrency:*", regex=KEY_RE),)
    tables = ("lease_keys", "leases", "lease_key_expiry")
    needs_ttl = True

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> LeaseSet:
        key_id = key[len(_PREFIX):]
        try:
            rules.check_id("key id", key_id)
        except InvalidInput as exc:
            raise DataError(f"{key}: {exc}") from None
        members = []
        for member, score in value:
            if not (isinstance(member, str) and member and len(member) <= rules.MAX_ID_LENGTH and member.isascii()
                    and member.isprintable()):
                raise DataError(f"{key}: a member is not a request id (printable ASCII, 1-191 characters)")
            if score != int(score) or not 0 <= score < _MAX_SCORE_MS:
                raise DataError(f"{key}: a member's score is not an expiry in whole epoch ms")
            members.append((member, int(score)))
        return LeaseSet(key_id, tuple(sorted(members)), ttl.expiry_of(expire_at_ms) or ttl.NEVER)

    def key_of(self, record: LeaseSet) -> str:
        return _PREFIX + record.key_id

    def write_mysql(self, cur: Any, records: Sequence[LeaseSet]) -> None:
        records = sorted(records, key=lambda r: r.key_id)   # lock rows in one order: no deadlock between copies
        ids = [r.key_id for r in records]
        bulk.executemany(cur, INSERT_LEASE_KEYS, [(i,) for i in ids])
        cur.execute(DELETE_LEASES_OF_KEYS.format(ids=_in(len(ids))), ids)
        bulk.executemany(cur, INSERT_LEASES, [(r.key_id, member, ttl.from_ms(score))
                                              for r in records for member, score in r.members])
        bulk.executemany(cur, UPSERT_LEASE_KEY_EXPIRY,
                         [(r.key_id, r.expires_at, ttl.from_ms(max(s for _, s in r.members))) for r in records])

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        ids = sorted(k[len(_PREFIX):] for k in keys)
        cur.execute(DELETE_LEASES_OF_KEYS.format(ids=_in(len(ids))), ids)
        cur.execute(DELETE_LEASE_KEY_EXPIRY.format(ids=_in(len(ids))), ids)

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        for rows in pages(pool, SELECT_LEASE_KEY_PAGE, batch_size, "key_id"):
            now = ttl.from_ms(ttl.now_ms())
            live = [_PREFIX + row["key_id"] for row in rows
                    if key_expiry(row["newest"], row["key_expires_at"], row["newest_lease"]) > now]
            if live:
                yield live

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, LeaseSet]:
        ids = [k[len(_PREFIX):] for k in keys if KEY_RE.fullmatch(k)]
        if not ids:
            return {}
        rows = pool.fetchall(SELECT_LEASES_OF_KEYS.format(ids=_in(len(ids))), ids)
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            grouped.setdefault(row["key_id"], []).append(row)
        now = ttl.from_ms(ttl.now_ms())
        out = {}
        for key_id, group in grouped.items():
            expires = key_expiry(max(row["expires_at"] for row in group), group[0]["key_expires_at"],
                                 group[0]["newest_lease"])
            if expires <= now:
                continue   # the set has expired: Redis would no longer hold it
            members = tuple((row["request_id"], ttl.to_ms(row["expires_at"])) for row in group)
            out[_PREFIX + key_id] = LeaseSet(key_id, members, expires)
        return out

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[LeaseSet]) -> None:
        for record in records:
            if not ttl.live(record.expires_at):
                continue   # expired since it was read
            full = k.concurrency(record.key_id)
            pipe.zadd(full, {member: score for member, score in record.members})
            ttl.queue_expiry(pipe, full, record.expires_at)

    def compare(self, redis_record: LeaseSet, mysql_record: LeaseSet) -> list[str]:
        diff = []
        if redis_record.members != mysql_record.members:
            diff.append("members")
        if not ttl.same_expiry(redis_record.expires_at, mysql_record.expires_at):
            diff.append("ttl")
        return diff
