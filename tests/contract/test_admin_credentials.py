"""Admin-credentials contract on both backends: a bcrypt hash only, upstream's 86,400 s TTL."""
from __future__ import annotations

import time

import pytest

from relaystore import InvalidInput
from relaystore.timefmt import utcnow

HASH_A = "$2b$10$" + "N9qo8uLOickgx2ZMRZoMye" + "IjZAgcfl7p92ldGxad68LJZdL17lhWy"
HASH_B = "$2a$12$" + "R9h/cIPz0gi.URNNX3kh2O" + "PST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"


def test_credentials_set_get_replace_delete(store):
    assert store.admin.get_credentials() is None
    creds = store.admin.set_credentials("admin", HASH_A)
    assert (creds.username, creds.password_hash, creds.last_login, creds.updated_at) == ("admin", HASH_A, None, None)
    assert creds.created_at is not None
    assert store.admin.get_credentials() == creds
    now = utcnow()
    replaced = store.admin.set_credentials("root", HASH_B, created_at=creds.created_at, last_login=now,
                                           updated_at=now, extra={"source": "init.json"})
    assert store.admin.get_credentials() == replaced
    assert replaced.extra == {"source": "init.json"}
    assert store.admin.delete_credentials() is True
    assert store.admin.get_credentials() is None
    assert store.admin.delete_credentials() is False


@pytest.mark.parametrize("not_a_hash", ["hunter2", "", "$2b$10$short", "$1$" + "a" * 56])
def test_plain_passwords_are_refused_without_echoing_them(store, not_a_hash):
    with pytest.raises(InvalidInput) as info:
        store.admin.set_credentials("admin", not_a_hash)
    if not_a_hash:
        assert not_a_hash not in str(info.value)
    assert store.admin.get_credentials() is None


def test_credentials_expire_unless_kept_without_ttl(store):
    store.admin.set_credentials("admin", HASH_A, ttl_seconds=0.4)
    time.sleep(0.9)
    assert store.admin.get_credentials() is None
    kept = store.admin.set_credentials("admin", HASH_A, ttl_seconds=None)
    assert store.admin.get_credentials() == kept


@pytest.mark.parametrize("name", ["it's \"quoted\"", "emoji 🔑🚀 and CJK 密钥", "'; DROP TABLE admin_credentials; --"])
def test_hostile_admin_username_round_trips(store, name):
    creds = store.admin.set_credentials(name, HASH_A)
    assert store.admin.get_credentials() == creds
