"""The singleton settings relaystore knows: upstream keys holding one string each.

On Redis each is the plain string key of that name; on MySQL a row of `system_settings` with the
same name and the same text. A whitelist rather than "any name": a typo must fail loudly instead
of writing a key the relay never reads, and a name here is a promise that a migration copies it.
"""
from __future__ import annotations

import json
from typing import Any

from .errors import DataError, InvalidInput
from .jsnum import js_json

# name -> what it holds (the upstream service that owns it)
KNOWN_SETTINGS: dict[str, str] = {
    "webhook_config:default": "webhook notification settings, JSON (webhookConfigService.js)",
    "system:service_rates": "global per-service cost multipliers, JSON (serviceRatesService.js)",
    "oem:settings": "branding settings, JSON",
    "apikey:index:version": "'2' once the API-key indexes are built (apiKeyIndexService.js)",
    "account_groups_reverse:migrated": "'true' once the reverse group index exists",
    "system:migrated:version": "the relay's data-migration marker",
}
WEBHOOK_CONFIG = "webhook_config:default"
SERVICE_RATES = "system:service_rates"
OEM_SETTINGS = "oem:settings"
VALUE_MAX_CHARS = 4_000_000   # MEDIUMTEXT holds 16 MiB: 4 Mi four-byte characters


def check_name(name: object) -> str:
    """A known setting name; InvalidInput lists the known ones otherwise."""
    if not isinstance(name, str) or name not in KNOWN_SETTINGS:
        raise InvalidInput(f"unknown setting {name!r}; known: {', '.join(sorted(KNOWN_SETTINGS))}")
    return name


def check_value(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"a setting value is a string, got {type(value).__name__}")
    if len(value) > VALUE_MAX_CHARS:
        raise InvalidInput(f"a setting value is at most {VALUE_MAX_CHARS} characters")
    return value


class SettingsHelpers:
    """JSON and named accessors over a backend's get/set; both backends inherit these."""

    def get(self, name: str) -> str | None:  # pragma: no cover - each backend implements it
        raise NotImplementedError

    def set(self, name: str, value: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def get_json(self, name: str) -> Any:
        """The setting parsed as JSON, or None when unset; DataError names a value that is not JSON."""
        text = self.get(name)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise DataError(f"setting {name}: value is not valid JSON") from None

    def set_json(self, name: str, value: Any) -> None:
        """Store `value` as compact JSON, rendered as JS JSON.stringify renders it."""
        try:
            text = js_json(value)
        except TypeError as exc:
            raise InvalidInput(f"setting {name} must be JSON-serialisable: {exc}") from None
        self.set(name, text)

    def _get_object(self, name: str) -> dict[str, Any] | None:
        value = self.get_json(name)
        if value is not None and not isinstance(value, dict):
            raise DataError(f"setting {name}: value is not a JSON object")
        return value

    def _set_object(self, name: str, value: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise InvalidInput(f"setting {name} must be a dict, got {type(value).__name__}")
        self.set_json(name, value)

    def get_webhook_config(self) -> dict[str, Any] | None:
        return self._get_object(WEBHOOK_CONFIG)

    def set_webhook_config(self, config: dict[str, Any]) -> None:
        self._set_object(WEBHOOK_CONFIG, config)

    def get_service_rates(self) -> dict[str, Any] | None:
        return self._get_object(SERVICE_RATES)

    def set_service_rates(self, rates: dict[str, Any]) -> None:
        self._set_object(SERVICE_RATES, rates)

    def get_oem_settings(self) -> dict[str, Any] | None:
        return self._get_object(OEM_SETTINGS)

    def set_oem_settings(self, settings: dict[str, Any]) -> None:
        self._set_object(OEM_SETTINGS, settings)
