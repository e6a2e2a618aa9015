"""Accounts of every platform: each `{platform prefix}{id}` record <-> one `accounts` row.

The record is upstream's stored form: a hash (Bedrock: a JSON string). Typed fields go to their
columns, every other field (secrets still encrypted exactly as upstream stored them, fields
relaystore does not model) verbatim into `data`; nothing is ever decrypted here. The platform
index SETs (`{prefix}index`, its `:empty` marker) and the shared-pool SETs are derived from the
records: not copied, rebuilt by the rollback through the Redis DAO's queue_layout().

Typed fields are written back in relaystore's canonical form (what the DAO writes): an upstream
value such as priority "50.0" or a missing status comes back as "50" / "active", equal in meaning.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ... import account_rules as rules
from ...errors import DataError
from ...mysql import accounts as mysql_accounts
from ...mysql.bulk import executemany
from ...mysql.pool import MySQLPool
from ...redis import accounts as redis_accounts
from ...redis.keys import Keys
from ..family import Family, KeySource
from .rows import pages
from .rows import placeholders as _in

_K = Keys("")
# platform -> its key prefix ("claude:account:", "bedrock_account:", ...), from the Redis layout's own table.
PREFIXES = {platform: _K.account_prefix(platform) for platform in rules.PLATFORMS}
_TYPED_ATTRS = tuple(attr for attr, _ in rules.TYPED if attr != "id")
_MISSING = object()

UPSERT_ACCOUNTS = (
    f"INSERT INTO accounts ({', '.join(mysql_accounts.COLUMNS)}) VALUES ("
    + ", ".join(f"%({c})s" for c in mysql_accounts.COLUMNS) + ") ON DUPLICATE KEY UPDATE "
    + ", ".join(f"{c} = VALUES({c})" for c in mysql_accounts.COLUMNS if c not in ("platform", "id"))
)

# One statement per platform in a batch: `platform = ? AND id IN (...)` is a primary-key range; a
# row-constructor IN of (platform, id) pairs also uses it but tests every row against every pair.
DELETE_ACCOUNTS = "DELETE FROM accounts WHERE platform = %s AND id IN ({ids})"

# Upstream's delete removes the account from every group's member SET: its rows go with it.
DELETE_MEMBERSHIPS_OF = "DELETE FROM account_group_members WHERE account_id IN ({ids})"

SELECT_ACCOUNTS_BY_KEYS = (f"SELECT {', '.join(mysql_accounts.COLUMNS)} FROM accounts "
                           "WHERE platform = %s AND id IN ({ids})")

# Every (platform, id) in primary-key order, page after page (keyset pagination).
SELECT_ACCOUNT_KEYS_AFTER = """
    SELECT platform, id FROM accounts
    WHERE platform > %(platform)s OR (platform = %(platform)s AND id > %(id)s)
    ORDER BY platform, id LIMIT %(limit)s
