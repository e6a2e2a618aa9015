"""API keys for the all-families tests: populate() (tests/migrate/conftest.py) through the Redis DAO."""
from __future__ import annotations

from relaystore.store import Store
from tests.migrate.conftest import populate


def fill(store: Store, n: int, *, seed: int = 7) -> int:
    """About n API keys (a few are purged again) plus upstream's markers; returns the keys written."""
    return len(populate(store, n, seed=seed))
