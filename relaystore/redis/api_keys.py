"""API keys on Redis in upstream's layout: apikey:{id} hash, apikey:hash_map, legacy apikey_hash:*, indexes."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields as dc_fields
from dataclasses import replace
from datetime import datetime
from typing import Any

import redis

from .. import apikey_rules as rules
from ..config import Settings
from ..errors import DataError, InvalidInput, NotFound
from ..records import ApiKey, AuthResult, Page
from ..timefmt import utcnow
from . import codec
from .client import redis_errors
from .keys import API_KEY_TTL_SECONDS, Keys

# (record attribute, upstream hash field, encoding); the one mapping between the two namings.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("id", "id", "str"), ("name", "name", "str"), ("description", "description", "str"),
    ("key_hash", "apiKey", "str"), ("token_limit", "tokenLimit", "int"),
    ("concurrency_limit", "concurrencyLimit", "int"), ("rate_limit_window", "rateLimitWindow", "int"),
    ("rate_limit_requests", "rateLimitRequests", "int"), ("rate_limit_cost", "rateLimitCost", "float"),
    ("is_active", "isActive", "bool"), ("claude_account_id", "claudeAccountId", "str"),
    ("claude_console_account_id", "claudeConsoleAccountId", "str"),
    ("gemini_account_id", "geminiAccountId", "str"), ("openai_account_id", "openaiAccountId", "str"),
    ("azure_openai_account_id", "azureOpenaiAccountId", "str"),
    ("bedrock_account_id", "bedrockAccountId", "str"), ("droid_account_id", "droidAccountId", "str"),
    ("permissions", "permissions", "perms"),
    ("enable_model_restriction", "enableModelRestriction", "bool"),
    ("restricted_models", "restrictedModels", "list"),
    ("enable_client_restriction", "enableClientRestriction", "bool"),
    ("allowed_clients", "allowedClients", "list"), ("daily_cost_limit", "dailyCostLimit", "float"),
    ("total_cost_limit", "totalCostLimit", "float"),
    ("weekly_opus_cost_limit", "weeklyOpusCostLimit", "float"),
    ("weekly_reset_day", "weeklyResetDay", "int"), ("weekly_reset_hour", "weeklyResetHour", "int"),
    ("tags", "tags", "list"), ("activation_days", "activationDays", "int"),
    ("activation_unit", "activationUnit", "str"), ("expiration_mode", "expirationMode", "str"),
    ("is_activated", "isActivated", "bool"), ("activated_at", "activatedAt", "time"),
    ("created_at", "createdAt", "time"), ("last_used_at", "lastUsedAt", "time"),
    ("expires_at", "expiresAt", "time"), ("created_by", "createdBy", "str"), ("user_id", "userId", "str"),
    ("user_username", "userUsername", "str"), ("icon", "icon", "str"),
    ("service_rates", "serviceRates", "obj"),
    ("enable_openai_responses_codex_adaptation", "enableOpenAIResponsesCodexAdaptation", "bool"),
    ("enable_openai_responses_payload_rules", "enableOpenAIResponsesPayloadRules", "bool"),
    ("openai_responses_payload_rules", "openaiResponsesPayloadRules", "list"),
    # Lifecycle fields: absent until the event happens (upstream HDELs them again on restore).
    ("is_deleted", "isDeleted", "bool?"), ("deleted_at", "deletedAt", "time?"),
    ("deleted_by", "deletedBy", "str?"), ("deleted_by_type", "deletedByType", "str?"),
    ("restored_at", "restoredAt", "time?"), ("restored_by", "restoredBy", "str?"),
    ("restored_by_type", "restoredByType", "str?"),
)
_BY_UPSTREAM = {upstream: (attr, kind.rstrip("?")) for attr, upstream, kind in FIELDS}
assert {a for a, _, _ in FIELDS} | {"extra"} == {f.name for f in dc_fields(ApiKey)}


def encode(key: ApiKey) -> dict[str, str]:
    """The record as upstream's hash fields (unknown upstream fields from `extra` kept verbatim)."""
    out = dict(key.extra)
    for attr, upstream, kind in FIELDS:
        value = getattr(key, attr)
        optional = kind.endswith("?")
        if optional and not value:
            continue
        kind = kind.rstrip("?")
        if kind == "str":
            out[upstream] = value
        elif kind in ("int", "float"):
            out[upstream] = codec.enc_num(value)
        elif kind == "bool":
            out[upstream] = codec.enc_bool(value)
        elif kind in ("list", "perms"):
            out[upstream] = codec.enc_json(list(value))
        elif kind == "obj":
            out[upstream] = codec.enc_json(value)
        else:
            out[upstream] = codec.enc_time(value)
    return out


