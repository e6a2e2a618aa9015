"""API-key contract: the same scenarios on both backends (ids show [mysql] and [redis])."""
from __future__ import annotations

from datetime import timedelta

import pytest

from relaystore import InvalidInput, NotFound
from relaystore.apikey_rules import TAG_MAX_CHARS, hash_raw_key
from relaystore.timefmt import utcnow
from tests.conftest import TEST_ENCRYPTION_KEY

HOSTILE = [
    "it's \"quoted\"",
    "back\\slash\\\\ and \\x00-ish",
    "100%s %(name)s %% _under_",
    "emoji 🔑🚀 and CJK 密钥",
    "x" * 10_000,
    "line\nbreak\ttab",
    "'; DROP TABLE api_keys; --",
]


def test_create_returns_record_and_raw_key_only_hash_stored(store):
    key, raw = store.api_keys.create("first", description="d")
    assert raw.startswith("cr_") and len(raw) == 67
    assert key.key_hash == hash_raw_key(raw, TEST_ENCRYPTION_KEY)
    stored = store.api_keys.get(key.id)
    assert stored == key
    assert raw not in repr(stored)


def test_get_unknown_returns_none(store):
    assert store.api_keys.get("00000000-0000-4000-8000-000000000000") is None


def test_authenticate_valid_key(store):
    key, raw = store.api_keys.create("auth me")
    result = store.api_keys.authenticate(raw)
    assert result.ok and result.reason is None
    assert result.key.id == key.id


@pytest.mark.parametrize("raw", ["", "short", "cr_" + "0" * 64, "xx_" + "a" * 64, "cr_" + "a" * 600])
def test_authenticate_unknown_or_malformed_key(store, raw):
    store.api_keys.create("someone")
    result = store.api_keys.authenticate(raw)
    assert (result.ok, result.reason, result.key) == (False, "unknown", None)


def test_authenticate_inactive_key(store):
    _, raw = store.api_keys.create("off", is_active=False)
    result = store.api_keys.authenticate(raw)
    assert (result.ok, result.reason) == (False, "inactive")


def test_authenticate_expired_key(store):
    key, raw = store.api_keys.create("old", expires_at=utcnow() - timedelta(seconds=1))
    assert store.api_keys.authenticate(raw).reason == "expired"
    store.api_keys.update(key.id, expires_at=utcnow() + timedelta(days=1))
    assert store.api_keys.authenticate(raw).ok


def test_authenticate_activates_on_first_use(store):
    key, raw = store.api_keys.create("lazy", expiration_mode="activation", activation_days=2,
                                      activation_unit="hours")
    assert not key.is_activated and key.expires_at is None
    before = utcnow()
    result = store.api_keys.authenticate(raw)
    assert result.ok
    stored = store.api_keys.get(key.id)
    assert stored.is_activated and stored.activated_at >= before
    assert stored.expires_at == stored.activated_at + timedelta(hours=2)
    again = store.api_keys.authenticate(raw)
    assert again.ok and again.key.expires_at == stored.expires_at  # activation happens once


def test_deleted_key_is_refused_and_restore_brings_it_back(store):
    key, raw = store.api_keys.create("temp")
    deleted = store.api_keys.delete(key.id, deleted_by="ops", deleted_by_type="admin")
    assert deleted.is_deleted and not deleted.is_active and deleted.deleted_by == "ops"
    result = store.api_keys.authenticate(raw)
    assert not result.ok
    assert result.reason == ("deleted" if store.backend == "mysql" else "unknown")  # see ports.ApiKeyStore
    restored = store.api_keys.restore(key.id, restored_by="ops")
    assert restored.is_active and not restored.is_deleted and restored.deleted_at is None
    assert restored.restored_by == "ops"
    assert store.api_keys.authenticate(raw).ok
    assert store.api_keys.get(key.id) == restored


def test_restore_of_live_key_is_refused(store):
    key, _ = store.api_keys.create("live")
    with pytest.raises(InvalidInput, match="not deleted"):
        store.api_keys.restore(key.id)


