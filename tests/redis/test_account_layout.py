"""The Redis backend writes and reads upstream's account and group layout exactly (spec §7, §8)."""
from __future__ import annotations

import json
import re
import uuid

import pytest

from relaystore import DataError
from relaystore.account_rules import PLATFORMS
from tests import upstream_crypto as up
from tests.conftest import TEST_ENCRYPTION_KEY

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
STORED = re.compile(r"^[0-9a-f]{32}:(?:[0-9a-f]{32})+$")

# spec §7.1: platform -> (account key prefix, shared pool set or None)
LAYOUT = {
    "claude": ("claude:account:", None),
    "claude-console": ("claude_console_account:", "shared_claude_console_accounts"),
    "openai": ("openai:account:", "shared_openai_accounts"),
    "openai-responses": ("openai_responses_account:", "shared_openai_responses_accounts"),
    "azure-openai": ("azure_openai:account:", "shared_azure_openai_accounts"),
    "gemini": ("gemini_account:", "shared_gemini_accounts"),
    "gemini-api": ("gemini_api_account:", "shared_gemini_api_accounts"),
    "bedrock": ("bedrock_account:", None),
    "droid": ("droid:account:", None),
    "ccr": ("ccr_account:", "shared_ccr_accounts"),
}
HASH_PLATFORMS = sorted(p for p in LAYOUT if p != "bedrock")


@pytest.mark.parametrize("platform", HASH_PLATFORMS)
def test_created_hash_account_has_upstream_key_fields_and_indexes(redis_store, raw_redis, redis_prefix, platform):
    prefix, shared = LAYOUT[platform]
    p = redis_prefix
    raw_redis.set(f"{p}{prefix}index:empty", "1")
    secrets = {name: f"plain-{name}" for name in PLATFORMS[platform].secret_fields}
    account = redis_store.accounts.create(platform, name="n", priority=20, apiUrl="https://u", **secrets)
    data = raw_redis.hgetall(f"{p}{prefix}{account.id}")
    assert {k: data[k] for k in ("id", "name", "isActive", "schedulable", "status", "priority", "accountType",
                                 "errorMessage", "lastUsedAt", "apiUrl")} == {
        "id": account.id, "name": "n", "isActive": "true", "schedulable": "true", "status": "active",
        "priority": "20", "accountType": "shared", "errorMessage": "", "lastUsedAt": "", "apiUrl": "https://u"}
    assert ISO.match(data["createdAt"])
    for name, plaintext in secrets.items():
        assert STORED.match(data[name]) and plaintext not in data[name]
        assert up.decrypt(TEST_ENCRYPTION_KEY, platform, data[name]) == plaintext
    assert raw_redis.sismember(f"{p}{prefix}index", account.id)
    assert not raw_redis.exists(f"{p}{prefix}index:empty")
    if shared:
        assert raw_redis.smembers(f"{p}{shared}") == {account.id}


@pytest.mark.parametrize("platform", [p for p in HASH_PLATFORMS if LAYOUT[p][1]])
def test_shared_pool_membership_follows_account_type(redis_store, raw_redis, redis_prefix, platform):
    shared = redis_prefix + LAYOUT[platform][1]
    dedicated = redis_store.accounts.create(platform, account_type="dedicated")
    assert not raw_redis.sismember(shared, dedicated.id)
    redis_store.accounts.update(platform, dedicated.id, account_type="shared")
    assert raw_redis.sismember(shared, dedicated.id)
    redis_store.accounts.update(platform, dedicated.id, account_type="group")
    assert not raw_redis.sismember(shared, dedicated.id)


