"""System-settings contract on both backends: known singleton strings and their JSON accessors."""
from __future__ import annotations

import pytest

from relaystore import DataError, InvalidInput
from tests.contract.test_api_keys import HOSTILE

WEBHOOK = {"enabled": True, "platforms": [{"type": "slack", "url": "https://hooks.example/x", "enabled": True}],
           "notificationTypes": {"accountAnomaly": True, "quotaWarning": False}, "retrySettings": {"maxRetries": 3}}


def test_webhook_config_round_trips_as_compact_json(store):
    assert store.system_settings.get_webhook_config() is None
    store.system_settings.set_webhook_config(WEBHOOK)
    assert store.system_settings.get_webhook_config() == WEBHOOK
    assert store.system_settings.get("webhook_config:default").startswith('{"enabled":true,"platforms":[')


def test_service_rates_and_oem_settings(store):
    store.system_settings.set_service_rates({"rates": {"claude": 1, "gemini": 0.5}, "baseService": "claude"})
    store.system_settings.set_oem_settings({"siteName": "Relay 🚀", "siteIcon": ""})
    assert store.system_settings.get_service_rates() == {"rates": {"claude": 1, "gemini": 0.5},
                                                         "baseService": "claude"}
    assert store.system_settings.get("system:service_rates") == \
        '{"rates":{"claude":1,"gemini":0.5},"baseService":"claude"}'
    assert store.system_settings.get_oem_settings()["siteName"] == "Relay 🚀"


def test_set_overwrites_and_delete_removes(store):
    store.system_settings.set("system:migrated:version", "1.1.300")
    store.system_settings.set("system:migrated:version", "1.1.314")
    assert store.system_settings.get("system:migrated:version") == "1.1.314"
    assert store.system_settings.delete("system:migrated:version") is True
    assert store.system_settings.get("system:migrated:version") is None
    assert store.system_settings.delete("system:migrated:version") is False


def test_unknown_names_and_bad_values_are_refused(store):
    with pytest.raises(InvalidInput, match="unknown setting"):
        store.system_settings.get("webhook_config:other")
    with pytest.raises(InvalidInput, match="unknown setting"):
        store.system_settings.set("apikey:abc", "x")
    with pytest.raises(InvalidInput):
        store.system_settings.set_webhook_config(["not", "an", "object"])
    with pytest.raises(InvalidInput):
        store.system_settings.set("oem:settings", 5)


def test_stored_text_that_is_not_json_is_a_data_error(store):
    store.system_settings.set("oem:settings", "{not json")
    with pytest.raises(DataError, match="oem:settings"):
        store.system_settings.get_oem_settings()


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_values_round_trip(store, text):
    store.system_settings.set("oem:settings", text)
    assert store.system_settings.get("oem:settings") == text
    store.system_settings.set_json("webhook_config:default", {"note": text})
    assert store.system_settings.get_json("webhook_config:default") == {"note": text}
