"""The Redis backend writes and reads the upstream relay's API-key layout exactly."""
from __future__ import annotations

import re
import uuid

import pytest

from relaystore import DataError
from relaystore.apikey_rules import hash_raw_key
from tests.conftest import TEST_ENCRYPTION_KEY

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UPSTREAM_CREATE_FIELDS = {
    "id", "name", "description", "apiKey", "tokenLimit", "concurrencyLimit", "rateLimitWindow",
    "rateLimitRequests", "rateLimitCost", "isActive", "claudeAccountId", "claudeConsoleAccountId",
    "geminiAccountId", "openaiAccountId", "azureOpenaiAccountId", "bedrockAccountId", "droidAccountId",
    "permissions", "enableModelRestriction", "restrictedModels", "enableClientRestriction", "allowedClients",
    "dailyCostLimit", "totalCostLimit", "weeklyOpusCostLimit", "weeklyResetDay", "weeklyResetHour", "tags",
    "activationDays", "activationUnit", "expirationMode", "isActivated", "activatedAt", "createdAt",
    "lastUsedAt", "expiresAt", "createdBy", "userId", "userUsername", "icon", "serviceRates",
    "enableOpenAIResponsesCodexAdaptation", "enableOpenAIResponsesPayloadRules", "openaiResponsesPayloadRules",
}


def test_created_key_has_upstream_fields_and_encodings(redis_store, raw_redis, redis_prefix):
    key, raw = redis_store.api_keys.create("layout", tags=["t1"], daily_cost_limit=2.5, concurrency_limit=4)
    data = raw_redis.hgetall(f"{redis_prefix}apikey:{key.id}")
    assert set(data) == UPSTREAM_CREATE_FIELDS
    assert data["apiKey"] == hash_raw_key(raw, TEST_ENCRYPTION_KEY) and raw not in data.values()
    assert (data["isActive"], data["isActivated"], data["enableModelRestriction"]) == ("true", "true", "false")
    assert (data["tokenLimit"], data["dailyCostLimit"], data["concurrencyLimit"]) == ("0", "2.5", "4")
    assert (data["permissions"], data["tags"], data["serviceRates"]) == ("[]", '["t1"]', "{}")
    assert ISO.match(data["createdAt"]) and ISO.match(data["activatedAt"])
    assert (data["expiresAt"], data["lastUsedAt"], data["weeklyResetDay"]) == ("", "", "1")
    assert 365 * 86400 - 5 <= raw_redis.ttl(f"{redis_prefix}apikey:{key.id}") <= 365 * 86400


def test_created_key_maintains_upstream_indexes(redis_store, raw_redis, redis_prefix):
    key, _ = redis_store.api_keys.create("Indexed Name", tags=["blue"])
    p = redis_prefix
    assert raw_redis.hget(f"{p}apikey:hash_map", key.key_hash) == key.id
    assert raw_redis.sismember(f"{p}apikey:idx:all", key.id)
    assert raw_redis.sismember(f"{p}apikey:set:active", key.id)
    assert raw_redis.zscore(f"{p}apikey:idx:createdAt", key.id) == int(key.created_at.timestamp() * 1000)
    assert raw_redis.zscore(f"{p}apikey:idx:lastUsedAt", key.id) == 0
    assert raw_redis.zscore(f"{p}apikey:idx:name", f"indexed name\x00{key.id}") == 0
    assert raw_redis.smembers(f"{p}apikey:tag:blue") == {key.id}
    assert "blue" in raw_redis.smembers(f"{p}apikey:tags:all")
    redis_store.api_keys.delete(key.id)
    assert raw_redis.hget(f"{p}apikey:hash_map", key.key_hash) is None
    assert raw_redis.sismember(f"{p}apikey:set:deleted", key.id)
    assert not raw_redis.sismember(f"{p}apikey:set:active", key.id)
    assert raw_redis.hget(f"{p}apikey:{key.id}", "isDeleted") == "true"
    redis_store.api_keys.restore(key.id)
    assert raw_redis.hget(f"{p}apikey:hash_map", key.key_hash) == key.id
    assert raw_redis.hgetall(f"{p}apikey_hash:{key.key_hash}") == {"id": key.id, "name": "Indexed Name",
                                                                  "isActive": "true"}
    assert raw_redis.hget(f"{p}apikey:{key.id}", "isDeleted") is None