"""


@dataclass
class StoredAccount:
    """One account as stored: typed attributes (read as upstream does) + the other fields verbatim."""

    platform: str
    id: str
    typed: dict[str, Any]
    fields: dict[str, Any] = field(repr=False)   # holds ciphertexts: never in a repr or a log


def by_platform(keys: Sequence[str]) -> dict[str, list[str]]:
    """{platform: [account id, ...]} of relative account keys."""
    out: dict[str, list[str]] = {}
    for key in keys:
        platform, account_id = split_key(key)
        out.setdefault(platform, []).append(account_id)
    return out


def split_key(key: str) -> tuple[str, str]:
    """(platform, id) of a relative account key; ValueError for a key of no platform."""
    for platform, prefix in PREFIXES.items():
        if key.startswith(prefix):
            return platform, key[len(prefix):]
    raise ValueError(f"{key} is not an account key")


# Every platform prefix ends in "account:": one SCAN serves all ten sources (scan_family), not ten.
MATCH = "*account:*"
assert all(prefix.endswith("account:") for prefix in PREFIXES.values())


def _source(platform: str) -> KeySource:
    prefix = PREFIXES[platform]
    # One segment after the prefix; `{prefix}index` is the index SET, `{prefix}index:empty` its marker.
    return KeySource(type="string" if rules.PLATFORMS[platform].json_record else "hash", match=MATCH,
                     regex=re.compile(re.escape(prefix) + r"(?!index\Z)[^:]+"))


class AccountsFamily(Family):
    name = "accounts"
    sources = tuple(_source(platform) for platform in PREFIXES)
    tables = ("accounts",)

    def estimate(self, client: Any, k: Keys) -> int | None:
        pipe = client.pipeline(transaction=False)
        for platform in PREFIXES:
            pipe.scard(k.account_index(platform))
        return sum(int(n) for n in pipe.execute()) or None

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> StoredAccount:
        platform, account_id = split_key(key)
        spec = rules.PLATFORMS[platform]
        if not rules.valid_id(account_id):
            raise DataError(f"{key}: account id is not 1-64 letters, digits, '_', '.', '-'")
        stored = redis_accounts.stored_from_json(value, key) if spec.json_record else value
        typed = rules.decode_typed(stored, key)
        return StoredAccount(platform, account_id, typed,
                             {k: v for k, v in stored.items() if k not in rules.TYPED_UPSTREAM})

    def _row(self, record: StoredAccount) -> dict[str, Any]:
        return mysql_accounts.to_row(record.platform, record.id, record.typed, record.fields)

    def check(self, record: StoredAccount, checker: Any) -> None:
        checker.check("accounts", self._row(record), self.key_of(record))

    def key_of(self, record: StoredAccount) -> str:
        return PREFIXES[record.platform] + record.id

    def write_mysql(self, cur: Any, records: Sequence[StoredAccount]) -> None:
        executemany(cur, UPSERT_ACCOUNTS, [self._row(r) for r in records])

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        if not keys:
            return
        groups = by_platform(keys)
        for platform, ids in groups.items():
            cur.execute(DELETE_ACCOUNTS.format(ids=_in(len(ids))), [platform, *ids])
        every = sorted({account_id for ids in groups.values() for account_id in ids})
        cur.execute(DELETE_MEMBERSHIPS_OF.format(ids=_in(len(every))), every)

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        for rows in pages(pool, SELECT_ACCOUNT_KEYS_AFTER, batch_size, "platform", "id"):
            yield [PREFIXES[row["platform"]] + row["id"] for row in rows if row["platform"] in PREFIXES]

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, StoredAccount]:
        rows = []
        for platform, ids in by_platform(keys).items():
            rows += pool.fetchall(SELECT_ACCOUNTS_BY_KEYS.format(ids=_in(len(ids))), [platform, *ids])
        out = {}
        for row in rows:
            where = f"accounts row {row['platform']}/{row['id']}"
            record = StoredAccount(row["platform"], row["id"], mysql_accounts.MySQLAccounts._typed(row),
                                   mysql_accounts.MySQLAccounts._stored(row, where))
            out[self.key_of(record)] = record
        return out

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[StoredAccount]) -> None:
        for record in records:
            spec = rules.PLATFORMS[record.platform]
            stored = rules.encode_typed(spec, {**record.typed, "id": record.id})
            stored.update(record.fields)
            redis_accounts.queue_layout(pipe, k, spec, record.id, stored, record.typed["account_type"])

    def compare(self, redis_record: StoredAccount, mysql_record: StoredAccount) -> list[str]:
        """Typed attributes, then every other field by name (ciphertexts compared as stored, never decrypted)."""
        diff = [a for a in _TYPED_ATTRS if redis_record.typed.get(a) != mysql_record.typed.get(a)]
        a, b = redis_record.fields, mysql_record.fields
        diff += sorted(name for name in set(a) | set(b) if a.get(name, _MISSING) != b.get(name, _MISSING))
        return diff

