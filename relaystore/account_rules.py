"""Backend-neutral account rules: the platform table, field checks, and upstream's stored form.

Both backends keep an account in upstream's *stored form*: a mapping of upstream field names to
stored values, with secrets encrypted exactly as upstream does (account_crypto). Redis writes it
as the account hash (or, for Bedrock, as the JSON string); MySQL splits it into typed columns for
what is queried and one JSON text column holding the rest verbatim, secrets still encrypted, so a
migration copies values without re-encrypting and either relay can decrypt them.

Callers set typed fields by their snake_case names (`is_active`, `priority`, ...) and any other
upstream field by its camelCase name (`apiUrl=...`, `proxy={...}`), or through `data={...}` for
names that are not identifiers. A secret is recognised by its name (SECRETS below). `None` as a
value removes that upstream field on update. Values are normalised to what upstream stores:
strings for hash platforms (bool as "true"/"false", numbers in JS form, objects as compact JSON),
JSON values for Bedrock.
"""
from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .account_crypto import AccountCipher, check_encodable
from .config import Settings
from .errors import DataError, InvalidInput
from .jsnum import js_json, js_number
from .records import Account, AccountGroup
from .timefmt import parse_iso, to_iso


@dataclass(frozen=True)
class PlatformSpec:
    """One upstream account family: how its record is stored and which fields are secret."""

    name: str
    json_record: bool                 # Bedrock: one JSON string instead of a hash
    salt: str | None                  # scrypt salt; None = Bedrock's SHA-256 key scheme
    secret_fields: frozenset[str]
    group_platform: str               # the account_group platform its groups carry
    create_defaults: tuple[tuple[str, Any], ...] = ()


_AZURE_SALT = "<from settings>"

# Salts and secret fields from spec/redis-layout.md §7.3. Resolved UNCERTAIN points:
# gemini's `geminiOauth` is encrypted (upstream's update path encrypts it); droid's `apiKeys` list
# is plain JSON whose entries carry their own `encryptedKey`, so it is kept verbatim in `data`.
PLATFORMS: dict[str, PlatformSpec] = {p.name: p for p in (
    PlatformSpec("claude", False, "salt",
                 frozenset({"email", "password", "claudeAiOauth", "accessToken", "refreshToken"}), "claude"),
    PlatformSpec("claude-console", False, "claude-console-salt", frozenset({"apiKey"}), "claude"),
    PlatformSpec("openai", False, "openai-account-salt",
                 frozenset({"openaiOauth", "accessToken", "refreshToken", "idToken", "email"}), "openai"),
    PlatformSpec("openai-responses", False, "openai-responses-salt", frozenset({"apiKey"}), "openai-responses"),
    PlatformSpec("azure-openai", False, _AZURE_SALT, frozenset({"apiKey"}), "azure-openai"),
    PlatformSpec("gemini", False, "gemini-account-salt",
                 frozenset({"geminiOauth", "accessToken", "refreshToken"}), "gemini"),
    PlatformSpec("gemini-api", False, "gemini-api-salt", frozenset({"apiKey"}), "gemini-api"),
    PlatformSpec("bedrock", True, None, frozenset({"awsCredentials", "bearerToken"}), "bedrock",
                 (("type", "bedrock"),)),
    PlatformSpec("droid", False, "droid-account-salt", frozenset({"accessToken", "refreshToken"}), "droid"),
    PlatformSpec("ccr", False, "ccr-account-salt", frozenset({"apiKey"}), "ccr"),
)}

# Upstream's isAccountHealthy(): these statuses (compared lower-cased) are never scheduled.
UNSCHEDULABLE_STATUSES = ("error", "unauthorized", "blocked", "temp_error")

# (record attribute, upstream field) of the typed fields; everything else lives in data/secrets.
TYPED: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("name", "name"), ("description", "description"), ("is_active", "isActive"),
    ("schedulable", "schedulable"), ("status", "status"), ("priority", "priority"),
    ("account_type", "accountType"), ("error_message", "errorMessage"), ("created_at", "createdAt"),
    ("last_used_at", "lastUsedAt"),
)
TYPED_UPSTREAM = frozenset(upstream for _, upstream in TYPED)
_UPSTREAM_TO_ATTR = {upstream: attr for attr, upstream in TYPED}
_CREATE_ONLY = {"id", "created_at"}
_TEXT = {"name": None, "description": None, "error_message": None, "status": 64, "account_type": 32}
_BOOLS = {"is_active", "schedulable"}
_TIMES = {"created_at", "last_used_at"}
_INT_RANGE = (-2**31, 2**31 - 1)