def test_bedrock_account_is_one_json_string_with_an_encrypted_credentials_object(redis_store, raw_redis, redis_prefix):
    creds = {"accessKeyId": "AKIA9", "secretAccessKey": "sk/9", "sessionToken": ""}
    account = redis_store.accounts.create("bedrock", name="b", region="us-west-2", awsCredentials=creds,
                                          bearerToken="bt-1", account_type="dedicated")
    key = f"{redis_prefix}bedrock_account:{account.id}"
    assert raw_redis.type(key) == "string"
    stored = json.loads(raw_redis.get(key))
    assert stored["isActive"] is True and stored["schedulable"] is True and stored["priority"] == 50
    assert (stored["type"], stored["region"], stored["accountType"]) == ("bedrock", "us-west-2", "dedicated")
    assert set(stored["awsCredentials"]) == {"encrypted", "iv"} and "sk/9" not in raw_redis.get(key)
    assert up.bedrock_decrypt(TEST_ENCRYPTION_KEY, stored["awsCredentials"]) == creds
    assert up.bedrock_decrypt(TEST_ENCRYPTION_KEY, stored["bearerToken"]) == {"token": "bt-1"}
    assert raw_redis.sismember(f"{redis_prefix}bedrock_account:index", account.id)


def _raw_hash_account(platform: str, account_id: str) -> dict[str, str]:
    """An account hash as the upstream relay writes it, secrets encrypted by the spec's algorithm."""
    fields = {"id": account_id, "name": "Upstream 账户", "description": "", "isActive": "true",
              "accountType": "shared", "priority": "30", "createdAt": "2025-07-30T01:02:03.456Z",
              "lastUsedAt": "2025-08-01T00:00:00.000Z", "status": "active", "errorMessage": "",
              "schedulable": "true", "proxy": '{"type":"http","host":"p","port":8080}',
              "supportedModels": '{"claude-3":"claude-3"}', "someFutureField": "kept verbatim"}
    for name in PLATFORMS[platform].secret_fields:
        fields[name] = up.encrypt(TEST_ENCRYPTION_KEY, platform, f"upstream-{name}-✓", iv=uuid.uuid4().bytes)
    return fields


@pytest.mark.parametrize("platform", HASH_PLATFORMS)
def test_raw_upstream_hash_account_is_read_correctly(redis_store, raw_redis, redis_prefix, platform):
    prefix = redis_prefix + LAYOUT[platform][0]
    account_id = str(uuid.uuid4())
    raw_redis.hset(prefix + account_id, mapping=_raw_hash_account(platform, account_id))
    raw_redis.sadd(prefix + "index", account_id)
    account = redis_store.accounts.get(platform, account_id)
    assert (account.name, account.priority, account.is_active, account.schedulable) == ("Upstream 账户", 30, True, True)
    assert account.created_at.isoformat() == "2025-07-30T01:02:03.456000+00:00"
    assert account.last_used_at.isoformat() == "2025-08-01T00:00:00+00:00"
    assert account.secrets == {name: f"upstream-{name}-✓" for name in PLATFORMS[platform].secret_fields}
    assert account.data == {"proxy": '{"type":"http","host":"p","port":8080}',
                            "supportedModels": '{"claude-3":"claude-3"}', "someFutureField": "kept verbatim"}
    assert [a.id for a in redis_store.accounts.list(platform)] == [account_id]
    assert [a.id for a in redis_store.accounts.list_schedulable(platform)] == [account_id]


def test_raw_upstream_reader_defaults(redis_store, raw_redis, redis_prefix):
    """Missing/legacy values read as upstream's readers read them."""
    raw_redis.hset(f"{redis_prefix}droid:account:d1", mapping={"id": "d1", "name": "bare", "isActive": "1"})
    account = redis_store.accounts.get("droid", "d1")
    assert (account.is_active, account.schedulable, account.status, account.priority, account.account_type) == (
        False, True, "active", 50, "shared")  # isActive must be exactly "true"; schedulable unless "false"


