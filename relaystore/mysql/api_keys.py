"""API keys on MySQL: one row per key, a unique index on the 32-byte hash, tags in api_key_tags."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields as dc_fields
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from .. import apikey_rules as rules
from ..config import Settings
from ..errors import AlreadyExists, DataError, InvalidInput, NotFound
from ..records import ApiKey, AuthResult, Page
from ..timefmt import utcnow
from . import bulk
from .pool import MySQLPool, prepared

_JSON_TUPLES = ("permissions", "restricted_models", "allowed_clients", "tags", "openai_responses_payload_rules")
_JSON_DICTS = ("service_rates", "extra")
_BOOLS = tuple(f.name for f in dc_fields(ApiKey) if f.type == "bool")
_FLOATS = ("rate_limit_cost", "daily_cost_limit", "total_cost_limit", "weekly_opus_cost_limit")
_TIMES = tuple(f.name for f in dc_fields(ApiKey) if f.type == "datetime | None")
COLUMNS = tuple(f.name for f in dc_fields(ApiKey))
_SELECT_LIST = ", ".join(COLUMNS)


def _packed(alias: str = "") -> str:
    """Every column, in record order, packed into ONE JSON array column.

    PyMySQL parses a column-definition packet per result column in Python on every query; for 55
    columns that was ~2/3 of the auth path's time. One JSON column costs one definition, and the
    row decodes in C (json.loads). Hash as lower-case hex (a BINARY value has no JSON form).
    DATETIME arrives as "YYYY-MM-DD hh:mm:ss.fff" (MariaDB; MySQL 8 documents six fraction digits,
    which the decoder reads too) and DECIMAL as a JSON number; TEXT columns holding JSON stay
    strings, so their text is decoded exactly as stored.
    """
    return "JSON_ARRAY(" + ", ".join(f"LOWER(HEX({alias}{c}))" if c == "key_hash" else alias + c
                                     for c in COLUMNS) + ")"


# Auth hot path: one indexed point read (uq_api_keys_key_hash), every column the relay needs;
# prepared server-side where the server allows it (pool.prepared), which saves its parse.
SELECT_API_KEY_BY_HASH = f"SELECT {_packed()} AS r FROM api_keys WHERE key_hash = %(key_hash)s"
_AUTH_STATEMENT = prepared("relaystore_auth_key", SELECT_API_KEY_BY_HASH)

SELECT_API_KEY_BY_ID = f"SELECT {_packed()} AS r FROM api_keys WHERE id = %(id)s"

INSERT_API_KEY = (f"INSERT INTO api_keys ({_SELECT_LIST}) VALUES ("
                  + ", ".join(f"%({c})s" for c in COLUMNS) + ")")

UPDATE_API_KEY = ("UPDATE api_keys SET "
                  + ", ".join(f"{c} = %({c})s" for c in COLUMNS if c not in ("id", "created_at"))
                  + " WHERE id = %(id)s")

# First use of an activation-mode key; the is_activated guard makes a racing second activation a no-op.
ACTIVATE_API_KEY = """
    UPDATE api_keys
    SET is_activated = 1, activated_at = %(activated_at)s, expires_at = %(expires_at)s,
        last_used_at = %(last_used_at)s
    WHERE id = %(id)s AND is_activated = 0