def _dec_int(raw: str, key: str, field: str) -> int:
    try:
        return int(raw)  # the usual "0", "300": skip the float round trip
    except ValueError:
        return codec.dec_int(raw, key, field)


def _dec_bool(raw: str, key: str, field: str) -> bool:
    return raw == "true"


def _dec_obj(raw: str, key: str, field: str) -> dict[str, Any]:
    if raw == "{}" or raw == "":
        return {}
    obj = codec.dec_json(raw, key, field, {})
    if not isinstance(obj, dict):
        raise DataError(f"{key}: field {field} is not a JSON object")
    return obj


def _dec_list(raw: str, key: str, field: str) -> tuple[Any, ...]:
    if raw == "[]" or raw == "":
        return ()
    items = codec.dec_json(raw, key, field, [])
    if not isinstance(items, list):
        raise DataError(f"{key}: field {field} is not a JSON array")
    return tuple(items)


def _dec_perms(raw: str, key: str, field: str) -> tuple[Any, ...]:
    if raw and not raw.startswith("["):
        return () if raw == "all" else (raw,)  # legacy plain-string permissions
    return _dec_list(raw, key, field)


_DECODERS = {"int": _dec_int, "float": codec.dec_float, "bool": _dec_bool,
             "time": codec.dec_time, "obj": _dec_obj, "list": _dec_list, "perms": _dec_perms}
# upstream field -> (record attribute, decoder(raw, key, field) or None for strings kept as they are);
# table-driven because bulk copies decode millions of hashes
_BY_UPSTREAM_DECODER = {upstream: (attr, _DECODERS.get(kind)) for upstream, (attr, kind) in _BY_UPSTREAM.items()}


def decode(data: dict[str, str], redis_key: str) -> ApiKey:
    """Upstream's hash fields as a record; DataError names the key and field of a bad value."""
    values: dict[str, Any] = {}
    extra: dict[str, str] = {}
    decoders = _BY_UPSTREAM_DECODER
    for upstream, raw in data.items():
        spec = decoders.get(upstream)
        if spec is None:
            extra[upstream] = raw
        elif spec[1] is None:
            values[spec[0]] = raw
        else:
            values[spec[0]] = spec[1](raw, redis_key, upstream)
    if not values.get("id"):
        raise DataError(f"{redis_key}: required field id is missing")
    return ApiKey(extra=extra, **values)


def _name_member(key: ApiKey) -> str:
    return f"{key.name.lower()}\x00{key.id}"


def _ms(value: datetime | None) -> int:
    return 0 if value is None else int(value.timestamp() * 1000)


def _queue_index(pipe: Any, k: Keys, key: ApiKey, old: ApiKey | None) -> None:
    """Queue upstream's index maintenance for `key` (replacing `old`'s entries)."""
    if old is not None and old.name != key.name:
        pipe.zrem(k.api_key_idx_name, _name_member(old))
    pipe.sadd(k.api_key_idx_all, key.id)
    pipe.zadd(k.api_key_idx_created_at, {key.id: _ms(key.created_at)})
    pipe.zadd(k.api_key_idx_last_used_at, {key.id: _ms(key.last_used_at)})
    pipe.zadd(k.api_key_idx_name, {_name_member(key): 0})
    if key.is_deleted:
        pipe.srem(k.api_key_set_active, key.id)
        pipe.sadd(k.api_key_set_deleted, key.id)
    else:
        pipe.srem(k.api_key_set_deleted, key.id)
        (pipe.sadd if key.is_active else pipe.srem)(k.api_key_set_active, key.id)
    for tag in set(old.tags if old else ()) - set(key.tags):
        pipe.srem(k.api_key_tag(tag), key.id)
    for tag in key.tags:
        pipe.sadd(k.api_key_tag(tag), key.id)
        pipe.sadd(k.api_key_tags_all, tag)