def test_raw_upstream_bedrock_json_is_read_including_legacy_plaintext_credentials(redis_store, raw_redis, redis_prefix):
    creds = {"accessKeyId": "AKIA-up", "secretAccessKey": "up/secret"}
    record = {"id": "b1", "name": "bed", "description": "", "region": "us-east-1", "isActive": True,
              "accountType": "shared", "priority": 5, "schedulable": True, "credentialType": "access_key",
              "subscriptionExpiresAt": None, "createdAt": "2025-07-30T01:02:03.456Z", "type": "bedrock",
              "awsCredentials": up.bedrock_encrypt(TEST_ENCRYPTION_KEY, creds)}
    raw_redis.set(f"{redis_prefix}bedrock_account:b1", json.dumps(record))
    legacy = dict(record, id="b2", awsCredentials=creds)
    raw_redis.set(f"{redis_prefix}bedrock_account:b2", json.dumps(legacy))
    raw_redis.sadd(f"{redis_prefix}bedrock_account:index", "b1", "b2")
    for account in (redis_store.accounts.get("bedrock", "b1"), redis_store.accounts.get("bedrock", "b2")):
        assert account.secrets == {"awsCredentials": creds} and account.priority == 5
        assert account.data["subscriptionExpiresAt"] is None and account.data["credentialType"] == "access_key"
    assert [a.id for a in redis_store.accounts.list_schedulable("bedrock")] == ["b1", "b2"]


def test_update_writes_only_changed_fields(redis_store, raw_redis, redis_prefix):
    account = redis_store.accounts.create("openai", accessToken="at", refreshToken="rt", idToken="it")
    key = f"{redis_prefix}openai:account:{account.id}"
    before = raw_redis.hgetall(key)
    redis_store.accounts.update("openai", account.id, refreshToken="rt2", status="error")
    after = raw_redis.hgetall(key)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"refreshToken", "status"}  # untouched ciphertexts stay byte for byte
    assert up.decrypt(TEST_ENCRYPTION_KEY, "openai", after["refreshToken"]) == "rt2"


def test_delete_removes_key_index_shared_pool_and_group_entries(redis_store, raw_redis, redis_prefix):
    p = redis_prefix
    account = redis_store.accounts.create("gemini", accessToken="x")
    group = redis_store.account_groups.create("gemini", "g")
    redis_store.account_groups.add_member(group.id, account.id, platform="gemini")
    assert raw_redis.smembers(f"{p}account_groups_reverse:gemini:{account.id}") == {group.id}
    redis_store.accounts.delete("gemini", account.id)
    assert not raw_redis.exists(f"{p}gemini_account:{account.id}")
    assert not raw_redis.sismember(f"{p}gemini_account:index", account.id)
    assert not raw_redis.sismember(f"{p}shared_gemini_accounts", account.id)
    assert not raw_redis.sismember(f"{p}account_group_members:{group.id}", account.id)
    assert not raw_redis.exists(f"{p}account_groups_reverse:gemini:{account.id}")


def test_list_falls_back_to_scan_when_the_index_is_empty_and_backfills_it(redis_store, raw_redis, redis_prefix):
    p = redis_prefix
    for account_id in ("c1", "c2"):
        raw_redis.hset(f"{p}ccr_account:{account_id}", mapping={"id": account_id, "isActive": "true",
                                                                 "createdAt": "2025-01-01T00:00:00.000Z"})
    assert [a.id for a in redis_store.accounts.list("ccr")] == ["c1", "c2"]
    assert raw_redis.smembers(f"{p}ccr_account:index") == {"c1", "c2"}
    assert redis_store.accounts.list("droid") == []
    assert raw_redis.exists(f"{p}droid:account:index:empty")  # next empty list() skips the SCAN
    raw_redis.hset(f"{p}droid:account:hidden", mapping={"id": "hidden"})
    assert redis_store.accounts.list("droid") == []
    redis_store.accounts.create("droid", id="visible")
    assert [a.id for a in redis_store.accounts.list("droid")] == ["visible"]


def test_stale_index_entries_are_skipped(redis_store, raw_redis, redis_prefix):
    account = redis_store.accounts.create("claude")
    raw_redis.sadd(f"{redis_prefix}claude:account:index", "gone-account")
    assert [a.id for a in redis_store.accounts.list("claude")] == [account.id]


