"""Per-account side state (account_state_rules): balance caches, balance scripts, last test and test
config <-> account_state rows (one per key, `kind` names the key shape), test histories <->
account_test_results rows (one per list entry, newest = highest id).

Several of these keys expire (balances 3,600 s / 300 s, test history 30 days, test config 365
days): the PTTL read with the value becomes an absolute expires_at, and the rollback re-arms the
remaining TTL (migrate/ttl.py). Expired rows are neither compared nor rolled back. All of these keys
are data: nothing is derived.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...account_state_rules import check_account
from ...errors import DataError, InvalidInput
from ...jsnum import js_json
from ...mysql.account_state import hash_fields
from ...mysql.bulk import executemany
from ...mysql.expiry import LIVE
from ...mysql.pool import MySQLPool
from ...redis.keys import Keys
from .. import ttl
from ..family import Family, KeySource
from .rows import pages
from .rows import placeholders as _in

# kind (account_state.kind) -> (key prefix, Redis type), as upstream names the keys (spec §8).
KINDS: dict[str, tuple[str, str]] = {
    "balance": ("account_balance:", "hash"),
    "balance_local": ("account_balance_local:", "hash"),
    "balance_script": ("account_balance_script:", "string"),
    "last_test": ("account:last_test:", "string"),
    "test_config": ("account:test_config:", "string"),   # upstream's; relaystore's DAO does not use it
    "test_history": ("account:test_history:", "list"),
}
HISTORY = "test_history"

UPSERT_ACCOUNT_STATE = f"""
    INSERT INTO account_state (platform, account_id, kind, value, expires_at)
    VALUES (%(platform)s, %(account_id)s, %(kind)s, %(value)s, %(expires_at)s)
    ON DUPLICATE KEY UPDATE value = VALUES(value), {ttl.keep_close()}
"""

# Batches are split per (platform, kind) / per platform: `platform = ? AND account_id IN (...)` is an
# index range; a row-constructor IN of tuples also uses the index but tests every row against every tuple.
DELETE_ACCOUNT_STATE = "DELETE FROM account_state WHERE platform = %s AND kind = %s AND account_id IN ({ids})"

SELECT_ACCOUNT_STATE_BY_KEYS = f"""
    SELECT platform, account_id, kind, value, expires_at FROM account_state
    WHERE platform = %s AND kind = %s AND account_id IN ({{ids}}) AND {LIVE}
"""

SELECT_ACCOUNT_STATE_KEYS_AFTER = f"""
    SELECT platform, account_id, kind FROM account_state
    WHERE (platform > %(platform)s OR (platform = %(platform)s AND (account_id > %(account_id)s
           OR (account_id = %(account_id)s AND kind > %(kind)s)))) AND {LIVE}
    ORDER BY platform, account_id, kind LIMIT %(limit)s
"""

INSERT_TEST_RESULTS = """
    INSERT INTO account_test_results (platform, account_id, result, expires_at)
    VALUES (%(platform)s, %(account_id)s, %(result)s, %(expires_at)s)
"""

DELETE_TEST_RESULTS = "DELETE FROM account_test_results WHERE platform = %s AND account_id IN ({ids})"

# Every row of these accounts, expired or not (the copy replaces them all), oldest first.
SELECT_TEST_RESULTS_FOR_UPDATE = """
    SELECT platform, account_id, result, expires_at FROM account_test_results
    WHERE platform = %s AND account_id IN ({ids}) ORDER BY account_id, id FOR UPDATE
"""

SELECT_LIVE_TEST_RESULTS = f"""
    SELECT platform, account_id, result, expires_at FROM account_test_results
    WHERE platform = %s AND account_id IN ({{ids}}) AND {LIVE} ORDER BY account_id, id DESC
"""

SELECT_TEST_RESULT_ACCOUNTS_AFTER = f"""
    SELECT DISTINCT platform, account_id FROM account_test_results
    WHERE (platform > %(platform)s OR (platform = %(platform)s AND account_id > %(account_id)s)) AND {LIVE}
    ORDER BY platform, account_id LIMIT %(limit)s