_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def valid_id(value: object) -> bool:
    """Account and group ids: 1-64 of [A-Za-z0-9_.-] (upstream's are UUIDs); others are never stored."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def spec_for(platform: object) -> PlatformSpec:
    """The platform's spec; InvalidInput naming the accepted values for an unknown one."""
    spec = PLATFORMS.get(platform) if isinstance(platform, str) else None
    if spec is None:
        raise InvalidInput(f"unknown account platform {str(platform)[:40]!r}; one of {', '.join(PLATFORMS)}")
    return spec


def group_platform(platform: str) -> str:
    """The group platform an account platform's groups carry (claude-console joins claude groups)."""
    return spec_for(platform).group_platform


GROUP_PLATFORMS = frozenset(spec.group_platform for spec in PLATFORMS.values())


def make_ciphers(settings: Settings) -> dict[str, AccountCipher]:
    """One cipher per platform, with upstream's salt (Azure's from settings)."""
    out = {}
    for spec in PLATFORMS.values():
        salt = settings.azure_openai_salt if spec.salt == _AZURE_SALT else spec.salt
        out[spec.name] = AccountCipher(settings.encryption_key, salt=salt)
    return out


def to_ms_utc(value: datetime) -> datetime:
    """Aware UTC, truncated to milliseconds (what both backends keep); naive means UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _typed_value(attr: str, value: Any) -> Any:
    if attr == "id":
        if not valid_id(value):
            raise InvalidInput("id must be 1-64 characters of letters, digits, '_', '.', '-'")
        return value
    if attr in _TEXT:
        if not isinstance(value, str):
            raise InvalidInput(f"{attr} must be a string, got {type(value).__name__}")
        check_encodable(attr, value)
        limit = _TEXT[attr]
        if limit is not None and len(value) > limit:
            raise InvalidInput(f"{attr} must be at most {limit} characters")
        return value
    if attr in _BOOLS:
        if not isinstance(value, bool):
            raise InvalidInput(f"{attr} must be a bool, got {type(value).__name__}")
        return value
    if attr == "priority":
        if isinstance(value, bool) or not isinstance(value, int) or not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise InvalidInput("priority must be a 32-bit integer")
        return value
    if value is None:
        if attr == "created_at":
            raise InvalidInput("created_at cannot be None")
        return None
    if not isinstance(value, datetime):
        raise InvalidInput(f"{attr} must be a datetime or None, got {type(value).__name__}")
    return to_ms_utc(value)


def _json_value(name: str, value: Any) -> Any:
    """A JSON value as Bedrock's record keeps it (tuples become lists); InvalidInput otherwise."""
    if value is None or isinstance(value, (str, bool, int)):
        if isinstance(value, str):
            check_encodable(name, value)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number")
        return value
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise InvalidInput(f"{name} must have string keys")
        return {k: _json_value(name, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(name, v) for v in value]
    raise InvalidInput(f"{name} must be JSON data, got {type(value).__name__}")


def _hash_value(name: str, value: Any) -> str:
    """Upstream's string form of a hash field: bools "true"/"false", JS numbers, compact JSON."""
    if isinstance(value, str):
        check_encodable(name, value)
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number")
        return js_number(value)
    return js_json(_json_value(name, value))


def _untyped_value(spec: PlatformSpec, name: str, value: Any) -> Any:
    """The plaintext value to keep for an upstream field (secrets are encrypted later)."""
    if spec.json_record and name == "awsCredentials":
        if not isinstance(value, dict):
            raise InvalidInput("awsCredentials must be an object (accessKeyId, secretAccessKey, ...)")
        return _json_value(name, value)
    if spec.json_record and name == "bearerToken":
        if not isinstance(value, str):
            raise InvalidInput("bearerToken must be a string")
        check_encodable(name, value)
        return value
    if name in spec.secret_fields:
        if isinstance(value, (dict, list, tuple)):
            return js_json(_json_value(name, value))  # upstream encrypts JSON.stringify(obj)
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be a string or JSON object, got {type(value).__name__}")
        check_encodable(name, value)
        return value
    return _json_value(name, value) if spec.json_record else _hash_value(name, value)


def check_values(spec: PlatformSpec, values: Mapping[str, Any], *,
                 creating: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split caller values into typed attributes and upstream fields (None = remove), checked.

    Error messages name fields and types, never values: a value may be a secret.
    """
    typed: dict[str, Any] = {}
    untyped: dict[str, Any] = {}
    named = dict(values)
    data = named.pop("data", None)
    if data is not None and not isinstance(data, Mapping):
        raise InvalidInput("data must be a mapping of upstream field names to values")
    items = list(named.items())
    attrs = {attr for attr, _ in TYPED}
    for name, value in items:
        if name in attrs:
            if name in _CREATE_ONLY and not creating:
                raise InvalidInput(f"{name} can only be set when the account is created")
            typed[name] = _typed_value(name, value)
        elif name in TYPED_UPSTREAM:
            raise InvalidInput(f"{name} is a typed field: set {_UPSTREAM_TO_ATTR[name]} instead")
        else:
            untyped[name] = value
    for name, value in (data or {}).items():
        if not isinstance(name, str) or not name:
            raise InvalidInput("data field names must be non-empty strings")
        check_encodable("a data field name", name)
        if name in TYPED_UPSTREAM:
            raise InvalidInput(f"{name} is a typed field: set {_UPSTREAM_TO_ATTR[name]} instead")
        untyped[name] = value
    return typed, {name: None if value is None else _untyped_value(spec, name, value)
                   for name, value in untyped.items()}


def typed_of(account: Account) -> dict[str, Any]:
    """The typed attributes of a record, by attribute name."""
    return {attr: getattr(account, attr) for attr, _ in TYPED}


def new_account(spec: PlatformSpec, values: Mapping[str, Any], now: datetime) -> tuple[Account, dict[str, Any]]:
    """The record create() returns and its plaintext upstream fields (secrets not yet encrypted)."""
    typed, untyped = check_values(spec, values, creating=True)
    typed.setdefault("id", str(uuid.uuid4()))
    typed.setdefault("created_at", to_ms_utc(now))
    fields = {name: value for name, value in spec.create_defaults}
    fields.update((name, value) for name, value in untyped.items() if value is not None)
    data = {k: v for k, v in fields.items() if k not in spec.secret_fields}
    secrets = {k: v for k, v in fields.items() if k in spec.secret_fields}
    return Account(platform=spec.name, data=data, secrets=secrets, **typed), fields


def encode_typed(spec: PlatformSpec, typed: Mapping[str, Any]) -> dict[str, Any]:
    """Typed attributes as upstream stored values (strings in hashes, JSON values for Bedrock)."""
    out: dict[str, Any] = {}
    for attr, upstream in TYPED:
        if attr not in typed:
            continue
        value = typed[attr]
        if attr in _TIMES:
            out[upstream] = "" if value is None else to_iso(value)
        elif spec.json_record:
            out[upstream] = value
        elif attr in _BOOLS:
            out[upstream] = "true" if value else "false"
        elif attr == "priority":
            out[upstream] = str(value)
        else:
            out[upstream] = value
    return out


def encode_fields(spec: PlatformSpec, cipher: AccountCipher, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Plaintext upstream fields (no None) as stored: secrets encrypted with upstream's scheme."""
    return {name: cipher.encrypt(name, value) if name in spec.secret_fields else value
            for name, value in fields.items()}


def _text(stored: Mapping[str, Any], upstream: str, default: str, where: str) -> str:
    value = stored.get(upstream)
    if value is None:
        return default
    if not isinstance(value, str):
        raise DataError(f"{where}: field {upstream} is not a string")
    return value


def _priority(value: Any, where: str) -> int:
    """Upstream's parseInt(priority) || 50 reading, strict about garbage."""
    if value is None or value == "":
        return 50
    if isinstance(value, bool):
        raise DataError(f"{where}: field priority is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: field priority is not a number: {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise DataError(f"{where}: field priority is not a finite number")
    return int(number)


def _time(stored: Mapping[str, Any], upstream: str, where: str) -> datetime | None:
    value = stored.get(upstream)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DataError(f"{where}: field {upstream} is not an ISO timestamp")
    try:
        return to_ms_utc(parse_iso(value))
    except ValueError:
        raise DataError(f"{where}: field {upstream} is not an ISO timestamp: {value[:40]!r}") from None


def decode_typed(stored: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Typed attributes from upstream's stored fields, read as upstream's readers do.

    isActive counts only when "true" (or JSON true); schedulable is on unless "false"/false;
    a missing status reads "active", a missing accountType "shared", a missing priority 50.
    """
    active = stored.get("isActive")
    schedulable = stored.get("schedulable")
    return {
        "name": _text(stored, "name", "", where),
        "description": _text(stored, "description", "", where),
        "is_active": active is True or active == "true",
        "schedulable": not (schedulable is False or schedulable == "false"),
        "status": _text(stored, "status", "active", where),
        "priority": _priority(stored.get("priority"), where),
        "account_type": _text(stored, "accountType", "shared", where),
        "error_message": _text(stored, "errorMessage", "", where),
        "created_at": _time(stored, "createdAt", where),
        "last_used_at": _time(stored, "lastUsedAt", where),
    }


def split_fields(spec: PlatformSpec, cipher: AccountCipher, stored: Mapping[str, Any],
                 where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(data, decrypted secrets) from the non-typed stored fields."""
    data: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for name, value in stored.items():
        if name in TYPED_UPSTREAM:
            continue
        if name in spec.secret_fields:
            secrets[name] = cipher.decrypt(name, value, where)
        else:
            data[name] = value
    return data, secrets


def account_from_stored(spec: PlatformSpec, cipher: AccountCipher, account_id: str,
                        stored: Mapping[str, Any], where: str, *, candidates_only: bool = False) -> Account | None:
    """A record from a whole stored form (a Redis hash or Bedrock JSON object).

    With candidates_only, None for an account the scheduler would skip (its secrets are not decrypted).
    """
    typed = decode_typed(stored, where)
    if candidates_only and not is_candidate(typed):
        return None
    data, secrets = split_fields(spec, cipher, stored, where)
    return Account(id=account_id, platform=spec.name, data=data, secrets=secrets, **typed)


def is_candidate(typed: Mapping[str, Any]) -> bool:
    """Upstream's filterAvailableAccounts() on typed attributes: active, schedulable, healthy status."""
    return bool(typed["is_active"] and typed["schedulable"]
                and typed["status"].lower() not in UNSCHEDULABLE_STATUSES)


_EPOCH = datetime.fromtimestamp(0, timezone.utc)


def schedule_order(account: Account) -> tuple[Any, ...]:
    """Scheduler order: priority, least recently used (never used first), oldest, then id."""
    return (account.priority, account.last_used_at or _EPOCH, account.created_at or _EPOCH, account.id)


def list_order(account: Account) -> tuple[Any, ...]:
    """list() order: oldest first (no createdAt first), then id."""
    return (account.created_at or _EPOCH, account.id)


# --- account groups ------------------------------------------------------------------------------

GROUP_TYPED = ("id", "name", "platform", "description", "createdAt", "updatedAt")


def check_group_platform(platform: object) -> str:
    """Group platforms: upstream's claude|gemini|openai|droid plus the other families' own names."""
    if not isinstance(platform, str) or platform not in GROUP_PLATFORMS:
        raise InvalidInput(f"unknown group platform; one of {', '.join(sorted(GROUP_PLATFORMS))}")
    return platform


def check_group_fields(values: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(name/description, other upstream fields as strings) for create/update of a group."""
    typed: dict[str, str] = {}
    extra: dict[str, str] = {}
    for name, value in values.items():
        if name in ("name", "description"):
            if not isinstance(value, str):
                raise InvalidInput(f"{name} must be a string, got {type(value).__name__}")
            check_encodable(name, value)
            if name == "name" and not value:
                raise InvalidInput("name must not be empty")
            typed[name] = value
        elif name in GROUP_TYPED or name in ("created_at", "updated_at"):
            raise InvalidInput(f"{name} cannot be set on a group")
        else:
            extra[name] = "" if value is None else _hash_value(name, value)
    return typed, extra


def encode_group(group: AccountGroup) -> dict[str, str]:
    """The account_group:{id} hash fields of a group."""
    out = {"id": group.id, "name": group.name, "platform": group.platform, "description": group.description,
           "createdAt": "" if group.created_at is None else to_iso(group.created_at),
           "updatedAt": "" if group.updated_at is None else to_iso(group.updated_at)}
    out.update(group.extra)
    return out


def decode_group(group_id: str, stored: Mapping[str, str], where: str) -> AccountGroup:
    """A group from its hash fields (unknown fields kept verbatim in `extra`)."""
    return AccountGroup(
        id=group_id, name=_text(stored, "name", "", where), platform=_text(stored, "platform", "", where),
        description=_text(stored, "description", "", where), created_at=_time(stored, "createdAt", where),
        updated_at=_time(stored, "updatedAt", where),
        extra={k: v for k, v in stored.items() if k not in GROUP_TYPED})


def group_order(group: AccountGroup) -> tuple[Any, ...]:
    """Newest first, as upstream lists groups (ties by id, descending); use with reverse=True."""
    return (group.created_at or _EPOCH, group.id)
