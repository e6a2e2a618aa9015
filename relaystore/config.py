"""Settings from the environment and a `.env` file, with the upstream relay's variable names."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlparse

from dotenv import dotenv_values

from .errors import ConfigError

BACKENDS = ("redis", "mysql", "dual")
# DATABASE_TYPE=dual (the migration cutover) writes both stores and reads from DUAL_READ_FROM.
DUAL_READ_BACKENDS = ("redis", "mysql")


@dataclass(frozen=True)
class Settings:
    """Everything a store needs; built by load_settings(), never read from os.environ elsewhere."""

    database_type: str = "redis"
    dual_read_from: str = "redis"
    mysql_host: str = "127.0.0.1"
    mysql_port: int = 3306
    mysql_user: str = "root"
    mysql_password: str = ""
    mysql_database: str = "relaystore"
    mysql_pool_size: int = 10
    mysql_pool_min_idle: int = 1
    mysql_connect_timeout: int = 5
    mysql_idle_ping_seconds: int = 30
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_password: str = ""
    redis_db: int = 0
    redis_url: str = ""
    redis_key_prefix: str = ""
    redis_pool_size: int = 50
    encryption_key: str = ""
    timezone_offset: int = 8
    api_key_prefix: str = "cr_"
    # Upstream reads config.security.azureOpenaiSalt but never defines it, so its Azure OpenAI
    # account secrets always use this default; override only if your relay really changed it.
    azure_openai_salt: str = "azure-openai-account-default-salt"

    def __repr__(self) -> str:  # secrets never reach logs through repr()
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for secret in ("mysql_password", "redis_password", "encryption_key"):
            if shown[secret]:
                shown[secret] = "***"
        if shown["redis_url"]:
            shown["redis_url"] = _redact_url(shown["redis_url"])
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def redis_connection_url(self) -> str:
        """REDIS_URL when given, else one built from REDIS_HOST/PORT/PASSWORD/DB."""
        if self.redis_url:
            return self.redis_url
        auth = f":{self.redis_password}@" if self.redis_password else ""
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"


def _redact_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@", 1)
    return url


# variable name -> (field, parser); the one table of what the environment may set
_ENV: dict[str, tuple[str, str]] = {
    "DATABASE_TYPE": ("database_type", "backend"),
    "DUAL_READ_FROM": ("dual_read_from", "read_backend"),
    "MYSQL_HOST": ("mysql_host", "str"),
    "MYSQL_PORT": ("mysql_port", "port"),
    "MYSQL_USER": ("mysql_user", "str"),
    "MYSQL_PASSWORD": ("mysql_password", "str"),
    "MYSQL_DATABASE": ("mysql_database", "identifier"),
    "MYSQL_POOL_SIZE": ("mysql_pool_size", "positive"),
    "MYSQL_POOL_MIN_IDLE": ("mysql_pool_min_idle", "count"),
    "MYSQL_CONNECT_TIMEOUT": ("mysql_connect_timeout", "positive"),
    "MYSQL_IDLE_PING_SECONDS": ("mysql_idle_ping_seconds", "count"),
    "REDIS_HOST": ("redis_host", "str"),
    "REDIS_PORT": ("redis_port", "port"),
    "REDIS_PASSWORD": ("redis_password", "str"),
    "REDIS_DB": ("redis_db", "count"),
    "REDIS_URL": ("redis_url", "redis_url"),
    "REDIS_KEY_PREFIX": ("redis_key_prefix", "str"),
    "REDIS_POOL_SIZE": ("redis_pool_size", "positive"),
    "ENCRYPTION_KEY": ("encryption_key", "str"),
    "TIMEZONE_OFFSET": ("timezone_offset", "tz"),
    "API_KEY_PREFIX": ("api_key_prefix", "str"),
    "AZURE_OPENAI_SALT": ("azure_openai_salt", "str"),
}
_FIELD_TO_ENV = {field: name for name, (field, _) in _ENV.items()}


def _parse(name: str, kind: str, raw: Any) -> Any:
    value = raw.strip() if isinstance(raw, str) else raw
    if kind == "str":
        return str(value)
    if kind == "backend":
        value = str(value).lower()
        if value not in BACKENDS:
            raise ConfigError(f"{name} must be one of {', '.join(BACKENDS)}, got {raw!r}")
        return value
    if kind == "read_backend":
        value = str(value).lower()
        if value not in DUAL_READ_BACKENDS:
            raise ConfigError(f"{name} must be one of {', '.join(DUAL_READ_BACKENDS)}, got {raw!r}")
        return value
    if kind == "identifier":
        value = str(value)
        if not value or len(value) > 64 or not all(c.isalnum() or c in "_$" for c in value):
            raise ConfigError(f"{name} must be a plain database name (letters, digits, _ or $), got {raw!r}")
        return value
    if kind == "redis_url":
        value = str(value)
        if value and urlparse(value).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(f"{name} must be a redis://, rediss:// or unix:// URL")
        return value
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if kind == "port" and not 0 < number < 65536:
        raise ConfigError(f"{name} must be a TCP port (1-65535), got {raw!r}")
    if kind == "positive" and number < 1:
        raise ConfigError(f"{name} must be at least 1, got {raw!r}")
    if kind == "count" and number < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    if kind == "tz":
        if not -12 <= number <= 14:
            raise ConfigError(f"{name} must be an hour offset between -12 and 14, got {raw!r}")
        # Upstream reads `config.system.timezoneOffset || 8`: a configured 0 also means +8.
        # Buckets must match upstream's or both relays would write different day keys.
        return number or 8
    return number


def load_settings(env_file: str | os.PathLike[str] | None = ".env",
                  environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Merge `.env` under the real environment (real env wins), then keyword overrides.

    Overrides use field names (`mysql_database="x"`); importing never mutates os.environ.
    """
    merged: dict[str, Any] = {}
    if env_file is not None and os.path.exists(env_file):
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for name, (field, kind) in _ENV.items():
        if name in merged and merged[name] != "":
            values[field] = _parse(name, kind, merged[name])
    for field, raw in overrides.items():
        if field not in _FIELD_TO_ENV:
            raise ConfigError(f"unknown setting {field!r}")
        name = _FIELD_TO_ENV[field]
        values[field] = _parse(name, _ENV[name][1], raw)
    settings = replace(Settings(), **values)
    if not settings.encryption_key:
        raise ConfigError("ENCRYPTION_KEY is required: it salts API-key hashes and encrypts account secrets")
    return settings