"""

DELETE_API_KEY = "DELETE FROM api_keys WHERE id = %(id)s AND is_deleted = 1"
DELETE_API_KEY_TAGS = "DELETE FROM api_key_tags WHERE api_key_id = %(id)s"

# Absolute write of whole records (put(), migration, dual writes): a re-run leaves the row identical.
# A plain INSERT ... VALUES (...) so PyMySQL's executemany() sends many rows per statement.
# VALUES(col) in ON DUPLICATE KEY UPDATE is deprecated on MySQL 8.0.20+ but still supported there,
# and it is the only form MariaDB 10.11 accepts (it has no `AS new` row alias).
UPSERT_API_KEY = (INSERT_API_KEY + " ON DUPLICATE KEY UPDATE "
                  + ", ".join(f"{c} = VALUES({c})" for c in COLUMNS if c != "id"))

# Tag rows: unlike INSERT IGNORE, a tag too long for its column is refused (strict mode) instead of
# being cut short; tags equal under the column's PAD SPACE collation collapse into one row.
INSERT_API_KEY_TAG = ("INSERT INTO api_key_tags (tag, api_key_id) VALUES (%s, %s) "
                             "ON DUPLICATE KEY UPDATE tag = tag")

# Tag rows of several keys at once; {ids} is a run of %s placeholders, never data.
DELETE_API_KEY_TAGS_FOR_KEYS = "DELETE FROM api_key_tags WHERE api_key_id IN ({ids})"

# Which ids own these hashes: upsert_api_keys refuses to give a hash to a second key.
SELECT_API_KEY_IDS_BY_HASHES = "SELECT id, key_hash FROM api_keys WHERE key_hash IN ({hashes})"

DELETE_API_KEYS = "DELETE FROM api_keys WHERE id IN ({ids})"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_json_text = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _list_text(value: tuple[Any, ...]) -> str:
    return _json_text(list(value)) if value else "[]"


def _dict_text(value: dict[str, Any]) -> str:
    return _json_text(value) if value else "{}"


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None)


# column -> converter from the record's value (None: stored as is); table-driven for bulk copies
_TO_COLUMN: tuple[tuple[str, Any], ...] = tuple(
    (name, bytes.fromhex if name == "key_hash" else _list_text if name in _JSON_TUPLES
     else _dict_text if name in _JSON_DICTS else _naive_utc if name in _TIMES else None)
    for name in COLUMNS)


def to_row(key: ApiKey) -> dict[str, Any]:
    """Column values for a record (times as naive UTC, JSON fields as compact text, hash as bytes)."""
    return {name: getattr(key, name) if convert is None else convert(getattr(key, name))
            for name, convert in _TO_COLUMN}


def _time(value: str | None) -> datetime | None:
    # Parsing the zone with the value is ~5x faster than .replace(tzinfo=...) afterwards.
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def _json_tuple(value: str) -> tuple[Any, ...]:
    return () if value == "[]" or value == "" else tuple(json.loads(value))


def _json_dict(value: str) -> Any:
    return {} if value == "{}" or value == "" else json.loads(value)


# (position in COLUMNS, converter) for every column whose JSON form is not already the record's type.
_CONVERSIONS: tuple[tuple[int, Any], ...] = tuple(
    (i, conv) for i, name in enumerate(COLUMNS)
    for conv in [bool if name in _BOOLS else float if name in _FLOATS else _time if name in _TIMES
                 else _json_tuple if name in _JSON_TUPLES else _json_dict if name in _JSON_DICTS else None]
    if conv is not None)


def from_packed(packed: str) -> ApiKey:
    """A record from the _packed() column; DataError names the row and column of a bad JSON value."""
    try:
        values = json.loads(packed)
    except ValueError:
        raise DataError("api_keys: a packed row from the server is not valid JSON") from None
    try:
        for i, convert in _CONVERSIONS:
            values[i] = convert(values[i])
    except ValueError:
        name = COLUMNS[i]
        problem = "is not valid JSON" if name in _JSON_TUPLES + _JSON_DICTS else "cannot be decoded"
        raise DataError(f"api_keys row {values[0]}: column {name} {problem}") from None
    return ApiKey(*values)


def _placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


def hash_owners(cur: Any, keys: Sequence[ApiKey]) -> dict[str, str]:
    """{key_hash hex: id} of the stored rows holding any of these keys' hashes."""
    hashes = list(dict.fromkeys(bytes.fromhex(k.key_hash) for k in keys))
    if not hashes:
        return {}
    cur.execute(SELECT_API_KEY_IDS_BY_HASHES.format(hashes=_placeholders(len(hashes))), hashes)
    return {row["key_hash"].hex(): row["id"] for row in cur.fetchall()}


