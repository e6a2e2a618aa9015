"""Helpers the family fill() modules share: counting the Redis keys a fill created."""
from __future__ import annotations

from relaystore.migrate.redis_reader import scan_all
from relaystore.store import Store


def key_count(store: Store) -> int:
    """How many keys sit under the store's prefix (a fill returns the difference)."""
    return sum(1 for _ in scan_all(store.redis, store.settings.redis_key_prefix))
