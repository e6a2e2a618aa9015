"""Account contract: every platform family, the same scenarios on both backends ([mysql]/[redis])."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from relaystore import AlreadyExists, InvalidInput, NotFound, RelayStoreError
from relaystore.account_rules import PLATFORMS

ALL_PLATFORMS = sorted(PLATFORMS)

HOSTILE = [
    "it's \"quoted\"",
    "back\\slash\\\\ and \\x00-ish",
    "100%s %(name)s %% _under_ {}",
    "emoji 🔑🚀 and CJK 密钥",
    "x" * 10_000,
    "line\nbreak\ttab",
    "'; DROP TABLE accounts; --",
    "colon:separated:value",
]


def secrets_for(platform: str, tag: str = "1") -> dict:
    """Plausible secret fields for a platform, as a caller passes them."""
    if platform == "bedrock":
        return {"awsCredentials": {"accessKeyId": f"AKIA{tag}", "secretAccessKey": f"wJalr-{tag}/K7MDENG",
                                   "sessionToken": ""},
                "bearerToken": f"bedrock-bearer-{tag}"}
    return {name: f"secret-{platform}-{name}-{tag}-sk-XYZ" for name in sorted(PLATFORMS[platform].secret_fields)}


def secret_texts(platform: str, tag: str = "1") -> list[str]:
    """Every secret string inside secrets_for(); none may leak anywhere."""
    out = []
    for value in secrets_for(platform, tag).values():
        out.extend(v for v in value.values() if v) if isinstance(value, dict) else out.append(value)
    return out


@pytest.mark.parametrize("platform", ALL_PLATFORMS)
def test_create_then_get_returns_the_same_record_with_secrets_decrypted(store, platform):
    created = store.accounts.create(platform, name=f"{platform} one", description="d", priority=7,
                                    account_type="dedicated", apiUrl="https://upstream.example/v1",
                                    **secrets_for(platform))
    assert created.platform == platform and created.priority == 7 and created.account_type == "dedicated"
    assert created.is_active and created.schedulable and created.status == "active"
    assert created.secrets == secrets_for(platform)
    assert created.data["apiUrl"] == "https://upstream.example/v1"
    assert created.created_at is not None and created.last_used_at is None
    assert store.accounts.get(platform, created.id) == created


@pytest.mark.parametrize("platform", ALL_PLATFORMS)
def test_update_changes_typed_fields_data_and_secrets(store, platform):
    account = store.accounts.create(platform, name="before", **secrets_for(platform))
    used = datetime(2025, 7, 30, 1, 2, 3, 456789, tzinfo=timezone.utc)
    updated = store.accounts.update(platform, account.id, name="after", is_active=False, schedulable=False,
                                    status="rate_limited", error_message="429 from upstream", priority=1,
                                    last_used_at=used, proxy={"type": "socks5", "host": "h", "port": 1080},
                                    **secrets_for(platform, "2"))
    assert (updated.name, updated.is_active, updated.schedulable, updated.status, updated.priority) == (
        "after", False, False, "rate_limited", 1)
    assert updated.last_used_at == used.replace(microsecond=456000)  # upstream keeps milliseconds
    assert updated.secrets == secrets_for(platform, "2")
    assert updated.created_at == account.created_at and updated.id == account.id
    assert store.accounts.get(platform, account.id) == updated


@pytest.mark.parametrize("platform", ALL_PLATFORMS)
def test_delete_removes_the_account(store, platform):
    account = store.accounts.create(platform, name="doomed")
    keep = store.accounts.create(platform, name="kept")
    store.accounts.delete(platform, account.id)
    assert store.accounts.get(platform, account.id) is None
    assert [a.id for a in store.accounts.list(platform)] == [keep.id]
    with pytest.raises(NotFound):
        store.accounts.delete(platform, account.id)


@pytest.mark.parametrize("platform", ALL_PLATFORMS)
def test_list_returns_only_this_platforms_accounts_oldest_first(store, platform):
    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    ids = [store.accounts.create(platform, name=f"n{i}", created_at=base + timedelta(minutes=3 - i)).id
           for i in range(3)]
    other = "ccr" if platform != "ccr" else "droid"
    store.accounts.create(other, name="elsewhere")
    assert [a.id for a in store.accounts.list(platform)] == list(reversed(ids))


@pytest.mark.parametrize("platform", ALL_PLATFORMS)
def test_missing_account_get_none_update_and_delete_not_found(store, platform):
    missing = "00000000-0000-4000-8000-000000000000"
    assert store.accounts.get(platform, missing) is None
    assert store.accounts.get(platform, "not a storable id ✗") is None
    with pytest.raises(NotFound):
        store.accounts.update(platform, missing, name="x")
    with pytest.raises(NotFound):
        store.accounts.delete(platform, missing)


@pytest.mark.parametrize("platform", ["claude-console", "bedrock"])
@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:12]))
def test_hostile_strings_round_trip_verbatim(store, platform, text):
    secret = {"awsCredentials": {"accessKeyId": text, "secretAccessKey": text}} if platform == "bedrock" \
        else {"apiKey": text}
    account = store.accounts.create(platform, name=text, description=text, error_message=text,
                                    data={text[:200]: text, "userAgent": text}, **secret)
    stored = store.accounts.get(platform, account.id)
    assert stored == account
    assert (stored.name, stored.description, stored.error_message) == (text, text, text)
    assert stored.data[text[:200]] == text and stored.data["userAgent"] == text


def test_values_are_normalised_to_upstreams_stored_strings(store):
    account = store.accounts.create("claude-console", supportedModels=["a", "b"], rateLimitDuration=60,
                                    dailyQuota=1.5, useUnifiedUserAgent=True, proxy={"host": "h"}, userAgent="ua")
    expected = {"supportedModels": '["a","b"]', "rateLimitDuration": "60", "dailyQuota": "1.5",
                "useUnifiedUserAgent": "true", "proxy": '{"host":"h"}', "userAgent": "ua"}
    assert account.data == expected
    assert store.accounts.get("claude-console", account.id).data == expected


def test_bedrock_keeps_json_values(store):
    account = store.accounts.create("bedrock", region="us-east-1", disableAutoProtection=False,
                                    quota={"rpm": 10, "models": ["m1"]})
    stored = store.accounts.get("bedrock", account.id)
    assert stored.data == {"type": "bedrock", "region": "us-east-1", "disableAutoProtection": False,
                           "quota": {"rpm": 10, "models": ["m1"]}}


def test_json_valued_secrets_are_stored_as_json_text(store):
    oauth = {"accessToken": "at", "refreshToken": "rt", "expiresAt": 1750000000000, "scopes": ["user:inference"]}
    account = store.accounts.create("claude", claudeAiOauth=oauth, accessToken="at", refreshToken="rt")
    assert account.secrets["claudeAiOauth"] == '{"accessToken":"at","refreshToken":"rt","expiresAt":1750000000000,' \
                                               '"scopes":["user:inference"]}'
    assert store.accounts.get("claude", account.id) == account


def test_update_with_none_removes_a_field_and_leaves_the_rest(store):
    account = store.accounts.create("openai-responses", apiKey="sk-1", baseApi="https://b", userAgent="ua")
    updated = store.accounts.update("openai-responses", account.id, userAgent=None, apiKey=None)
    assert updated.data == {"baseApi": "https://b"} and updated.secrets == {}
    assert store.accounts.get("openai-responses", account.id) == updated


def test_update_without_changes_returns_the_stored_record(store):
    account = store.accounts.create("gemini-api", apiKey="k")
    assert store.accounts.update("gemini-api", account.id) == account


def test_create_with_a_taken_id_raises_already_exists(store):
    account = store.accounts.create("droid", id="fixed-id-1", name="first")
    assert account.id == "fixed-id-1"
    with pytest.raises(AlreadyExists):
        store.accounts.create("droid", id="fixed-id-1", name="second")
    assert store.accounts.get("droid", "fixed-id-1").name == "first"
    assert store.accounts.create("ccr", id="fixed-id-1").platform == "ccr"  # ids are per platform


@pytest.mark.parametrize("kwargs, needle", [
    ({"isActive": "true"}, "is_active"),
    ({"data": {"accountType": "shared"}}, "account_type"),
    ({"data": {"createdAt": "2025-01-01T00:00:00.000Z"}}, "created_at"),
    ({"priority": "5"}, "priority"),
    ({"priority": True}, "priority"),
    ({"is_active": "yes"}, "is_active"),
    ({"status": "s" * 65}, "status"),
    ({"last_used_at": "2025-01-01"}, "last_used_at"),
    ({"id": "has space"}, "id"),
    ({"apiUrl": object()}, "apiUrl"),
    ({"dailyQuota": float("nan")}, "dailyQuota"),
    ({"data": {"": "x"}}, "data"),
])
def test_bad_values_raise_invalid_input_naming_the_field(store, kwargs, needle):
    with pytest.raises(InvalidInput, match=needle):
        store.accounts.create("ccr", **kwargs)


def test_unknown_platform_and_create_only_fields(store):
    with pytest.raises(InvalidInput, match="platform"):
        store.accounts.create("vertex", name="x")
    with pytest.raises(InvalidInput, match="platform"):
        store.accounts.get("nope", "id")
    account = store.accounts.create("ccr")
    with pytest.raises(InvalidInput, match="created_at"):
        store.accounts.update("ccr", account.id, created_at=datetime.now(timezone.utc))
    with pytest.raises(InvalidInput, match="id"):
        store.accounts.update("ccr", account.id, id="other")


@pytest.mark.parametrize("platform", ALL_PLATFORMS)
def test_repr_and_str_show_no_secret_and_no_data(store, platform):
    account = store.accounts.create(platform, proxy={"host": "p", "password": "proxy-pass-123"},
                                    **secrets_for(platform))
    for record in (account, store.accounts.get(platform, account.id), *store.accounts.list(platform)):
        shown = repr(record) + str(record)
        assert account.id in shown
        for secret in secret_texts(platform) + ["proxy-pass-123"]:
            assert secret not in shown


def test_errors_never_carry_secret_values(store):
    secret = "sk-never-in-an-error-123"
    failures = []
    for call in (
        lambda: store.accounts.create("claude-console", apiKey=secret, priority="high"),
        lambda: store.accounts.create("claude-console", apiKey=12345, name=secret),
        lambda: store.accounts.create("bedrock", awsCredentials=secret),
        lambda: store.accounts.create("bedrock", bearerToken=[secret]),
        lambda: store.accounts.update("claude-console", "00000000-0000-4000-8000-000000000000", apiKey=secret),
        lambda: store.accounts.create("claude-console", id="dup-1", apiKey=secret),
    ):
        try:
            call()
            call()
        except RelayStoreError as exc:
            failures.append(exc)
    assert len(failures) == 6
    for exc in failures:
        assert secret not in str(exc) and secret not in repr(exc)
        assert exc.__cause__ is None or secret not in str(exc.__cause__)


def test_no_secret_reaches_the_logs(store, caplog):
    caplog.set_level(logging.DEBUG)
    for platform in ALL_PLATFORMS:
        account = store.accounts.create(platform, **secrets_for(platform))
        store.accounts.get(platform, account.id)
        store.accounts.update(platform, account.id, **secrets_for(platform, "2"))
        store.accounts.list(platform)
        store.accounts.list_schedulable(platform)
        store.accounts.delete(platform, account.id)
    for platform in ALL_PLATFORMS:
        for secret in secret_texts(platform) + secret_texts(platform, "2"):
            assert secret not in caplog.text


# --- scheduler reads ------------------------------------------------------------------------------

def _pool(store, platform):
    """A mix of schedulable and unschedulable accounts; returns the expected schedule order."""
    t = datetime(2025, 3, 1, tzinfo=timezone.utc)
    mk = store.accounts.create
    a = mk(platform, name="p10 never used", priority=10, created_at=t + timedelta(hours=2))
    b = mk(platform, name="p10 used early", priority=10, last_used_at=t + timedelta(days=1), created_at=t)
    c = mk(platform, name="p10 used late", priority=10, last_used_at=t + timedelta(days=2), created_at=t)
    d = mk(platform, name="p1", priority=1, last_used_at=t + timedelta(days=9))
    e = mk(platform, name="p10 never used, older", priority=10, created_at=t + timedelta(hours=1))
    f = mk(platform, name="rate limited is still a candidate", priority=99, status="rate_limited")
    mk(platform, name="inactive", is_active=False, priority=0)
    mk(platform, name="unschedulable", schedulable=False, priority=0)
    for status in ("error", "unauthorized", "blocked", "temp_error", "Error"):
        mk(platform, name=status, status=status, priority=0)
    return [d.id, e.id, a.id, b.id, c.id, f.id]


@pytest.mark.parametrize("platform", ["claude", "claude-console", "bedrock", "openai-responses"])
def test_list_schedulable_filters_and_orders_like_upstreams_scheduler(store, platform):
    expected = _pool(store, platform)
    store.accounts.create("ccr" if platform != "ccr" else "droid", name="other platform", priority=0)
    assert [a.id for a in store.accounts.list_schedulable(platform)] == expected


def test_list_schedulable_within_a_group(store):
    expected = _pool(store, "claude-console")
    group = store.account_groups.create("claude", "team a")
    other = store.account_groups.create("claude", "team b")
    oauth = store.accounts.create("claude", name="oauth member", priority=0)
    for account_id in expected[1:4]:
        store.account_groups.add_member(group.id, account_id, platform="claude-console")
    store.account_groups.add_member(group.id, oauth.id, platform="claude")
    store.account_groups.add_member(other.id, expected[0], platform="claude-console")
    inactive = store.accounts.create("claude-console", is_active=False)
    store.account_groups.add_member(group.id, inactive.id)
    assert [a.id for a in store.accounts.list_schedulable("claude-console", group_id=group.id)] == expected[1:4]
    assert [a.id for a in store.accounts.list_schedulable("claude", group_id=group.id)] == [oauth.id]
    assert store.accounts.list_schedulable("claude-console", group_id="no-such-group") == []


def test_list_schedulable_returns_decrypted_records(store):
    account = store.accounts.create("azure-openai", apiKey="az-key", azureEndpoint="https://e")
    [candidate] = store.accounts.list_schedulable("azure-openai")
    assert candidate == account and candidate.secrets == {"apiKey": "az-key"}