def queue_write(pipe: Any, k: Keys, key: ApiKey, old: ApiKey | None = None, *,
                stored_fields: Collection[str] | None = None) -> None:
    """Queue the whole upstream layout of one key: hash, hash lookups, indexes; the DAO and rollback share it.

    `old` is the stored record being replaced (None when there is none): hash fields it had that
    `key` lacks are removed (`stored_fields`, the hash's actual field names, when the caller read
    them), so the hash equals encode(key); `old`'s stale lookups and index entries are dropped. The hash TTL is re-armed to 365 days, as every upstream setApiKey does.
    Lookups follow the record's state as upstream's events leave them: a live key is in
    apikey:hash_map, a deleted one is not and has no legacy apikey_hash:{hash}; a key restored
    (now, or before a rollback) gets the legacy record upstream's restore writes.
    """
    redis_key = k.api_key(key.id)
    fields = encode(key)
    if old is not None:
        stale = set(encode(old) if stored_fields is None else stored_fields) - set(fields)
        if stale:
            pipe.hdel(redis_key, *sorted(stale))
        if old.key_hash and old.key_hash != key.key_hash:
            pipe.hdel(k.api_key_hash_map, old.key_hash)
            pipe.delete(k.api_key_legacy_hash(old.key_hash))
    pipe.hset(redis_key, mapping=fields)
    pipe.expire(redis_key, API_KEY_TTL_SECONDS)
    _queue_index(pipe, k, key, old)
    if key.is_deleted:
        pipe.hdel(k.api_key_hash_map, key.key_hash)
        pipe.delete(k.api_key_legacy_hash(key.key_hash))
        return
    pipe.hset(k.api_key_hash_map, key.key_hash, key.id)
    if key.restored_at is not None and (old is None or old.is_deleted):
        pipe.hset(k.api_key_legacy_hash(key.key_hash), mapping={"id": key.id, "name": key.name,
                                                               "isActive": "true"})