def test_malformed_ciphertext_raises_data_error_naming_key_and_field_not_value(redis_store, raw_redis, redis_prefix):
    account = redis_store.accounts.create("claude-console", apiKey="sk-good")
    key = f"{redis_prefix}claude_console_account:{account.id}"
    bad = "000102030405060708090a0b0c0d0e0f:deadbeefdeadbeefdeadbeefdeadbeef"
    raw_redis.hset(key, "apiKey", bad)
    for call in (lambda: redis_store.accounts.get("claude-console", account.id),
                 lambda: redis_store.accounts.list("claude-console")):
        with pytest.raises(DataError) as info:
            call()
        assert key in str(info.value) and "apiKey" in str(info.value) and "deadbeef" not in str(info.value)


def test_a_wrong_key_type_is_a_data_error(redis_store, raw_redis, redis_prefix):
    raw_redis.sadd(f"{redis_prefix}ccr_account:index", "weird")
    raw_redis.rpush(f"{redis_prefix}ccr_account:weird", "x")
    with pytest.raises(DataError, match="ccr_account:weird"):
        redis_store.accounts.list("ccr")
    with pytest.raises(DataError, match="ccr_account:weird"):
        redis_store.accounts.get("ccr", "weird")
    with pytest.raises(DataError, match="ccr_account:weird"):
        redis_store.accounts.update("ccr", "weird", name="x")


def test_group_layout(redis_store, raw_redis, redis_prefix):
    p = redis_prefix
    group = redis_store.account_groups.create("openai", "Pro", "d")
    data = raw_redis.hgetall(f"{p}account_group:{group.id}")
    assert {k: data[k] for k in ("id", "name", "platform", "description")} == {
        "id": group.id, "name": "Pro", "platform": "openai", "description": "d"}
    assert ISO.match(data["createdAt"]) and data["updatedAt"] == data["createdAt"]
    assert raw_redis.smembers(f"{p}account_groups") == {group.id}
    redis_store.account_groups.add_member(group.id, "acc-1", platform="openai")
    assert raw_redis.smembers(f"{p}account_group_members:{group.id}") == {"acc-1"}
    assert raw_redis.smembers(f"{p}account_groups_reverse:openai:acc-1") == {group.id}
    redis_store.account_groups.remove_member(group.id, "acc-1")
    assert not raw_redis.exists(f"{p}account_groups_reverse:openai:acc-1")
    redis_store.account_groups.delete(group.id)
    assert not raw_redis.exists(f"{p}account_group:{group.id}") and not raw_redis.exists(f"{p}account_groups")


def test_groups_of_reads_pre_reverse_index_keyspaces(redis_store, raw_redis, redis_prefix):
    """Upstream data from before the reverse index (no migrated marker) is found by member SETs."""
    p = redis_prefix
    raw_redis.hset(f"{p}account_group:g-old", mapping={"id": "g-old", "name": "old", "platform": "claude",
                                                       "description": "", "createdAt": "2025-01-01T00:00:00.000Z",
                                                       "updatedAt": "2025-01-01T00:00:00.000Z"})
    raw_redis.sadd(f"{p}account_groups", "g-old")
    raw_redis.sadd(f"{p}account_group_members:g-old", "acc-x")
    assert [g.id for g in redis_store.account_groups.groups_of("claude", "acc-x")] == ["g-old"]
    assert raw_redis.smembers(f"{p}account_groups_reverse:claude:acc-x") == {"g-old"}  # rebuilt once
    assert raw_redis.get(f"{p}account_groups_reverse:migrated") == "true"
    raw_redis.sadd(f"{p}account_group_members:g-old", "acc-y")  # behind the index's back
    assert redis_store.account_groups.groups_of("claude", "acc-y") == []  # migrated: trust the reverse index
