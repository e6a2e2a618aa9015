"""Singleton settings on Redis: one plain string key per known name (settings_rules.KNOWN_SETTINGS)."""
from __future__ import annotations

from typing import cast

import redis

from .. import settings_rules as rules
from ..config import Settings
from .client import redis_errors
from .keys import Keys


class RedisSettings(rules.SettingsHelpers):
    """store.settings on Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._r = client
        self._k = keys
        self._settings = settings

    def get(self, name: str) -> str | None:
        """The setting's text, or None when unset."""
        key = self._k.setting(rules.check_name(name))
        with redis_errors():
            return cast("str | None", self._r.get(key))

    def set(self, name: str, value: str) -> None:
        key = self._k.setting(rules.check_name(name))
        text = rules.check_value(value)
        with redis_errors():
            self._r.set(key, text)

    def delete(self, name: str) -> bool:
        key = self._k.setting(rules.check_name(name))
        with redis_errors():
            return bool(self._r.delete(key))
