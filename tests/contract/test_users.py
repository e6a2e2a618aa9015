"""User contract: the same scenarios on both backends (ids show [mysql] and [redis])."""
from __future__ import annotations

from datetime import timedelta

import pytest

from relaystore import AlreadyExists, InvalidInput, NotFound
from relaystore.timefmt import utcnow
from tests.contract.test_api_keys import HOSTILE

SHORT_HOSTILE = [h for h in HOSTILE if len(h) <= 191]


def test_create_sets_upstream_defaults_and_reads_back(store):
    user = store.users.create("alice", email="alice@example.com", display_name="Alice")
    assert len(user.id) == 32 and int(user.id, 16) >= 0  # upstream: 16 random bytes as hex
    assert (user.role, user.is_active, user.api_key_count, user.last_login_at) == ("user", True, 0, None)
    assert user.total_usage == {"requests": 0, "inputTokens": 0, "outputTokens": 0, "totalCost": 0}
    assert user.created_at == user.updated_at and user.deleted_at is None
    assert store.users.get(user.id) == user
    assert store.users.get_by_username("alice") == user


def test_get_unknown_returns_none(store):
    assert store.users.get("0" * 32) is None
    assert store.users.get_by_username("nobody") is None


def test_username_is_unique_and_case_sensitive(store):
    store.users.create("bob")
    with pytest.raises(AlreadyExists):
        store.users.create("bob", email="other@example.com")
    assert store.users.create("Bob").username == "Bob"


def test_update_changes_fields_and_moves_updated_at(store):
    user = store.users.create("carol")
    login = utcnow()
    new = store.users.update(user.id, role="admin", last_login_at=login, total_usage={"requests": 3},
                             extra={"ldapDn": "cn=carol"})
    assert (new.role, new.last_login_at, new.total_usage, new.extra) == ("admin", login, {"requests": 3},
                                                                           {"ldapDn": "cn=carol"})
    assert new.updated_at >= user.updated_at and new.created_at == user.created_at
    assert store.users.get(user.id) == new


def test_update_refuses_unknown_fields_username_and_missing_user(store):
    user = store.users.create("dave")
    with pytest.raises(InvalidInput, match="colour"):
        store.users.update(user.id, colour="red")
    with pytest.raises(InvalidInput, match="username"):
        store.users.update(user.id, username="david")
    with pytest.raises(NotFound):
        store.users.update("f" * 32, role="admin")


def test_delete_is_soft_and_ends_the_users_sessions(store):
    user = store.users.create("erin")
    mine = store.sessions.create_user_session(user.id)
    other_user = store.users.create("frank")
    theirs = store.sessions.create_user_session(other_user.id)
    deleted = store.users.delete(user.id)
    assert deleted.is_active is False and deleted.deleted_at is not None
    assert store.users.get(user.id) == deleted
    assert store.sessions.get_user_session(mine.token) is None
    assert store.sessions.get_user_session(theirs.token) == theirs
    assert store.users.delete(user.id) == deleted  # idempotent
    with pytest.raises(NotFound):
        store.users.delete("a" * 32)


def test_purge_removes_a_deleted_user_and_frees_the_username(store):
    user = store.users.create("gina")
    with pytest.raises(InvalidInput):
        store.users.purge(user.id)
    store.users.delete(user.id)
    store.users.purge(user.id)
    assert store.users.get(user.id) is None and store.users.get_by_username("gina") is None
    assert store.users.create("gina").id != user.id


def test_list_newest_first_with_filters_and_pages(store):
    made = [store.users.create(f"user{i}", role="admin" if i % 2 else "user") for i in range(5)]
    store.users.update(made[0].id, is_active=False)
    page = store.users.list(page=1, page_size=2)
    assert page.total == 5 and len(page.items) == 2
    everything = store.users.list(page_size=50).items
    assert [u.id for u in everything] == [u.id for u in sorted(made, key=lambda u: (u.created_at, u.id),
                                                                reverse=True)]
    assert {u.username for u in store.users.list(role="admin").items} == {"user1", "user3"}
    assert {u.username for u in store.users.list(is_active=False).items} == {"user0"}
    past_end = store.users.list(page=9, page_size=2)
    assert (past_end.items, past_end.total) == ([], 5)


def test_create_refuses_bad_input_by_name(store):
    with pytest.raises(InvalidInput, match="username"):
        store.users.create("")
    with pytest.raises(InvalidInput, match="username"):
        store.users.create("u" * 192)
    with pytest.raises(InvalidInput, match="is_active"):
        store.users.create("x", is_active="yes")
    with pytest.raises(InvalidInput, match="extra"):
        store.users.create("y", extra={"username": "clash"})


@pytest.mark.parametrize("text", SHORT_HOSTILE)
def test_hostile_username_round_trips(store, text):
    user = store.users.create(text, display_name=text, extra={"note": text})
    assert store.users.get_by_username(text) == user
    assert store.users.get(user.id).display_name == text


def test_long_and_hostile_text_fields_round_trip(store):
    user = store.users.create("hostile", display_name=HOSTILE[4], email=HOSTILE[6], first_name=HOSTILE[3],
                              last_name=HOSTILE[2])
    assert store.users.get(user.id) == user


def test_given_user_id_is_used_and_must_be_ascii(store):
    user = store.users.create("imported", user_id="legacy-0001")
    assert store.users.get("legacy-0001") == user
    with pytest.raises(InvalidInput, match="user_id"):
        store.users.create("imported2", user_id="naïve")
    with pytest.raises(AlreadyExists):
        store.users.create("imported3", user_id="legacy-0001")


def test_last_login_is_kept_to_the_millisecond(store):
    at = utcnow().replace(microsecond=123456) - timedelta(days=1)
    user = store.users.create("ms", last_login_at=at)
    assert store.users.get(user.id).last_login_at == at.replace(microsecond=123000)