def _upstream_key(raw_redis, prefix, raw, **fields):
    """Write a key exactly as the upstream relay's createApiKey does (raw HSETs)."""
    key_id = str(uuid.uuid4())
    key_hash = hash_raw_key(raw, TEST_ENCRYPTION_KEY)
    data = {
        "id": key_id, "name": "from upstream", "description": "", "apiKey": key_hash, "tokenLimit": "0",
        "concurrencyLimit": "0", "rateLimitWindow": "0", "rateLimitRequests": "0", "rateLimitCost": "0",
        "isActive": "true", "claudeAccountId": "", "claudeConsoleAccountId": "", "geminiAccountId": "",
        "openaiAccountId": "", "azureOpenaiAccountId": "", "bedrockAccountId": "", "droidAccountId": "",
        "permissions": '["claude","gemini"]', "enableModelRestriction": "false", "restrictedModels": "[]",
        "enableClientRestriction": "false", "allowedClients": "[]", "dailyCostLimit": "10",
        "totalCostLimit": "0", "weeklyOpusCostLimit": "0", "weeklyResetDay": "1", "weeklyResetHour": "0",
        "tags": '["team-a"]', "activationDays": "0", "activationUnit": "days", "expirationMode": "fixed",
        "isActivated": "true", "activatedAt": "2025-07-30T01:02:03.456Z", "createdAt": "2025-07-30T01:02:03.456Z",
        "lastUsedAt": "", "expiresAt": "", "createdBy": "admin", "userId": "", "userUsername": "", "icon": "",
        "serviceRates": '{"claude":1.5}', "someFutureField": "kept verbatim",
    }
    data.update(fields)
    raw_redis.hset(f"{prefix}apikey:{key_id}", mapping=data)
    return key_id, key_hash, data


def test_upstream_written_key_authenticates(redis_store, raw_redis, redis_prefix):
    raw = "cr_" + "ab" * 32
    key_id, key_hash, data = _upstream_key(raw_redis, redis_prefix, raw)
    raw_redis.hset(f"{redis_prefix}apikey:hash_map", key_hash, key_id)
    result = redis_store.api_keys.authenticate(raw)
    assert result.ok and result.key.id == key_id
    key = result.key
    assert key.permissions == ("claude", "gemini") and key.daily_cost_limit == 10.0
    assert key.service_rates == {"claude": 1.5} and key.tags == ("team-a",)
    assert key.extra == {"someFutureField": "kept verbatim"}
    assert key.created_at.isoformat() == "2025-07-30T01:02:03.456000+00:00"


def test_legacy_hash_record_is_found_and_back_filled(redis_store, raw_redis, redis_prefix):
    raw = "cr_" + "cd" * 32
    key_id, key_hash, _ = _upstream_key(raw_redis, redis_prefix, raw)
    raw_redis.hset(f"{redis_prefix}apikey_hash:{key_hash}", mapping={"id": key_id, "name": "x"})
    assert redis_store.api_keys.authenticate(raw).ok
    assert raw_redis.hget(f"{redis_prefix}apikey:hash_map", key_hash) == key_id


def test_soft_deleted_key_back_in_hash_map_is_refused_as_deleted(redis_store, raw_redis, redis_prefix):
    raw = "cr_" + "ef" * 32
    key_id, key_hash, _ = _upstream_key(raw_redis, redis_prefix, raw, isDeleted="true", isActive="false",
                                        deletedAt="2025-08-01T00:00:00.000Z")
    raw_redis.hset(f"{redis_prefix}apikey:hash_map", key_hash, key_id)  # upstream re-adds at restart (§9)
    result = redis_store.api_keys.authenticate(raw)
    assert (result.ok, result.reason) == (False, "deleted")


def test_dangling_hash_map_entry_is_removed(redis_store, raw_redis, redis_prefix):
    raw = "cr_" + "12" * 32
    key_hash = hash_raw_key(raw, TEST_ENCRYPTION_KEY)
    raw_redis.hset(f"{redis_prefix}apikey:hash_map", key_hash, "no-such-id")
    assert redis_store.api_keys.authenticate(raw).reason == "unknown"
    assert raw_redis.hget(f"{redis_prefix}apikey:hash_map", key_hash) is None


def test_legacy_plain_string_permissions_are_read(redis_store, raw_redis, redis_prefix):
    key_id, _, _ = _upstream_key(raw_redis, redis_prefix, "cr_" + "34" * 32, permissions="all")
    assert redis_store.api_keys.get(key_id).permissions == ()
    key_id, _, _ = _upstream_key(raw_redis, redis_prefix, "cr_" + "56" * 32, permissions="gemini")
    assert redis_store.api_keys.get(key_id).permissions == ("gemini",)


@pytest.mark.parametrize("field,value", [("tokenLimit", "lots"), ("tags", "[not json"), ("createdAt", "yesterday")])
def test_malformed_value_raises_data_error_naming_key_and_field(redis_store, raw_redis, redis_prefix, field, value):
    key_id, _, _ = _upstream_key(raw_redis, redis_prefix, "cr_" + "78" * 32, **{field: value})
    with pytest.raises(DataError, match=rf"apikey:{key_id}: field {field}"):
        redis_store.api_keys.get(key_id)


def test_relaystore_written_fields_decode_to_the_same_record(redis_store, raw_redis, redis_prefix):
    key, _ = redis_store.api_keys.create("rt", rate_limit_cost=0.1 + 0.2, service_rates={"a": 1e-7},
                                         restricted_models=["m:1"], enable_model_restriction=True)
    data = raw_redis.hgetall(f"{redis_prefix}apikey:{key.id}")
    assert data["rateLimitCost"] == "0.30000000000000004" and data["serviceRates"] == '{"a":1e-7}'
    assert redis_store.api_keys.get(key.id) == key
