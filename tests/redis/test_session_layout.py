"""The Redis backend writes and reads upstream's layout for users, sessions, settings, request details."""
from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone

from relaystore import session_rules
from tests.contract.test_admin_credentials import HASH_A

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _ttl_between(raw_redis, key: str, low: float, high: float) -> None:
    ms = raw_redis.pttl(key)
    assert low * 1000 <= ms <= high * 1000, f"{key}: pttl {ms} ms outside [{low}, {high}] s"


def test_user_is_a_json_string_with_a_username_pointer(redis_store, raw_redis, redis_prefix):
    user = redis_store.users.create("alice", email="a@example.com")
    text = raw_redis.get(f"{redis_prefix}user:{user.id}")
    data = json.loads(text)
    assert list(data) == ["id", "username", "email", "role", "isActive", "createdAt", "updatedAt", "lastLoginAt",
                          "apiKeyCount", "totalUsage"]  # undefined keys dropped, as JSON.stringify does
    assert (data["isActive"], data["lastLoginAt"], data["apiKeyCount"]) == (True, None, 0)
    assert ISO.match(data["createdAt"]) and text == text.replace(", ", ",")  # compact
    assert raw_redis.get(f"{redis_prefix}username:alice") == user.id
    assert raw_redis.ttl(f"{redis_prefix}user:{user.id}") == -1
    redis_store.users.delete(user.id)
    assert ISO.match(json.loads(raw_redis.get(f"{redis_prefix}user:{user.id}"))["deletedAt"])


def test_upstream_written_user_keeps_unknown_fields_through_an_update(redis_store, raw_redis, redis_prefix):
    upstream = ('{"id":"abc123","username":"ldap.user","email":"u@corp","displayName":"U","firstName":"U",'
                '"lastName":"Ser","role":"user","isActive":true,"createdAt":"2025-07-30T01:02:03.456Z",'
                '"updatedAt":"2025-07-30T01:02:03.456Z","lastLoginAt":null,"apiKeyCount":2,'
                '"totalUsage":{"requests":5,"inputTokens":1,"outputTokens":2,"totalCost":0.5},"ldapGroups":["a"]}')
    raw_redis.set(f"{redis_prefix}user:abc123", upstream)
    raw_redis.set(f"{redis_prefix}username:ldap.user", "abc123")
    user = redis_store.users.get_by_username("ldap.user")
    assert user.extra == {"ldapGroups": ["a"]} and user.total_usage["totalCost"] == 0.5
    assert user.created_at == datetime(2025, 7, 30, 1, 2, 3, 456000, tzinfo=timezone.utc)
    redis_store.users.update("abc123", role="admin")
    data = json.loads(raw_redis.get(f"{redis_prefix}user:abc123"))
    assert data["ldapGroups"] == ["a"] and data["role"] == "admin" and data["apiKeyCount"] == 2


def test_user_list_skips_keys_under_user_that_are_not_json_strings(redis_store, raw_redis, redis_prefix):
    user = redis_store.users.create("bob")
    raw_redis.sadd(f"{redis_prefix}user:index", user.id)  # a newer relay's index set
    assert [u.id for u in redis_store.users.list().items] == [user.id]


def test_admin_session_hash_fields_and_upstreams_thousand_day_ttl(redis_store, raw_redis, redis_prefix):
    session = redis_store.sessions.create_admin_session("admin")
    key = f"{redis_prefix}session:{session.token}"
    data = raw_redis.hgetall(key)
    assert set(data) == {"username", "loginTime", "lastActivity"} and data["username"] == "admin"
    assert ISO.match(data["loginTime"]) and data["loginTime"] == data["lastActivity"]
    _ttl_between(raw_redis, key, 86_400_000 - 60, 86_400_000)
    redis_store.sessions.touch_admin_session(session.token, ttl_seconds=120)
    _ttl_between(raw_redis, key, 60, 120)


def test_admin_credentials_hash_and_ttl(redis_store, raw_redis, redis_prefix):
    redis_store.admin.set_credentials("admin", HASH_A)
    key = f"{redis_prefix}session:admin_credentials"
    data = raw_redis.hgetall(key)
    assert set(data) == {"username", "passwordHash", "createdAt", "lastLogin", "updatedAt"}
    assert (data["passwordHash"], data["lastLogin"], data["updatedAt"]) == (HASH_A, "", "")
    _ttl_between(raw_redis, key, 86_400 - 60, 86_400)
    redis_store.admin.set_credentials("admin", HASH_A, ttl_seconds=None)
    assert raw_redis.ttl(key) == -1


