"""No secret (session token, OAuth verifier/state, password hash) reaches repr(), logs or error messages."""
from __future__ import annotations

import logging

import pytest

from relaystore import DataError, InvalidInput
from relaystore.store import Store
from tests.contract.test_admin_credentials import HASH_A

TOKEN = "0123456789abcdef" * 4


def _corrupt(store: Store, table_or_key: str, token_column: str, token: str, column: str) -> None:
    """Store an undecodable value for one session, through the backend's own client."""
    if store.backend == "redis":
        key = store.keys.prefix + table_or_key + token
        if store.redis.type(key) == "hash":
            store.redis.hset(key, column, "not-a-time")
        else:
            store.redis.set(key, "{not json", keepttl=True)
    else:
        with store.pool.cursor() as cur:
            cur.execute(f"UPDATE {table_or_key} SET {column} = %s WHERE {token_column} = %s", ("{not json", token))


def test_records_hide_their_secrets_in_repr(store):
    admin = store.sessions.create_admin_session("admin", token=TOKEN)
    user = store.sessions.create_user_session("u1", token=TOKEN, data={"csrf": "csrf-secret"})
    oauth = store.sessions.create_oauth_session(session_id=TOKEN, code_verifier="verifier-secret",
                                                state="state-secret", deviceCode="device-secret")
    creds = store.admin.set_credentials("admin", HASH_A)
    shown = " ".join(repr(r) for r in (admin, user, oauth, creds, store.sessions.get_admin_session(TOKEN),
                                       store.sessions.get_user_session(TOKEN),
                                       store.sessions.get_oauth_session(TOKEN), store.admin.get_credentials()))
    for secret in (TOKEN, "csrf-secret", "verifier-secret", "state-secret", "device-secret", HASH_A):
        assert secret not in shown
    assert "username='admin'" in shown  # the rest of the record is still there to read


def test_nothing_secret_is_logged(store, caplog):
    caplog.set_level(logging.DEBUG)
    admin = store.sessions.create_admin_session("admin")
    store.sessions.touch_admin_session(admin.token)
    user = store.sessions.create_user_session("u1")
    oauth = store.sessions.create_oauth_session(code_verifier="verifier-secret")
    store.admin.set_credentials("admin", HASH_A)
    store.admin.get_credentials()
    for token in (admin.token, user.token):
        store.sessions.delete_admin_session(token)
        store.sessions.delete_user_session(token)
    store.sessions.get_oauth_session(oauth.session_id)
    for secret in (admin.token, user.token, oauth.session_id, "verifier-secret", HASH_A):
        assert secret not in caplog.text


def test_invalid_tokens_are_refused_without_echoing_them(store):
    for bad in ("secret with spaces", "sécret-token", "s" * 129):
        with pytest.raises(InvalidInput) as info:
            store.sessions.get_admin_session(bad)
        assert bad not in str(info.value)
        with pytest.raises(InvalidInput) as info:
            store.sessions.create_user_session("u1", token=bad)
        assert bad not in str(info.value)


def test_undecodable_sessions_raise_data_errors_that_omit_the_token(store):
    store.sessions.create_user_session("u1", token=TOKEN)
    store.sessions.create_admin_session("admin", token=TOKEN)
    store.sessions.create_oauth_session(session_id=TOKEN, code_verifier="v")
    _corrupt(store, "user_session:" if store.backend == "redis" else "user_sessions", "token", TOKEN, "data")
    _corrupt(store, "session:" if store.backend == "redis" else "admin_sessions", "token", TOKEN,
             "loginTime" if store.backend == "redis" else "extra")
    _corrupt(store, "oauth:" if store.backend == "redis" else "oauth_sessions", "session_id", TOKEN,
             "createdAt" if store.backend == "redis" else "data")
    for read in (store.sessions.get_user_session, store.sessions.get_admin_session,
                 store.sessions.get_oauth_session):
        with pytest.raises(DataError) as info:
            read(TOKEN)
        assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
