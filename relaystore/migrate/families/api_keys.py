"""API keys: each `apikey:{id}` hash <-> one api_keys row (+ its api_key_tags rows).

Only the apikey:{id} hashes are data. apikey:hash_map, the legacy apikey_hash:{hash} records and the
apikey:idx:* / apikey:set:* / apikey:tag:* / apikey:tags:all indexes are derived from them: they are
not copied, and the rollback rebuilds them with the Redis DAO's own queue_write().
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import fields as dc_fields
from typing import Any

from ...errors import DataError
from ...mysql import api_keys as mysql_api_keys
from ...mysql.pool import MySQLPool
from ...records import ApiKey
from ...redis import api_keys as redis_api_keys
from ...redis.keys import Keys
from ..family import Family, KeySource
from .rows import key_pages

# apikey:{id} with exactly one colon; apikey:hash_map is the one other single-colon hash.
KEY_RE = re.compile(r"apikey:(?!hash_map\Z)([^:]+)")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DECIMAL_FIELDS = ("rate_limit_cost", "daily_cost_limit", "total_cost_limit", "weekly_opus_cost_limit")
_FIELD_NAMES = tuple(f.name for f in dc_fields(ApiKey))

# Verify and rollback read the rows of one batch of keys by primary key.
SELECT_API_KEYS_BY_IDS = f"SELECT {mysql_api_keys._packed()} AS r FROM api_keys WHERE id IN ({{ids}})"

# Every id in primary-key order, one page after another (keyset pagination, no OFFSET scans).
SELECT_API_KEY_IDS_AFTER = "SELECT id FROM api_keys WHERE id > %(after)s ORDER BY id LIMIT %(limit)s"


class ApiKeysFamily(Family):
    name = "api_keys"
    sources = (KeySource(type="hash", match="apikey:*", regex=KEY_RE),)
    tables = ("api_keys", "api_key_tags")

    def estimate(self, client: Any, k: Keys) -> int | None:
        """apikey:idx:all lists every key id upstream indexed (deleted ones included)."""
        return int(client.scard(k.api_key_idx_all)) or None

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> ApiKey:
        """The Redis DAO's decoder, plus what MySQL needs: matching id, a hex hash, a creation time."""
        record = redis_api_keys.decode(value, key)
        if record.id != key.partition(":")[2]:
            raise DataError(f"{key}: field id does not match the key name")
        if not _HEX64.fullmatch(record.key_hash):
            raise DataError(f"{key}: field apiKey is not a lowercase SHA-256 hex digest")
        if record.created_at is None:
            raise DataError(f"{key}: required field createdAt is missing")
        return record

    def check(self, record: ApiKey, checker: Any) -> None:
        key = self.key_of(record)
        checker.check("api_keys", mysql_api_keys.to_row(record), key)
        for tag in record.tags:
            checker.check("api_key_tags", {"tag": tag, "api_key_id": record.id}, key)

    def key_of(self, record: ApiKey) -> str:
        return f"apikey:{record.id}"

    def write_mysql(self, cur: Any, records: Sequence[ApiKey]) -> None:
        mysql_api_keys.upsert_api_keys(cur, records)

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        mysql_api_keys.delete_api_keys(cur, [k.partition(":")[2] for k in keys])

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        return key_pages(pool, SELECT_API_KEY_IDS_AFTER, "id", "apikey:", batch_size)

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, ApiKey]:
        ids = [k.partition(":")[2] for k in keys]
        if not ids:
            return {}
        rows = pool.fetchall(SELECT_API_KEYS_BY_IDS.format(ids=", ".join(["%s"] * len(ids))), ids)
        keys = (mysql_api_keys.from_packed(row["r"]) for row in rows)
        return {f"apikey:{key.id}": key for key in keys}

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[ApiKey]) -> None:
        for record in records:
            redis_api_keys.queue_write(pipe, k, record)

    def compare(self, redis_record: ApiKey, mysql_record: ApiKey) -> list[str]:
        """Field by field; money limits compared at the DECIMAL(20,6) scale MySQL stores them in."""
        diff = []
        for name in _FIELD_NAMES:
            a, b = getattr(redis_record, name), getattr(mysql_record, name)
            if name in _DECIMAL_FIELDS:
                a, b = round(a, 6), round(b, 6)
            if a != b:
                diff.append(name)
        return diff