def test_update_changes_fields_and_keeps_others(store):
    key, raw = store.api_keys.create("before", tags=["a"], daily_cost_limit=5.5)
    updated = store.api_keys.update(key.id, name="after", tags=["b", "c"], permissions=["claude"],
                                    service_rates={"claude": 1.2}, concurrency_limit=3)
    assert updated.name == "after" and updated.tags == ("b", "c") and updated.daily_cost_limit == 5.5
    assert store.api_keys.get(key.id) == updated
    assert store.api_keys.authenticate(raw).key == updated


def test_update_unknown_id_raises_not_found(store):
    with pytest.raises(NotFound):
        store.api_keys.update("00000000-0000-4000-8000-000000000000", name="x")


def test_update_rejects_unknown_and_managed_fields_by_name(store):
    key, _ = store.api_keys.create("k")
    with pytest.raises(InvalidInput, match="key_hash, nonsense"):
        store.api_keys.update(key.id, nonsense=1, key_hash="00")


def test_tags_longer_than_the_limit_are_refused_never_cut(store):
    longest = "\U0001F600" * TAG_MAX_CHARS
    key, _ = store.api_keys.create("k", tags=[longest])
    assert store.api_keys.get(key.id).tags == (longest,)
    assert store.api_keys.list(tag=longest).total == 1
    with pytest.raises(InvalidInput, match=f"limit is {TAG_MAX_CHARS}"):
        store.api_keys.create("k2", tags=["x" * (TAG_MAX_CHARS + 1)])
    with pytest.raises(InvalidInput, match="limit is"):
        store.api_keys.update(key.id, tags=["ok", "y" * (TAG_MAX_CHARS + 1)])
    with pytest.raises(InvalidInput, match="tags must be strings"):
        store.api_keys.update(key.id, tags=[5])
    assert store.api_keys.get(key.id).tags == (longest,)


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:12]))
def test_hostile_strings_round_trip_verbatim(store, text):
    key, raw = store.api_keys.create(text, description=text, tags=[text[:150]], user_username=text[:200])
    stored = store.api_keys.get(key.id)
    assert stored.name == text and stored.description == text and stored.tags == (text[:150],)
    assert stored.user_username == text[:200]
    assert store.api_keys.authenticate(raw).key.name == text
    page = store.api_keys.list(search=text[:40])
    assert [k.id for k in page.items] == [key.id]


def test_list_pages_newest_first_with_total(store):
    keys = [store.api_keys.create(f"key {i}")[0] for i in range(7)]
    # newest first; keys created in the same millisecond are ordered by id, descending, on both backends
    ids = [k.id for k in sorted(keys, key=lambda k: (k.created_at, k.id), reverse=True)]
    first = store.api_keys.list(page=1, page_size=3)
    second = store.api_keys.list(page=3, page_size=3)
    assert first.total == 7 and [k.id for k in first.items] == ids[:3]
    assert [k.id for k in second.items] == ids[6:]
    beyond = store.api_keys.list(page=9, page_size=3)
    assert beyond.items == [] and beyond.total == 7


def test_list_filters_active_tag_search_and_deleted(store):
    a, _ = store.api_keys.create("Alpha Prod", tags=["prod"])
    b, _ = store.api_keys.create("beta prod", tags=["prod", "eu"], is_active=False)
    c, _ = store.api_keys.create("gamma test", tags=["test"])
    store.api_keys.delete(c.id)

    def ids(**kw):
        return {k.id for k in store.api_keys.list(**kw).items}

    assert ids() == {a.id, b.id}
    assert ids(include_deleted=True) == {a.id, b.id, c.id}
    assert ids(active=True) == {a.id}
    assert ids(active=False) == {b.id}
    assert ids(tag="prod") == {a.id, b.id}
    assert ids(tag="eu") == {b.id}
    assert ids(tag="missing") == set()
    assert ids(search="PROD") == {a.id, b.id}
    assert ids(search="%") == set()
    assert ids(search="gamma", include_deleted=True) == {c.id}
    assert store.api_keys.list(tag="prod", search="alpha").total == 1


def test_purge_removes_deleted_key_only(store):
    key, raw = store.api_keys.create("gone", tags=["t"])
    with pytest.raises(InvalidInput, match="must be deleted"):
        store.api_keys.purge(key.id)
    store.api_keys.delete(key.id)
    store.api_keys.purge(key.id)
    assert store.api_keys.get(key.id) is None
    assert store.api_keys.list(include_deleted=True).total == 0
    assert store.api_keys.authenticate(raw).reason == "unknown"
