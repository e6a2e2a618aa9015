"""Account-group contract: groups, membership and the reverse lookup on both backends."""
from __future__ import annotations

import pytest

from relaystore import Conflict, InvalidInput, NotFound

MISSING = "00000000-0000-4000-8000-000000000000"


def test_create_then_get_and_list(store):
    group = store.account_groups.create("claude", "Team A", "desc", proxyPriority=5)
    assert (group.platform, group.name, group.description) == ("claude", "Team A", "desc")
    assert group.extra == {"proxyPriority": "5"}
    assert group.created_at is not None and group.updated_at == group.created_at
    assert store.account_groups.get(group.id) == group
    assert store.account_groups.list() == [group]
    assert store.account_groups.list("claude") == [group] and store.account_groups.list("openai") == []


def test_list_is_newest_first(store):
    first = store.account_groups.create("openai", "first")
    second = store.account_groups.create("gemini", "second")
    ids = [g.id for g in store.account_groups.list()]
    if first.created_at == second.created_at:  # same millisecond: the tie falls back to id order
        assert ids == sorted([first.id, second.id], reverse=True)
    else:
        assert ids == [second.id, first.id]


def test_update_renames_and_keeps_platform(store):
    group = store.account_groups.create("droid", "old")
    updated = store.account_groups.update(group.id, name="new", description="d2",
                                          proxy={"type": "socks5", "host": "h", "port": 1})
    assert (updated.name, updated.description, updated.platform) == ("new", "d2", "droid")
    assert updated.extra["proxy"] == '{"type":"socks5","host":"h","port":1}'
    assert updated.updated_at >= group.updated_at and updated.created_at == group.created_at
    assert store.account_groups.get(group.id) == updated
    with pytest.raises(InvalidInput, match="platform"):
        store.account_groups.update(group.id, platform="claude")
    assert store.account_groups.update(group.id, platform="droid").platform == "droid"


def test_missing_group_behaviour(store):
    assert store.account_groups.get(MISSING) is None
    assert store.account_groups.members(MISSING) == []
    for call in (lambda: store.account_groups.update(MISSING, name="x"),
                 lambda: store.account_groups.delete(MISSING),
                 lambda: store.account_groups.add_member(MISSING, "a1"),
                 lambda: store.account_groups.remove_member(MISSING, "a1")):
        with pytest.raises(NotFound):
            call()


def test_bad_group_values_raise_invalid_input(store):
    with pytest.raises(InvalidInput, match="platform"):
        store.account_groups.create("vertex", "x")
    with pytest.raises(InvalidInput, match="name"):
        store.account_groups.create("claude", "")
    with pytest.raises(InvalidInput, match="createdAt"):
        store.account_groups.create("claude", "x", createdAt="2025")


def test_membership_and_reverse_lookup(store):
    team = store.account_groups.create("claude", "team")
    other = store.account_groups.create("claude", "other")
    console = store.accounts.create("claude-console", name="c")
    oauth = store.accounts.create("claude", name="o")
    store.account_groups.add_member(team.id, console.id, platform="claude-console")
    store.account_groups.add_member(team.id, console.id)  # idempotent
    store.account_groups.add_member(team.id, oauth.id, platform="claude")
    store.account_groups.add_member(other.id, console.id)
    assert store.account_groups.members(team.id) == sorted([console.id, oauth.id])
    assert {g.id for g in store.account_groups.groups_of("claude-console", console.id)} == {team.id, other.id}
    assert [g.id for g in store.account_groups.groups_of("claude", oauth.id)] == [team.id]
    assert store.account_groups.groups_of("openai", console.id) == []
    store.account_groups.remove_member(team.id, console.id)
    store.account_groups.remove_member(team.id, console.id)  # idempotent
    assert store.account_groups.members(team.id) == [oauth.id]
    assert [g.id for g in store.account_groups.groups_of("claude-console", console.id)] == [other.id]


def test_an_account_of_another_platform_cannot_join(store):
    group = store.account_groups.create("openai", "oa")
    account = store.accounts.create("gemini")
    with pytest.raises(InvalidInput, match="gemini"):
        store.account_groups.add_member(group.id, account.id, platform="gemini")
    assert store.account_groups.members(group.id) == []


def test_delete_refuses_a_group_with_members_then_succeeds_when_empty(store):
    group = store.account_groups.create("gemini", "g")
    account = store.accounts.create("gemini")
    store.account_groups.add_member(group.id, account.id, platform="gemini")
    with pytest.raises(Conflict):
        store.account_groups.delete(group.id)
    assert store.account_groups.get(group.id) == group
    store.account_groups.remove_member(group.id, account.id)
    store.account_groups.delete(group.id)
    assert store.account_groups.get(group.id) is None and store.account_groups.list() == []


def test_deleting_an_account_removes_its_memberships(store):
    group = store.account_groups.create("droid", "d")
    gone = store.accounts.create("droid")
    kept = store.accounts.create("droid")
    for account in (gone, kept):
        store.account_groups.add_member(group.id, account.id, platform="droid")
    store.accounts.delete("droid", gone.id)
    assert store.account_groups.members(group.id) == [kept.id]
    assert store.account_groups.groups_of("droid", gone.id) == []
    store.account_groups.remove_member(group.id, kept.id)
    store.account_groups.delete(group.id)  # empty now


@pytest.mark.parametrize("text", ["it's \"q\" 🔑 密钥", "100% %(x)s", "x" * 5000, "a\nb"], ids=repr)
def test_hostile_group_strings_round_trip(store, text):
    group = store.account_groups.create("claude", text, text, note=text)
    assert store.account_groups.get(group.id) == group
    assert (group.name, group.description, group.extra["note"]) == (text, text, text)


def test_group_repr_hides_extra(store):
    group = store.account_groups.create("claude", "g", proxy={"host": "h", "password": "proxy-secret-9"})
    assert "proxy-secret-9" not in repr(group) and group.id in repr(group)
