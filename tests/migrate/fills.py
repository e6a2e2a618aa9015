"""Every family's test-data writer, found by name: tests/migrate/fill_<family>.py, each with
`fill(store, n, *, seed=7) -> int` writing about n records through the Redis DAOs.

A family adds its writer as one file; the all-families round trip, resume test and the migration
benchmark pick it up without an edit here.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from relaystore.store import Store

Fill = Callable[..., int]
HERE = Path(__file__).resolve().parent


def all_fills() -> dict[str, Fill]:
    """{family: fill} of every tests/migrate/fill_*.py, api_keys first, the rest by name."""
    names = sorted(p.stem[len("fill_"):] for p in HERE.glob("fill_*.py"))
    names.sort(key=lambda name: name != "api_keys")
    modules = {name: importlib.import_module(f"tests.migrate.fill_{name}") for name in names}
    return {name: module.fill for name, module in modules.items() if hasattr(module, "fill")}   # not fill_common


def fill_all(store: Store, n: int, *, seed: int = 7) -> dict[str, int]:
    """Run every family's fill with about n records each; {family: what its fill returned}."""
    return {name: fill(store, n, seed=seed) for name, fill in all_fills().items()}
