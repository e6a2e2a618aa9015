"""put(record): the idempotent absolute upsert dual writes and rollbacks rely on, on both backends."""
from __future__ import annotations

from dataclasses import replace

import pytest

from relaystore import AlreadyExists
from relaystore.apikey_rules import hash_raw_key
from relaystore.redis.api_keys import encode
from tests.conftest import TEST_ENCRYPTION_KEY


def test_put_creates_a_record_that_authenticates(store):
    other_key, _ = store.api_keys.create("template")
    raw = "cr_" + "9" * 64
    key = replace(other_key, id="11111111-2222-4333-8444-555555555555", name="put",
                  key_hash=hash_raw_key(raw, TEST_ENCRYPTION_KEY), tags=("p",))
    store.api_keys.put(key)
    assert store.api_keys.get(key.id) == key
    assert store.api_keys.authenticate(raw).key == key
    assert store.api_keys.list(tag="p").total == 1


def test_put_replaces_the_whole_record_and_twice_changes_nothing(store):
    key, _ = store.api_keys.create("before", tags=["a", "b"])
    deleted = store.api_keys.delete(key.id)
    restored = replace(deleted, is_deleted=False, is_active=True, deleted_at=None, deleted_by="",
                       deleted_by_type="", name="after", tags=("c",), extra={"futureField": "x"})
    store.api_keys.put(restored)
    store.api_keys.put(restored)
    assert store.api_keys.get(key.id) == restored
    assert store.api_keys.list(tag="a").total == 0 and store.api_keys.list(tag="c").total == 1


def test_put_with_a_new_hash_moves_the_lookup(store):
    key, old_raw = store.api_keys.create("regenerated")
    new_raw = "cr_" + "8" * 64
    store.api_keys.put(replace(key, key_hash=hash_raw_key(new_raw, TEST_ENCRYPTION_KEY)))
    assert store.api_keys.authenticate(new_raw).ok
    assert store.api_keys.authenticate(old_raw).reason == "unknown"


def test_put_refuses_a_hash_owned_by_another_key_on_mysql(mysql_store):
    first, _ = mysql_store.api_keys.create("first")
    second, _ = mysql_store.api_keys.create("second")
    with pytest.raises(AlreadyExists, match=first.id):
        mysql_store.api_keys.put(replace(second, key_hash=first.key_hash))
    assert mysql_store.api_keys.get(first.id) == first and mysql_store.api_keys.get(second.id) == second


def test_put_leaves_exactly_the_records_fields_in_redis(redis_store, raw_redis, redis_prefix):
    key, _ = redis_store.api_keys.create("exact")
    raw_redis.hset(f"{redis_prefix}apikey:{key.id}", mapping={"staleField": "x", "deletedBy": ""})
    redis_store.api_keys.put(key)
    assert raw_redis.hgetall(f"{redis_prefix}apikey:{key.id}") == encode(key)
