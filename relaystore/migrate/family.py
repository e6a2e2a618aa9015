"""The Family adapter contract: one upstream Redis key family <-> its MySQL tables.

Adding a family to the migration is one module in families/ that subclasses Family, plus one line
in families/__init__.py. Every operation (copy, verify, rollback, dual-mode writes) is written
once against this contract, so a family only says how its keys look and how one record maps.

Keys are always *relative* (upstream's names, without REDIS_KEY_PREFIX); the tooling adds the
prefix. Records are whatever the family's DAOs use (ApiKey, ...), compared with compare().
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..mysql.pool import MySQLPool
from ..redis.keys import Keys

REDIS_TYPES = ("string", "hash", "list", "set", "zset", "stream")


@dataclass(frozen=True)
class KeySource:
    """One shape of key a family owns: SCAN MATCH glob + full-match regex on the name + Redis type.

    `match` is a glob relative to the prefix (upstream's `apikey:*` also matches apikey:hash_map,
    apikey:idx:*, ...: `regex` keeps only the family's own keys). `names` lists exact key names
    instead (singletons): they are looked up directly, never scanned for. A key of this shape
    that is not of `type` is reported as a bad value. Sources of one family must not overlap.
    """

    type: str
    regex: re.Pattern[str]
    match: str | None = None
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in REDIS_TYPES:
            raise ValueError(f"unknown Redis type {self.type!r}")
        if (self.match is None) == (not self.names):
            raise ValueError("a KeySource has either a match pattern or exact names")

    def owns(self, key: str) -> bool:
        return self.regex.fullmatch(key) is not None


class Family:
    """Base adapter; subclasses set name/sources/tables and implement the record mapping."""

    name: str = ""
    sources: tuple[KeySource, ...] = ()
    tables: tuple[str, ...] = ()    # MySQL tables it writes (checked to exist before a run)
    needs_ttl: bool = False         # decode() gets the key's absolute expiry (fetched only then: it costs a command)

    def owns(self, key: str) -> KeySource | None:
        """The source a relative key belongs to, or None (keys of other families, index keys)."""
        for source in self.sources:
            if source.owns(key):
                return source
        return None

    def label(self, key: str) -> str:
        """How reports and logs name a key: the key itself, unless its name holds a secret (a session
        token), which a family then redacts. Every message the tooling prints goes through this."""
        return key

    def estimate(self, client: Any, k: Keys) -> int | None:
        """Roughly how many keys a scan will find (for the progress bar), or None when unknown."""
        return None

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> Any:
        """The record stored under `key` (value as fetched for its type); DataError names the key.

        `expire_at_ms` is the key's absolute expiry in epoch ms (-1: no TTL) when the family sets needs_ttl,
        else None: Redis's own (PEXPIRETIME), which every copy reads identically; see migrate/ttl.py.
        """
        raise NotImplementedError

    def decode_fetched(self, item: Any) -> Any:
        """decode() of a redis_reader.Fetched key, with its absolute expiry when the family needs it."""
        return self.decode(item.key, item.value, item.expire_at_ms if self.needs_ttl else None)

    def check(self, record: Any, checker: Any) -> None:
        """Refuse (DataError naming the key) a record MySQL would reject; default: nothing to check."""

    def key_of(self, record: Any) -> str:
        """The relative Redis key a record lives under."""
        raise NotImplementedError

    def write_mysql(self, cur: Any, records: Sequence[Any]) -> None:
        """Absolute upsert of whole records inside the caller's transaction (a re-run changes nothing)."""
        raise NotImplementedError

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        """Remove the records of these keys (their Redis key is gone) inside the caller's transaction."""
        raise NotImplementedError

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        """The relative keys of every record in MySQL, in batches (verify, rollback, catch-up prune)."""
        raise NotImplementedError

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, Any]:
        """{key: record} for those of `keys` that MySQL holds."""
        raise NotImplementedError

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[Any]) -> None:
        """Queue upstream's layout of these records (derived indexes and TTLs included) on a pipeline."""
        raise NotImplementedError

    def compare(self, redis_record: Any, mysql_record: Any) -> list[str]:
        """Names of the fields that differ (empty when equal); default: whole-record equality."""
        return [] if redis_record == mysql_record else ["record"]

    def __repr__(self) -> str:
        return f"<Family {self.name}>"