def test_upstream_written_admin_session_is_read(redis_store, raw_redis, redis_prefix):
    token = "ab" * 32
    raw_redis.hset(f"{redis_prefix}session:{token}", mapping={
        "username": "admin", "loginTime": "2025-07-30T01:02:03.456Z", "lastActivity": "2025-07-30T02:00:00.000Z"})
    session = redis_store.sessions.get_admin_session(token)
    assert session.username == "admin" and session.last_activity.hour == 2 and session.extra == {}


def test_user_session_is_setex_json(redis_store, raw_redis, redis_prefix):
    session = redis_store.sessions.create_user_session("u1", data={"ip": "1.2.3.4"})
    key = f"{redis_prefix}user_session:{session.token}"
    data = json.loads(raw_redis.get(key))
    assert list(data) == ["token", "userId", "createdAt", "expiresAt", "ip"]
    assert (data["token"], data["userId"], data["ip"]) == (session.token, "u1", "1.2.3.4")
    _ttl_between(raw_redis, key, 86_400 - 60, 86_400)


def test_oauth_session_hash_stringifies_objects_and_nulls(redis_store, raw_redis, redis_prefix):
    session = redis_store.sessions.create_oauth_session(code_verifier="v", state="s", code_challenge="c",
                                                        proxy={"type": "http", "port": 8080})
    key = f"{redis_prefix}oauth:{session.session_id}"
    data = raw_redis.hgetall(key)
    assert list(data) == ["codeVerifier", "state", "codeChallenge", "proxy", "createdAt", "expiresAt"]
    assert data["proxy"] == '{"type":"http","port":8080}'
    _ttl_between(raw_redis, key, 540, 600)
    bare = redis_store.sessions.create_oauth_session(code_verifier="v")
    assert raw_redis.hget(f"{redis_prefix}oauth:{bare.session_id}", "proxy") == ""


def test_upstream_oauth_session_with_broken_proxy_reads_as_none(redis_store, raw_redis, redis_prefix):
    raw_redis.hset(f"{redis_prefix}oauth:sid-1", mapping={"codeVerifier": "v", "proxy": "{broken", "workerId": "w"})
    session = redis_store.sessions.get_oauth_session("sid-1")
    assert session.proxy is None and session.extra == {"workerId": "w"} and session.created_at is None


def test_sticky_session_is_a_string_with_the_sticky_ttl(redis_store, raw_redis, redis_prefix):
    redis_store.sessions.set_sticky("abc", "acct-1")
    key = f"{redis_prefix}sticky_session:abc"
    assert raw_redis.get(key) == "acct-1"
    _ttl_between(raw_redis, key, session_rules.STICKY_SESSION_TTL_SECONDS - 60,
                 session_rules.STICKY_SESSION_TTL_SECONDS)


def test_sticky_renew_resets_the_ttl_only_below_the_threshold(redis_store, raw_redis, redis_prefix):
    key = f"{redis_prefix}sticky_session:abc"
    redis_store.sessions.set_sticky("abc", "acct-1", ttl_seconds=100)
    assert redis_store.sessions.renew_sticky("abc", ttl_seconds=3600, threshold_seconds=50)
    _ttl_between(raw_redis, key, 40, 100)                       # 100 s left > 50 s threshold: unchanged
    assert redis_store.sessions.renew_sticky("abc", ttl_seconds=3600, threshold_seconds=200)
    _ttl_between(raw_redis, key, 3000, 3600)                    # renewed to the full TTL
    raw_redis.persist(key)
    assert redis_store.sessions.renew_sticky("abc", ttl_seconds=3600, threshold_seconds=200)
    assert raw_redis.ttl(key) == -1                             # upstream leaves a key without TTL alone


def test_settings_are_plain_keys_named_as_upstream(redis_store, raw_redis, redis_prefix):
    redis_store.system_settings.set_webhook_config({"enabled": False, "platforms": []})
    assert raw_redis.get(f"{redis_prefix}webhook_config:default") == '{"enabled":false,"platforms":[]}'
    raw_redis.set(f"{redis_prefix}system:service_rates", '{"rates":{"claude":1.2}}')
    assert redis_store.system_settings.get_service_rates() == {"rates": {"claude": 1.2}}
    assert raw_redis.ttl(f"{redis_prefix}webhook_config:default") == -1


