"""Session contract (sticky, admin, user, OAuth) on both backends, TTL expiry included.

Expiry scenarios never assert that a short-TTL entry is still there (that would depend on how
fast a loaded machine runs the next line): a short-TTL entry must be gone after a sleep, and a
long-TTL entry written beside it must still be there.
"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from relaystore import InvalidInput
from tests.contract.test_api_keys import HOSTILE

SHORT_TTL = 0.4
AFTER_SHORT_TTL = 0.9


# --- sticky sessions ---------------------------------------------------------------------------------

def test_sticky_set_get_overwrite_delete(store):
    assert store.sessions.get_sticky("conv-1") is None
    store.sessions.set_sticky("conv-1", "acct-a")
    assert store.sessions.get_sticky("conv-1") == "acct-a"
    store.sessions.set_sticky("conv-1", "acct-b")
    assert store.sessions.get_sticky("conv-1") == "acct-b"
    assert store.sessions.delete_sticky("conv-1") is True
    assert store.sessions.get_sticky("conv-1") is None
    assert store.sessions.delete_sticky("conv-1") is False


def test_sticky_renew_reports_whether_the_mapping_lives(store):
    assert store.sessions.renew_sticky("missing", threshold_seconds=60) is False
    store.sessions.set_sticky("conv-2", "acct")
    assert store.sessions.renew_sticky("conv-2") is True
    assert store.sessions.renew_sticky("conv-2", ttl_seconds=7200, threshold_seconds=3600) is True
    assert store.sessions.get_sticky("conv-2") == "acct"


def test_sticky_expires(store):
    store.sessions.set_sticky("short", "acct-a", ttl_seconds=SHORT_TTL)
    store.sessions.set_sticky("long", "acct-b", ttl_seconds=600)
    time.sleep(AFTER_SHORT_TTL)
    assert store.sessions.get_sticky("short") is None
    assert store.sessions.renew_sticky("short", threshold_seconds=600) is False
    assert store.sessions.delete_sticky("short") is False
    assert store.sessions.get_sticky("long") == "acct-b"
    store.sessions.set_sticky("short", "acct-c")  # a new write over an expired entry
    assert store.sessions.get_sticky("short") == "acct-c"


@pytest.mark.parametrize("text", [h for h in HOSTILE if len(h) <= 255])
def test_sticky_hostile_hash_and_account_round_trip(store, text):
    store.sessions.set_sticky(text, text)
    assert store.sessions.get_sticky(text) == text


def test_sticky_refuses_bad_input(store):
    with pytest.raises(InvalidInput, match="session_hash"):
        store.sessions.set_sticky("", "acct")
    with pytest.raises(InvalidInput, match="ttl_seconds"):
        store.sessions.set_sticky("h", "acct", ttl_seconds=0)


# --- admin sessions ----------------------------------------------------------------------------------

def test_admin_session_create_get_touch_delete(store):
    session = store.sessions.create_admin_session("admin")
    assert len(session.token) == 64 and int(session.token, 16) >= 0
    assert session.login_time == session.last_activity
    assert store.sessions.get_admin_session(session.token) == session
    touched = store.sessions.touch_admin_session(session.token)
    assert touched.username == "admin" and touched.login_time == session.login_time
    assert touched.last_activity >= session.last_activity
    assert store.sessions.get_admin_session(session.token) == touched
    assert store.sessions.delete_admin_session(session.token) is True
    assert store.sessions.get_admin_session(session.token) is None
    assert store.sessions.touch_admin_session(session.token) is None
    assert store.sessions.delete_admin_session(session.token) is False


def test_admin_session_with_given_token_and_extra_fields(store):
    session = store.sessions.create_admin_session("ops", token="t" * 64, extra={"ip": "10.0.0.1", "mfa": True})
    assert store.sessions.get_admin_session("t" * 64) == session
    assert session.extra == {"ip": "10.0.0.1", "mfa": "true"}  # hash fields are strings upstream
    with pytest.raises(InvalidInput, match="reserved"):
        store.sessions.create_admin_session("ops", token="admin_credentials")


def test_admin_session_expires_and_touch_does_not_revive_it(store):
    short = store.sessions.create_admin_session("a", ttl_seconds=SHORT_TTL)
    long = store.sessions.create_admin_session("b", ttl_seconds=600)
    time.sleep(AFTER_SHORT_TTL)
    assert store.sessions.get_admin_session(short.token) is None
    assert store.sessions.touch_admin_session(short.token) is None
    assert store.sessions.get_admin_session(short.token) is None
    assert store.sessions.get_admin_session(long.token) == long


def test_admin_session_touch_rearms_the_ttl(store):
    session = store.sessions.create_admin_session("a", ttl_seconds=SHORT_TTL)
    store.sessions.touch_admin_session(session.token, ttl_seconds=600)
    time.sleep(AFTER_SHORT_TTL)
    assert store.sessions.get_admin_session(session.token) is not None


@pytest.mark.parametrize("text", [h for h in HOSTILE if len(h) <= 255])
def test_admin_session_hostile_username_round_trips(store, text):
    session = store.sessions.create_admin_session(text, extra={"note": text})
    assert store.sessions.get_admin_session(session.token) == session


# --- user sessions -----------------------------------------------------------------------------------

def test_user_session_create_get_delete(store):
    session = store.sessions.create_user_session("u1", data={"ip": "1.2.3.4", "ua": {"os": "linux"}})
    assert session.expires_at - session.created_at == timedelta(seconds=86400)
    assert session.extra == {"ip": "1.2.3.4", "ua": {"os": "linux"}}
    assert store.sessions.get_user_session(session.token) == session
    assert store.sessions.delete_user_session(session.token) is True
    assert store.sessions.get_user_session(session.token) is None
    assert store.sessions.delete_user_session(session.token) is False


def test_delete_user_sessions_counts_only_that_users(store):
    mine = [store.sessions.create_user_session("u1") for _ in range(3)]
    theirs = store.sessions.create_user_session("u2")
    assert store.sessions.delete_user_sessions("u1") == 3
    assert all(store.sessions.get_user_session(s.token) is None for s in mine)
    assert store.sessions.get_user_session(theirs.token) == theirs
    assert store.sessions.delete_user_sessions("u1") == 0


def test_user_session_expires(store):
    short = store.sessions.create_user_session("u1", ttl_seconds=SHORT_TTL)
    long = store.sessions.create_user_session("u1", ttl_seconds=600)
    assert short.expires_at - short.created_at == timedelta(milliseconds=400)
    time.sleep(AFTER_SHORT_TTL)
    assert store.sessions.get_user_session(short.token) is None
    assert store.sessions.delete_user_session(short.token) is False
    assert store.sessions.get_user_session(long.token) == long
    assert store.sessions.delete_user_sessions("u1") == 1


@pytest.mark.parametrize("text", HOSTILE)
def test_user_session_hostile_data_round_trips(store, text):
    session = store.sessions.create_user_session("u1", data={text[:100]: text, "list": [text]})
    assert store.sessions.get_user_session(session.token) == session


def test_user_session_refuses_modelled_keys_and_bad_tokens(store):
    with pytest.raises(InvalidInput, match="userId"):
        store.sessions.create_user_session("u1", data={"userId": "u2"})
    with pytest.raises(InvalidInput, match="token"):
        store.sessions.create_user_session("u1", token="has space")
    with pytest.raises(InvalidInput, match="token"):
        store.sessions.get_user_session("x" * 129)


# --- OAuth sessions ----------------------------------------------------------------------------------

def test_oauth_session_pkce_flow_round_trips(store):
    session = store.sessions.create_oauth_session(code_verifier="verifier-123", state="state-456",
                                                  code_challenge="challenge", proxy={"type": "socks5", "port": 1080})
    assert len(session.session_id) == 36 and session.session_id[14] == "4"  # a UUID v4, as upstream
    assert session.expires_at - session.created_at == timedelta(seconds=600)
    assert store.sessions.get_oauth_session(session.session_id) == session
    assert store.sessions.delete_oauth_session(session.session_id) is True
    assert store.sessions.get_oauth_session(session.session_id) is None
    assert store.sessions.delete_oauth_session(session.session_id) is False


def test_oauth_device_flow_extra_fields_are_stored_as_upstream_strings(store):
    session = store.sessions.create_oauth_session(platform="droid", deviceCode="dev", userCode="ABCD-EFGH",
                                                  interval=5, verificationUriComplete=None, flags={"a": [1]})
    assert session.extra == {"deviceCode": "dev", "userCode": "ABCD-EFGH", "interval": "5",
                             "verificationUriComplete": "", "flags": '{"a":[1]}'}
    assert session.proxy is None and session.platform == "droid"
    assert store.sessions.get_oauth_session(session.session_id) == session


def test_oauth_session_expires(store):
    short = store.sessions.create_oauth_session(code_verifier="v", ttl_seconds=SHORT_TTL)
    long = store.sessions.create_oauth_session(code_verifier="w")
    time.sleep(AFTER_SHORT_TTL)
    assert store.sessions.get_oauth_session(short.session_id) is None
    assert store.sessions.get_oauth_session(long.session_id) == long


@pytest.mark.parametrize("text", HOSTILE)
def test_oauth_hostile_values_round_trip(store, text):
    short = text[:4096]
    session = store.sessions.create_oauth_session(code_verifier=short, state=short, platform=short[:100],
                                                  proxy={"host": text}, note=text)
    assert store.sessions.get_oauth_session(session.session_id) == session


def test_the_credentials_key_is_never_an_admin_session(store):
    store.admin.set_credentials("admin", "$2b$10$" + "a" * 53)
    assert store.sessions.get_admin_session("admin_credentials") is None
    assert store.sessions.touch_admin_session("admin_credentials") is None
    assert store.sessions.delete_admin_session("admin_credentials") is False
    assert store.admin.get_credentials() is not None
