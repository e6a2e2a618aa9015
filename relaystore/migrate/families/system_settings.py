"""Singleton string keys the relay keeps at fixed names <-> system_settings rows (name, value).

Every name settings_rules.KNOWN_SETTINGS lists (the settings DAO's whitelist: webhook config,
service rates, OEM settings, upstream's index and migration markers), so the list lives in one
place; each name is looked up directly (GET), never scanned for.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import DataError
from ...mysql.pool import MySQLPool
from ...redis.keys import Keys
from ...settings_rules import KNOWN_SETTINGS
from ..family import Family, KeySource
from .rows import placeholders as _in

SETTING_NAMES: tuple[str, ...] = tuple(KNOWN_SETTINGS)


@dataclass(frozen=True, slots=True)
class Setting:
    """One system_settings row: the upstream key name and its string value."""

    name: str
    value: str


UPSERT_SYSTEM_SETTING = """
    INSERT INTO system_settings (name, value) VALUES (%(name)s, %(value)s)
    ON DUPLICATE KEY UPDATE value = VALUES(value)
"""

DELETE_SYSTEM_SETTINGS = "DELETE FROM system_settings WHERE name IN ({names})"

SELECT_SYSTEM_SETTINGS_BY_NAMES = "SELECT name, value FROM system_settings WHERE name IN ({names}) ORDER BY name"


class SystemSettingsFamily(Family):
    name = "system_settings"
    tables = ("system_settings",)

    def __init__(self, names: Sequence[str] = SETTING_NAMES) -> None:
        self.names = tuple(names)
        self.sources = (KeySource(type="string", names=self.names,
                                  regex=re.compile("|".join(re.escape(n) for n in self.names))),)

    def estimate(self, client: Any, k: Keys) -> int | None:
        return len(self.names)

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> Setting:
        if not isinstance(value, str):
            raise DataError(f"{key}: not a string value")
        return Setting(key, value)

    def check(self, record: Setting, checker: Any) -> None:
        checker.check("system_settings", {"name": record.name, "value": record.value}, record.name)

    def key_of(self, record: Setting) -> str:
        return record.name

    def write_mysql(self, cur: Any, records: Sequence[Setting]) -> None:
        cur.executemany(UPSERT_SYSTEM_SETTING, [{"name": r.name, "value": r.value} for r in records])

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        if keys:
            cur.execute(DELETE_SYSTEM_SETTINGS.format(names=_in(len(keys))), list(keys))

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        rows = pool.fetchall(SELECT_SYSTEM_SETTINGS_BY_NAMES.format(names=_in(len(self.names))), self.names)
        names = [row["name"] for row in rows]
        for start in range(0, len(names), batch_size):
            yield names[start:start + batch_size]

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, Setting]:
        wanted = [k for k in keys if k in self.names]
        if not wanted:
            return {}
        rows = pool.fetchall(SELECT_SYSTEM_SETTINGS_BY_NAMES.format(names=_in(len(wanted))), wanted)
        return {row["name"]: Setting(row["name"], row["value"]) for row in rows}

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[Setting]) -> None:
        for record in records:
            pipe.set(k.prefix + record.name, record.value)