class RedisApiKeys:
    """store.api_keys on Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._r = client
        self._k = keys
        self._settings = settings

    def _prune_empty_tags(self, tags: set[str]) -> None:
        """Drop tag names whose member set became empty (upstream keeps apikey:tags:all tidy)."""
        for tag in tags:
            if not self._r.exists(self._k.api_key_tag(tag)):
                self._r.srem(self._k.api_key_tags_all, tag)

    def _replace(self, key_id: str, change: Any) -> tuple[ApiKey | None, ApiKey]:
        """Read-modify-write one key under WATCH: `change(old or None) -> new`; returns (old, new)."""
        redis_key = self._k.api_key(key_id)
        result: list[Any] = []

        def work(pipe: Any) -> None:
            data = pipe.hgetall(redis_key)
            old = decode(data, redis_key) if data else None
            new = change(old)
            pipe.multi()
            queue_write(pipe, self._k, new, old, stored_fields=data.keys())
            result[:] = [old, new]

        with redis_errors():
            self._r.transaction(work, redis_key)
            old, new = result
            if old is not None:
                self._prune_empty_tags(set(old.tags) - set(new.tags))
        return old, new

    def create(self, name: str, **settings: Any) -> tuple[ApiKey, str]:
        """Create a key; returns the record and the raw key (shown once, only its hash is stored)."""
        key, raw = rules.new_api_key(name, settings, prefix=self._settings.api_key_prefix,
                                     encryption_key=self._settings.encryption_key, now=utcnow())
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            queue_write(pipe, self._k, key)
            pipe.execute()
        return key, raw

    def put(self, key: ApiKey) -> None:
        """Store this exact record in upstream's layout (create or replace); idempotent (dual writes, rollback)."""
        self._replace(key.id, lambda old: key)

    def get(self, key_id: str) -> ApiKey | None:
        """The key with this id, or None."""
        redis_key = self._k.api_key(key_id)
        with redis_errors():
            data = self._r.hgetall(redis_key)
        return decode(data, redis_key) if data else None

    def _require(self, key_id: str) -> ApiKey:
        key = self.get(key_id)
        if key is None:
            raise NotFound(f"API key {key_id} does not exist")
        return key

    def authenticate(self, raw_key: str) -> AuthResult:
        """Upstream's lookup: hash_map, legacy apikey_hash:* fallback (back-filled), then the record."""
        if not rules.plausible_raw_key(raw_key, self._settings.api_key_prefix):
            return AuthResult(False, "unknown")
        key_hash = rules.hash_raw_key(raw_key, self._settings.encryption_key)
        k = self._k
        with redis_errors():
            key_id = self._r.hget(k.api_key_hash_map, key_hash)
            if key_id is None:
                key_id = self._r.hget(k.api_key_legacy_hash(key_hash), "id")
                if not key_id:
                    return AuthResult(False, "unknown")
                self._r.hset(k.api_key_hash_map, key_hash, key_id)
            redis_key = k.api_key(key_id)
            data = self._r.hgetall(redis_key)
            if not data:
                self._r.hdel(k.api_key_hash_map, key_hash)
                return AuthResult(False, "unknown")
            key = decode(data, redis_key)
            now = utcnow()
            if not key.is_deleted and key.is_active and rules.needs_activation(key):
                key = rules.activate(key, now)
                pipe = self._r.pipeline(transaction=True)
                pipe.hset(redis_key, mapping={
                    "isActivated": "true", "activatedAt": codec.enc_time(key.activated_at),
                    "expiresAt": codec.enc_time(key.expires_at), "lastUsedAt": codec.enc_time(key.last_used_at)})
                pipe.expire(redis_key, API_KEY_TTL_SECONDS)
                pipe.zadd(k.api_key_idx_last_used_at, {key.id: _ms(key.last_used_at)})
                pipe.execute()
        reason = rules.refusal(key, now)
        return AuthResult(reason is None, reason, key)

    def update(self, key_id: str, **fields: Any) -> ApiKey:
        """Change settings; raises NotFound for an unknown id and InvalidInput for an unknown field."""
        rules.check_settings(fields)

        def change(old: ApiKey | None) -> ApiKey:
            if old is None:
                raise NotFound(f"API key {key_id} does not exist")
            return rules.apply_update(old, fields)

        return self._replace(key_id, change)[1]

    def delete(self, key_id: str, *, deleted_by: str = "admin", deleted_by_type: str = "admin") -> ApiKey:
        """Soft delete as upstream: flag it, deactivate, and drop its hash from the lookup map."""
        key = self._require(key_id)
        if key.is_deleted:
            return key
        new = replace(key, is_deleted=True, is_active=False, deleted_at=utcnow(),
                      deleted_by=deleted_by, deleted_by_type=deleted_by_type)
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            queue_write(pipe, self._k, new, key)
            pipe.execute()
        return new

    def restore(self, key_id: str, *, restored_by: str = "admin", restored_by_type: str = "admin") -> ApiKey:
        """Undo a soft delete as upstream: reactivate, clear deletion fields, re-add hash lookups."""
        key = self._require(key_id)
        if not key.is_deleted:
            raise InvalidInput(f"API key {key_id} is not deleted")
        new = replace(key, is_deleted=False, is_active=True, deleted_at=None, deleted_by="",
                      deleted_by_type="", restored_at=utcnow(), restored_by=restored_by,
                      restored_by_type=restored_by_type)
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            queue_write(pipe, self._k, new, key)  # drops the deletion fields, re-adds both hash lookups
            pipe.execute()
        return new

    def purge(self, key_id: str) -> None:
        """Permanent delete of a soft-deleted key, as upstream: record, hash lookups and index entries."""
        key = self._require(key_id)
        if not key.is_deleted:
            raise InvalidInput(f"API key {key_id} must be deleted before it is purged")
        k = self._k
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.delete(k.api_key(key_id), k.api_key_legacy_hash(key.key_hash))
            pipe.hdel(k.api_key_hash_map, key.key_hash)
            pipe.srem(k.api_key_idx_all, key_id)
            pipe.zrem(k.api_key_idx_created_at, key_id)
            pipe.zrem(k.api_key_idx_last_used_at, key_id)
            pipe.zrem(k.api_key_idx_name, _name_member(key))
            pipe.srem(k.api_key_set_active, key_id)
            pipe.srem(k.api_key_set_deleted, key_id)
            for tag in key.tags:
                pipe.srem(k.api_key_tag(tag), key_id)
            pipe.execute()
            self._prune_empty_tags(set(key.tags))

    def list(self, *, page: int = 1, page_size: int = 50, active: bool | None = None, tag: str | None = None,
             search: str | None = None, include_deleted: bool = False) -> Page[ApiKey]:
        """Newest first, from upstream's indexes; the page's hashes come in one pipeline."""
        if page < 1 or page_size < 1:
            raise InvalidInput("page and page_size must be at least 1")
        k = self._k
        with redis_errors():
            ids: list[str] = self._r.zrevrange(k.api_key_idx_created_at, 0, -1)
            pipe = self._r.pipeline(transaction=False)
            pipe.smembers(k.api_key_set_deleted)
            pipe.smembers(k.api_key_set_active)
            pipe.smembers(k.api_key_tag(tag) if tag is not None else k.api_key_tags_all)
            pipe.zrange(k.api_key_idx_name, 0, -1) if search is not None else pipe.ping()
            deleted, active_ids, tagged, names = pipe.execute()
            if not include_deleted:
                ids = [i for i in ids if i not in deleted]
            if active is not None:
                ids = [i for i in ids if (i in active_ids and i not in deleted) == active]
            if tag is not None:
                ids = [i for i in ids if i in tagged]
            if search is not None:
                needle = search.lower()
                matching = {m.rpartition("\x00")[2] for m in names if needle in m.rpartition("\x00")[0]}
                ids = [i for i in ids if i in matching]
            start = (page - 1) * page_size
            chosen = ids[start:start + page_size]
            pipe = self._r.pipeline(transaction=False)
            for key_id in chosen:
                pipe.hgetall(k.api_key(key_id))
            rows = pipe.execute()
        items = [decode(data, k.api_key(key_id)) for key_id, data in zip(chosen, rows) if data]
        return Page(items=items, total=len(ids), page=page, page_size=page_size)