def upsert_api_keys(cur: Any, keys: Sequence[ApiKey]) -> None:
    """Write whole records and their tag rows, created or replaced; run inside the caller's transaction.

    Raises AlreadyExists (naming ids only) when a hash belongs to another stored key: ON DUPLICATE
    KEY UPDATE would otherwise overwrite that other row through the unique hash index.
    """
    if not keys:
        return
    claimants: dict[str, list[str]] = {}
    for k in keys:
        claimants.setdefault(k.key_hash, []).append(k.id)
    for ids in claimants.values():
        if len(set(ids)) > 1:
            raise AlreadyExists(f"API keys {' and '.join(sorted(set(ids)))} have the same hash")
    mine = {k.id for k in keys}
    for key_hash, owner in hash_owners(cur, keys).items():
        if owner not in mine:
            raise AlreadyExists(f"API key {claimants[key_hash][0]}: its hash already belongs to API key {owner}")
    bulk.executemany(cur, UPSERT_API_KEY, [to_row(k) for k in keys])
    id_list = list(dict.fromkeys(k.id for k in keys))
    cur.execute(DELETE_API_KEY_TAGS_FOR_KEYS.format(ids=_placeholders(len(id_list))), id_list)
    tag_rows = [(tag, k.id) for k in keys for tag in dict.fromkeys(k.tags)]
    if tag_rows:
        bulk.executemany(cur, INSERT_API_KEY_TAG, tag_rows)


def delete_api_keys(cur: Any, key_ids: Sequence[str]) -> None:
    """Remove these keys' rows and tag rows whatever their state (migration mirrors a purged Redis key)."""
    if not key_ids:
        return
    ids = list(key_ids)
    cur.execute(DELETE_API_KEY_TAGS_FOR_KEYS.format(ids=_placeholders(len(ids))), ids)
    cur.execute(DELETE_API_KEYS.format(ids=_placeholders(len(ids))), ids)


