"""fill(store, n): the singleton settings keys, every name the settings DAO knows."""
from __future__ import annotations

from relaystore.settings_rules import KNOWN_SETTINGS
from relaystore.store import Store


def fill(store: Store, n: int, *, seed: int = 7) -> int:
    """At most one key per known name (n only caps how many); returns the keys created."""
    dao = store.system_settings
    values = {
        "webhook_config:default": lambda: dao.set_webhook_config({"enabled": True, "urls": ["https://hook/ü"],
                                                                  "seed": seed}),
        "system:service_rates": lambda: dao.set_service_rates({"claude": 1.5, "gemini": 0.8}),
        "oem:settings": lambda: dao.set_oem_settings({"siteName": "中继 🚀", "logo": ""}),
        "apikey:index:version": lambda: dao.set("apikey:index:version", "2"),
        "account_groups_reverse:migrated": lambda: dao.set("account_groups_reverse:migrated", "true"),
        "system:migrated:version": lambda: dao.set("system:migrated:version", ""),
    }
    names = list(KNOWN_SETTINGS)[:max(0, n)]
    for name in names:
        values[name]()
    return len(names)
