"""Singleton settings on MySQL: rows of the seeded system_settings table (name -> text)."""
from __future__ import annotations

from .. import settings_rules as rules
from ..config import Settings
from .pool import MySQLPool

SELECT_SETTING = "SELECT value FROM system_settings WHERE name = %(name)s"

UPSERT_SETTING = """
    INSERT INTO system_settings (name, value) VALUES (%(name)s, %(value)s)
    ON DUPLICATE KEY UPDATE value = %(value)s
"""

DELETE_SETTING = "DELETE FROM system_settings WHERE name = %(name)s"


class MySQLSettings(rules.SettingsHelpers):
    """store.settings on MySQL."""

    def __init__(self, pool: MySQLPool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings

    def get(self, name: str) -> str | None:
        """The setting's text, or None when unset."""
        row = self._pool.fetchone(SELECT_SETTING, {"name": rules.check_name(name)})
        return None if row is None else str(row["value"])

    def set(self, name: str, value: str) -> None:
        params = {"name": rules.check_name(name), "value": rules.check_value(value)}
        with self._pool.cursor() as cur:
            cur.execute(UPSERT_SETTING, params)

    def delete(self, name: str) -> bool:
        with self._pool.cursor() as cur:
            return bool(cur.execute(DELETE_SETTING, {"name": rules.check_name(name)}))