class MySQLApiKeys:
    """store.api_keys on MySQL."""

    def __init__(self, pool: MySQLPool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings

    @staticmethod
    def _write_tags(cur: Any, key: ApiKey) -> None:
        cur.execute(DELETE_API_KEY_TAGS, {"id": key.id})
        if key.tags:
            cur.executemany(INSERT_API_KEY_TAG, [(tag, key.id) for tag in dict.fromkeys(key.tags)])

    def create(self, name: str, **settings: Any) -> tuple[ApiKey, str]:
        """Create a key; returns the record and the raw key (shown once, only its hash is stored)."""
        key, raw = rules.new_api_key(name, settings, prefix=self._settings.api_key_prefix,
                                     encryption_key=self._settings.encryption_key, now=utcnow())
        with self._pool.transaction() as cur:
            cur.execute(INSERT_API_KEY, to_row(key))
            if key.tags:
                self._write_tags(cur, key)
        return key, raw

    def put(self, key: ApiKey) -> None:
        """Store this exact record (create or replace, tags included); idempotent (dual writes, rollback)."""
        with self._pool.transaction() as cur:
            upsert_api_keys(cur, [key])

    def get(self, key_id: str) -> ApiKey | None:
        """The key with this id, or None."""
        row = self._pool.fetchone(SELECT_API_KEY_BY_ID, {"id": key_id})
        return from_packed(row["r"]) if row else None

    def _require(self, key_id: str) -> ApiKey:
        key = self.get(key_id)
        if key is None:
            raise NotFound(f"API key {key_id} does not exist")
        return key

    def authenticate(self, raw_key: str) -> AuthResult:
        """One indexed read; a first-use activation adds one guarded UPDATE."""
        if not rules.plausible_raw_key(raw_key, self._settings.api_key_prefix):
            return AuthResult(False, "unknown")
        key_hash = bytes.fromhex(rules.hash_raw_key(raw_key, self._settings.encryption_key))
        row = self._pool.fetchone_prepared(_AUTH_STATEMENT, {"key_hash": key_hash})
        if row is None:
            return AuthResult(False, "unknown")
        key = from_packed(row["r"])
        now = utcnow()
        if not key.is_deleted and key.is_active and rules.needs_activation(key):
            activated = rules.activate(key, now)
            params = to_row(activated)
            with self._pool.cursor() as cur:
                changed = cur.execute(ACTIVATE_API_KEY, params)
            key = activated if changed else (self.get(key.id) or activated)
        reason = rules.refusal(key, now)
        return AuthResult(reason is None, reason, key)

    def _save(self, new: ApiKey, old: ApiKey) -> None:
        with self._pool.transaction() as cur:
            cur.execute(UPDATE_API_KEY, to_row(new))
            if new.tags != old.tags:
                self._write_tags(cur, new)

    def update(self, key_id: str, **fields: Any) -> ApiKey:
        """Change settings; raises NotFound for an unknown id and InvalidInput for an unknown field."""
        rules.check_settings(fields)
        old = self._require(key_id)
        new = rules.apply_update(old, fields)
        self._save(new, old)
        return new

    def delete(self, key_id: str, *, deleted_by: str = "admin", deleted_by_type: str = "admin") -> ApiKey:
        """Soft delete: the row stays (usage reports keep their key), authentication refuses it."""
        key = self._require(key_id)
        if key.is_deleted:
            return key
        new = replace(key, is_deleted=True, is_active=False, deleted_at=utcnow(),
                      deleted_by=deleted_by, deleted_by_type=deleted_by_type)
        self._save(new, key)
        return new

    def restore(self, key_id: str, *, restored_by: str = "admin", restored_by_type: str = "admin") -> ApiKey:
        """Undo a soft delete: reactivate and clear the deletion fields."""
        key = self._require(key_id)
        if not key.is_deleted:
            raise InvalidInput(f"API key {key_id} is not deleted")
        new = replace(key, is_deleted=False, is_active=True, deleted_at=None, deleted_by="",
                      deleted_by_type="", restored_at=utcnow(), restored_by=restored_by,
                      restored_by_type=restored_by_type)
        self._save(new, key)
        return new

    def purge(self, key_id: str) -> None:
        """Permanent delete of a soft-deleted key (its row and tag rows)."""
        key = self._require(key_id)
        if not key.is_deleted:
            raise InvalidInput(f"API key {key_id} must be deleted before it is purged")
        with self._pool.transaction() as cur:
            cur.execute(DELETE_API_KEY_TAGS, {"id": key_id})
            cur.execute(DELETE_API_KEY, {"id": key_id})

    def list(self, *, page: int = 1, page_size: int = 50, active: bool | None = None, tag: str | None = None,
             search: str | None = None, include_deleted: bool = False) -> Page[ApiKey]:
        """Newest first; one query returns the page and the total (COUNT(*) OVER ())."""
        if page < 1 or page_size < 1:
            raise InvalidInput("page and page_size must be at least 1")
        where = []
        params: dict[str, Any] = {"limit": page_size, "offset": (page - 1) * page_size}
        if not include_deleted:
            where.append("k.is_deleted = 0")
        if active is not None:
            where.append("k.is_active = %(active)s AND k.is_deleted = 0" if active else "k.is_active = 0")
            params["active"] = 1
        if search is not None:
            where.append("k.name LIKE %(search)s")
            params["search"] = f"%{_escape_like(search)}%"
        join = ""
        if tag is not None:
            join = "JOIN api_key_tags t ON t.api_key_id = k.id AND t.tag = %(tag)s"
            params["tag"] = tag
        # Every fragment above is a constant from this module; values are bound parameters.
        sql = (f"SELECT {_packed('k.')} AS r, COUNT(*) OVER () AS total_rows "
               f"FROM api_keys k {join} "
               f"{'WHERE ' + ' AND '.join(where) if where else ''} "
               "ORDER BY k.created_at DESC, k.id DESC LIMIT %(limit)s OFFSET %(offset)s")
        rows = self._pool.fetchall(sql, params)
        total = int(rows[0]["total_rows"]) if rows else (0 if page == 1 else self._count(join, where, params))
        items = [from_packed(r["r"]) for r in rows]
        return Page(items=items, total=total, page=page, page_size=page_size)

    def _count(self, join: str, where: list[str], params: dict[str, Any]) -> int:
        """Total for a page past the end (the windowed count has no row to ride on)."""
        sql = (f"SELECT COUNT(*) AS n FROM api_keys k {join} "
               f"{'WHERE ' + ' AND '.join(where) if where else ''}")
        row = self._pool.fetchone(sql, params)
        return int(row["n"]) if row else 0
