"""One SCAN pass routes each key to its families exactly as a SCAN MATCH + regex per source did."""
from __future__ import annotations

import pytest

from relaystore.migrate.families import FAMILIES
from relaystore.migrate.redis_reader import _glob_regex, glob_escape, scan_families, scan_family
from relaystore.store import Store
from tests.conftest import base_settings
from tests.migrate.fills import fill_all


def _per_source(client, prefix: str, family) -> set[str]:
    """What a SCAN per source found (the reference the single pass must equal)."""
    keys: set[str] = set()
    for source in family.sources:
        if source.names:
            keys.update(name for name in source.names if client.exists(prefix + name))
            continue
        for full in client.scan_iter(match=glob_escape(prefix) + source.match, count=1000):
            key = full[len(prefix):]
            if source.regex.fullmatch(key):
                keys.add(key)
    return keys


def test_single_pass_finds_what_a_scan_per_source_finds(settings, client):
    prefix = settings.redis_key_prefix
    with Store(base_settings(database_type="redis", redis_key_prefix=prefix)) as store:
        fill_all(store, 40, seed=3)
    # Keys no family owns, or that only a glob or only a regex would take.
    for stray in ("apikey:idx:x", "usage:zzz", "account_usage:", "foreign", "rate_limit:", "concurrency:"):
        client.set(prefix + stray, "1")
    neighbour = prefix[:-1] + "other:apikey:x"   # a key of a neighbouring prefix, outside this one
    client.set(neighbour, "1")
    try:
        families = list(FAMILIES.values())
        found = scan_families(client, prefix, families)
    finally:
        client.delete(neighbour)   # the prefix's own cleanup does not reach it
    assert sum(len(keys) for keys in found) > 300
    for family, keys in zip(families, found):
        assert len(keys) == len(set(keys)), family.name
        assert set(keys) == _per_source(client, prefix, family), family.name
    some = FAMILIES["usage"]
    assert set(scan_family(client, prefix, some)) == _per_source(client, prefix, some)


@pytest.mark.parametrize(("glob", "key", "matches"), [
    ("usage:[co]*", "usage:cost:x", True), ("usage:[co]*", "usage:daily:x", False),
    ("*usage:*", "account_usage:1", True), ("a\\*b", "a*b", True), ("a\\*b", "axb", False),
    ("x[^a]y", "xby", True), ("x[^a]y", "xay", False), ("a?c", "abc", True), ("a?c", "ac", False),
    ("k:[a-c]", "k:b", True), ("k:[a-c]", "k:d", False),
])
def test_glob_as_regex_follows_redis_match(glob, key, matches, client, redis_prefix):
    assert (_glob_regex(glob).fullmatch(key) is not None) is matches
    client.set(redis_prefix + key, "1")   # the server agrees
    assert bool(list(client.scan_iter(match=glob_escape(redis_prefix) + glob, count=1000))) is matches