"""


@dataclass(frozen=True)
class StateRecord:
    """One key: a hash (dict), a string, or a test history (tuple, newest first), and its expiry (naive UTC)."""

    platform: str
    account_id: str
    kind: str
    value: Any
    expires_at: datetime | None


def _grouped(items: Sequence[tuple[Any, str]]) -> dict[Any, list[str]]:
    """{group: [account id, ...]} of (group, account id) pairs, for one IN list per group."""
    out: dict[Any, list[str]] = {}
    for group, account_id in items:
        out.setdefault(group, []).append(account_id)
    return out


def split_key(key: str) -> tuple[str, str, str]:
    """(kind, platform, account id) of a relative key; ValueError for other keys."""
    for kind, (prefix, _) in KINDS.items():
        if key.startswith(prefix):
            platform, sep, account_id = key[len(prefix):].partition(":")
            if sep:
                return kind, platform, account_id
    raise ValueError(f"{key} is not an account-state key")


def key_of(kind: str, platform: str, account_id: str) -> str:
    return f"{KINDS[kind][0]}{platform}:{account_id}"


class AccountStateFamily(Family):
    name = "account_state"
    # {prefix}{platform}:{account id}; the id may hold ':' (decode refuses what MySQL cannot hold).
    # Two SCANs serve the six sources (scan_family): account_balance* and account:*.
    sources = tuple(KeySource(type=kind_type, match=prefix[:15] + "*" if prefix.startswith("account_balance")
                              else "account:*", regex=re.compile(re.escape(prefix) + r"[^:]+:.+"))
                    for prefix, kind_type in KINDS.values())
    tables = ("account_state", "account_test_results")
    needs_ttl = True

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> StateRecord:
        kind, platform, account_id = split_key(key)
        try:
            check_account(platform, account_id)
        except InvalidInput as exc:
            raise DataError(f"{key}: {exc}") from None
        if kind == HISTORY:
            if expire_at_ms is not None and expire_at_ms < 0:
                # account_test_results.expires_at is NOT NULL: every upstream push re-arms 30 days.
                raise DataError(f"{key}: test history without a TTL (upstream always sets one)")
            value = tuple(value)
        elif isinstance(value, dict):
            value = dict(value)
        return StateRecord(platform, account_id, kind, value, ttl.expiry_of(expire_at_ms))

    def check(self, record: StateRecord, checker: Any) -> None:
        key = self.key_of(record)
        if record.kind == HISTORY:
            for item in record.value:
                checker.check("account_test_results", {"platform": record.platform, "account_id": record.account_id,
                                                       "result": item, "expires_at": record.expires_at}, key)
        else:
            checker.check("account_state", self._row(record), key)

    @staticmethod
    def _row(record: StateRecord) -> dict[str, Any]:
        value = js_json(record.value) if isinstance(record.value, dict) else record.value
        return {"platform": record.platform, "account_id": record.account_id, "kind": record.kind, "value": value,
                "expires_at": record.expires_at}

    def key_of(self, record: StateRecord) -> str:
        return key_of(record.kind, record.platform, record.account_id)

    def write_mysql(self, cur: Any, records: Sequence[StateRecord]) -> None:
        executemany(cur, UPSERT_ACCOUNT_STATE, [self._row(r) for r in records if r.kind != HISTORY])
        histories = [r for r in records if r.kind == HISTORY]
        if histories:
            self._write_histories(cur, histories)

    def _write_histories(self, cur: Any, records: Sequence[StateRecord]) -> None:
        """Replace each history's rows, except those already equal (a re-run keeps their ids)."""
        stored: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for platform, ids in _grouped([(r.platform, r.account_id) for r in records]).items():
            cur.execute(SELECT_TEST_RESULTS_FOR_UPDATE.format(ids=_in(len(ids))), [platform, *ids])
            for row in cur.fetchall():
                stored.setdefault((row["platform"], row["account_id"]), []).insert(0, row)   # newest first
        changed = []
        for record in records:
            rows = stored.get((record.platform, record.account_id), [])
            if (tuple(row["result"] for row in rows) != record.value
                    or not all(ttl.same_expiry(row["expires_at"], record.expires_at) for row in rows)):
                changed.append(record)
        if not changed:
            return
        self._delete_histories(cur, [(r.platform, r.account_id) for r in changed])
        # Oldest first, so the newest entry gets the highest id (what the DAO reads first).
        executemany(cur, INSERT_TEST_RESULTS, [
            {"platform": r.platform, "account_id": r.account_id, "result": item, "expires_at": r.expires_at}
            for r in changed for item in reversed(r.value)])

    @staticmethod
    def _delete_histories(cur: Any, pairs: Sequence[tuple[str, str]]) -> None:
        for platform, ids in _grouped(pairs).items():
            cur.execute(DELETE_TEST_RESULTS.format(ids=_in(len(ids))), [platform, *ids])

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        parts = [split_key(k) for k in keys]
        for (platform, kind), ids in _grouped([((p, kind), a) for kind, p, a in parts if kind != HISTORY]).items():
            cur.execute(DELETE_ACCOUNT_STATE.format(ids=_in(len(ids))), [platform, kind, *ids])
        self._delete_histories(cur, [(p, a) for kind, p, a in parts if kind == HISTORY])

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        for rows in pages(pool, SELECT_ACCOUNT_STATE_KEYS_AFTER, batch_size, "platform", "account_id", "kind"):
            yield [key_of(r["kind"], r["platform"], r["account_id"]) for r in rows if r["kind"] in KINDS]
        for rows in pages(pool, SELECT_TEST_RESULT_ACCOUNTS_AFTER, batch_size, "platform", "account_id"):
            yield [key_of(HISTORY, r["platform"], r["account_id"]) for r in rows]

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, StateRecord]:
        parts = [split_key(k) for k in keys]
        out: dict[str, StateRecord] = {}
        state_rows: list[dict[str, Any]] = []
        for (platform, kind), ids in _grouped([((p, kind), a) for kind, p, a in parts if kind != HISTORY]).items():
            state_rows += pool.fetchall(SELECT_ACCOUNT_STATE_BY_KEYS.format(ids=_in(len(ids))), [platform, kind, *ids])
        for row in state_rows:
            kind = row["kind"]
            key = key_of(kind, row["platform"], row["account_id"])
            value = row["value"]
            if KINDS[kind][1] == "hash":
                value = hash_fields(value, f"account_state row for {key}")
            out[key] = StateRecord(row["platform"], row["account_id"], kind, value, row["expires_at"])
        items: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for platform, ids in _grouped([(p, a) for kind, p, a in parts if kind == HISTORY]).items():
            for row in pool.fetchall(SELECT_LIVE_TEST_RESULTS.format(ids=_in(len(ids))), [platform, *ids]):
                items.setdefault((row["platform"], row["account_id"]), []).append(row)
        for (platform, account_id), rows in items.items():
            expiries = [row["expires_at"] for row in rows]
            out[key_of(HISTORY, platform, account_id)] = StateRecord(
                platform, account_id, HISTORY, tuple(row["result"] for row in rows),
                max(expiries) if None not in expiries else None)
        return out

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[StateRecord]) -> None:
        for record in records:
            if not ttl.live(record.expires_at):
                continue
            full = k.prefix + self.key_of(record)
            kind_type = KINDS[record.kind][1]
            if kind_type == "hash":
                if not record.value:
                    continue
                pipe.hset(full, mapping=record.value)
            elif kind_type == "list":
                pipe.rpush(full, *record.value)
            else:
                pipe.set(full, record.value)
            ttl.queue_expiry(pipe, full, record.expires_at)

    def compare(self, redis_record: StateRecord, mysql_record: StateRecord) -> list[str]:
        diff = [] if redis_record.value == mysql_record.value else ["value"]
        if not ttl.same_expiry(redis_record.expires_at, mysql_record.expires_at):
            diff.append("ttl")
        return diff