def test_request_detail_item_and_utc_day_index(redis_store, raw_redis, redis_prefix):
    at = datetime(2025, 7, 30, 23, 30, tzinfo=timezone.utc)   # 07-31 in the relay's +8 offset
    record = redis_store.request_details.put({"requestId": "req-9", "timestamp": "2025-07-30T23:30:00.000Z",
                                              "cost": 0.000123})
    item = f"{redis_prefix}request_detail:item:req-9"
    index = f"{redis_prefix}request_detail:index:day:2025-07-30"
    assert raw_redis.get(item) == '{"requestId":"req-9","timestamp":"2025-07-30T23:30:00.000Z","cost":0.000123}'
    assert raw_redis.zscore(index, "req-9") == at.timestamp() * 1000 and record.timestamp == at
    _ttl_between(raw_redis, item, 6 * 3600 - 60, 6 * 3600)
    _ttl_between(raw_redis, index, 6 * 3600 + 86_400 - 60, 6 * 3600 + 86_400)
    redis_store.request_details.put({"requestId": "req-10", "timestamp": "2025-07-30T01:00:00.000Z"},
                                    retention_hours=48)
    _ttl_between(raw_redis, index, 48 * 3600 + 86_400 - 60, 48 * 3600 + 86_400)
    assert redis_store.request_details.delete("req-9")
    assert raw_redis.zscore(index, "req-9") is None


def test_request_detail_index_entry_without_item_is_skipped(redis_store, raw_redis, redis_prefix):
    redis_store.request_details.put({"requestId": "gone", "timestamp": "2025-07-30T01:00:00.000Z"}, ttl_seconds=0.3)
    redis_store.request_details.put({"requestId": "kept", "timestamp": "2025-07-30T00:59:00.000Z"})
    time.sleep(0.6)
    assert raw_redis.zscore(f"{redis_prefix}request_detail:index:day:2025-07-30", "gone") is not None
    assert [r.request_id for r in redis_store.request_details.list_day("2025-07-30")] == ["kept"]


def test_account_balance_hash_fields_and_ttls(redis_store, raw_redis, redis_prefix):
    redis_store.account_state.set_balance("ccr", "a1", balance=7, quota={"q": 1})
    key = f"{redis_prefix}account_balance:ccr:a1"
    data = raw_redis.hgetall(key)
    assert list(data) == ["balance", "currency", "lastRefreshAt", "queryMethod", "status", "errorMessage",
                          "rawData", "quota"]
    assert (data["balance"], data["currency"], data["rawData"], data["quota"]) == ("7", "USD", "", '{"q":1}')
    _ttl_between(raw_redis, key, 3540, 3600)
    redis_store.account_state.set_local_balance("ccr", "a1", {"e": 2})
    local = raw_redis.hgetall(f"{redis_prefix}account_balance_local:ccr:a1")
    assert local["estimatedBalance"] == '{"e":2}' and ISO.match(local["lastCalculated"])
    _ttl_between(raw_redis, f"{redis_prefix}account_balance_local:ccr:a1", 240, 300)
    redis_store.account_state.set_balance_script("ccr", "a1", {"u": 1})
    assert raw_redis.get(f"{redis_prefix}account_balance_script:ccr:a1") == '{"u":1}'
    assert raw_redis.ttl(f"{redis_prefix}account_balance_script:ccr:a1") == -1


def test_account_test_history_is_a_trimmed_list_with_a_30_day_ttl(redis_store, raw_redis, redis_prefix):
    for i in range(6):
        redis_store.account_state.add_test_result("claude", "a1", {"n": i})
    key = f"{redis_prefix}account:test_history:claude:a1"
    assert raw_redis.lrange(key, 0, -1) == [f'{{"n":{i}}}' for i in (5, 4, 3, 2, 1)]
    _ttl_between(raw_redis, key, 30 * 86400 - 60, 30 * 86400)
    redis_store.account_state.set_last_test("claude", "a1")
    assert ISO.match(raw_redis.get(f"{redis_prefix}account:last_test:claude:a1"))
