"""MySQL-only checks of accounts and groups: stored form, index use, one query per scheduler read."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from relaystore import Conflict, DataError
from relaystore.account_rules import PLATFORMS
from relaystore.mysql.account_groups import SELECT_ACCOUNT_GROUPS_OF_ACCOUNT
from relaystore.mysql.accounts import (
    COLUMNS,
    INSERT_ACCOUNT,
    SELECT_SCHEDULABLE_ACCOUNTS,
    SELECT_SCHEDULABLE_ACCOUNTS_IN_GROUP,
)
from relaystore.store import Store
from relaystore.timefmt import utcnow
from tests import upstream_crypto as up
from tests.conftest import TEST_ENCRYPTION_KEY, base_settings


def _questions(store: Store) -> int:
    return int(store.pool.fetchone("SHOW SESSION STATUS LIKE 'Questions'")["Value"])


def _row(store: Store, platform: str, account_id: str) -> dict:
    return store.pool.fetchone("SELECT * FROM accounts WHERE platform = %(p)s AND id = %(i)s",
                               {"p": platform, "i": account_id})


@pytest.mark.parametrize("platform", sorted(up.SALTS))
def test_secrets_are_stored_encrypted_in_upstreams_format(mysql_store, platform):
    secrets = {name: f"plain-{name}-value" for name in PLATFORMS[platform].secret_fields}
    account = mysql_store.accounts.create(platform, priority=3, apiUrl="https://u", **secrets)
    row = _row(mysql_store, platform, account.id)
    assert (row["priority"], row["is_active"], row["status"]) == (3, 1, "active")
    data = json.loads(row["data"])
    assert data["apiUrl"] == "https://u" and not set(data) & {"id", "name", "priority", "isActive"}
    for name, plaintext in secrets.items():
        assert plaintext not in row["data"]
        assert up.decrypt(TEST_ENCRYPTION_KEY, platform, data[name]) == plaintext


def test_bedrock_credentials_are_stored_as_upstreams_encrypted_object(mysql_store):
    creds = {"accessKeyId": "AKIA7", "secretAccessKey": "s/7"}
    account = mysql_store.accounts.create("bedrock", awsCredentials=creds, region="eu-west-1")
    data = json.loads(_row(mysql_store, "bedrock", account.id)["data"])
    assert up.bedrock_decrypt(TEST_ENCRYPTION_KEY, data["awsCredentials"]) == creds
    assert data["region"] == "eu-west-1" and data["type"] == "bedrock"


def test_rows_written_from_upstream_ciphertexts_decrypt(mysql_store):
    """A migrated row (ciphertext copied verbatim from the relay's Redis) reads back decrypted."""
    stored = up.encrypt(TEST_ENCRYPTION_KEY, "ccr", "sk-from-upstream")
    with mysql_store.pool.cursor() as cur:
        cur.execute(INSERT_ACCOUNT, {
            "platform": "ccr", "id": "ccr-1", "name": "m", "description": "", "is_active": 1, "schedulable": 1,
            "status": "active", "priority": 50, "account_type": "shared", "error_message": "",
            "created_at": None, "last_used_at": None, "data": json.dumps({"apiKey": stored, "apiUrl": "u"})})
    account = mysql_store.accounts.get("ccr", "ccr-1")
    assert account.secrets == {"apiKey": "sk-from-upstream"} and account.data == {"apiUrl": "u"}


def test_malformed_ciphertext_in_a_row_names_row_and_field_not_value(mysql_store):
    account = mysql_store.accounts.create("gemini-api", apiKey="k")
    bad = "000102030405060708090a0b0c0d0e0f:cafebabecafebabecafebabecafebabe"
    with mysql_store.pool.cursor() as cur:
        cur.execute("UPDATE accounts SET data = %(d)s WHERE id = %(i)s",
                    {"d": json.dumps({"apiKey": bad}), "i": account.id})
    with pytest.raises(DataError) as info:
        mysql_store.accounts.get("gemini-api", account.id)
    message = str(info.value)
    assert f"gemini-api/{account.id}" in message and "apiKey" in message and "cafebabe" not in message
    with mysql_store.pool.cursor() as cur:
        cur.execute("UPDATE accounts SET data = 'not json' WHERE id = %(i)s", {"i": account.id})
    with pytest.raises(DataError, match="data"):
        mysql_store.accounts.list("gemini-api")


def _bulk_accounts(store: Store, n: int) -> list[str]:
    """n accounts spread over the platforms with mixed scheduler fields, in one executemany."""
    now = utcnow().replace(tzinfo=None)
    platforms = sorted(PLATFORMS)
    rows, claude_ids = [], []
    for i in range(n):
        platform = platforms[i % len(platforms)]
        account_id = str(uuid.uuid4())
        if platform == "claude":
            claude_ids.append(account_id)
        rows.append({"platform": platform, "id": account_id, "name": f"a{i}", "description": "",
                     "is_active": int(i % 7 != 0), "schedulable": int(i % 5 != 0),
                     "status": ("active", "error", "rate_limited")[i % 3], "priority": i % 100,
                     "account_type": "shared", "error_message": "", "created_at": now - timedelta(seconds=i),
                     "last_used_at": None if i % 4 == 0 else now - timedelta(minutes=i), "data": "{}"})
    with store.pool.cursor() as cur:
        cur.executemany(INSERT_ACCOUNT, [{c: r[c] for c in COLUMNS} for r in rows])
        cur.execute("ANALYZE TABLE accounts")
    return claude_ids


def test_scheduler_query_reads_ix_accounts_schedule_without_a_sort(mysql_store):
    _bulk_accounts(mysql_store, 5000)
    plan = mysql_store.pool.fetchall("EXPLAIN " + SELECT_SCHEDULABLE_ACCOUNTS, {"platform": "claude"})
    assert len(plan) == 1
    assert plan[0]["key"] == "ix_accounts_schedule" and plan[0]["type"] in ("ref", "range")
    assert plan[0]["key_len"] == "36"  # platform (ascii 32 + 2) + is_active + schedulable: all equalities
    assert "filesort" not in (plan[0]["Extra"] or "")


def test_group_scheduler_query_walks_members_then_account_primary_keys(mysql_store):
    claude_ids = _bulk_accounts(mysql_store, 2000)
    group = mysql_store.account_groups.create("claude", "g")
    for account_id in claude_ids[:50]:
        mysql_store.account_groups.add_member(group.id, account_id)
    with mysql_store.pool.cursor() as cur:
        cur.execute("ANALYZE TABLE account_group_members")
    plan = {r["table"]: r for r in mysql_store.pool.fetchall(
        "EXPLAIN " + SELECT_SCHEDULABLE_ACCOUNTS_IN_GROUP, {"platform": "claude", "group_id": group.id})}
    assert plan["m"]["key"] == "PRIMARY" and plan["m"]["type"] == "ref"
    assert plan["a"]["key"] == "PRIMARY" and plan["a"]["type"] == "eq_ref"


def test_reverse_group_lookup_uses_the_account_index(mysql_store):
    group = mysql_store.account_groups.create("openai", "g")
    for i in range(300):
        mysql_store.account_groups.add_member(group.id, f"acc-{i}")
    with mysql_store.pool.cursor() as cur:
        cur.execute("ANALYZE TABLE account_group_members")
    plan = {r["table"]: r for r in mysql_store.pool.fetchall(
        "EXPLAIN " + SELECT_ACCOUNT_GROUPS_OF_ACCOUNT, {"account_id": "acc-7", "platform": "openai"})}
    assert plan["m"]["key"] == "ix_account_group_members_account"
    assert plan["g"]["key"] == "PRIMARY"


@pytest.mark.parametrize("with_group", [False, True])
def test_list_schedulable_is_one_query(mysql_database, with_group):
    store = Store(base_settings(database_type="mysql", mysql_database=mysql_database, mysql_pool_size=1))
    try:
        accounts = [store.accounts.create("openai", name=f"a{i}", accessToken=f"t{i}") for i in range(20)]
        group = store.account_groups.create("openai", "g")
        for account in accounts:
            store.account_groups.add_member(group.id, account.id)
        before = _questions(store)
        found = store.accounts.list_schedulable("openai", group_id=group.id if with_group else None)
        assert _questions(store) - before == 2  # the scheduler SELECT plus this SHOW STATUS
        assert len(found) == 20 and found[0].secrets["accessToken"].startswith("t")
    finally:
        store.close()


def test_deleting_a_group_with_a_member_is_also_refused_by_the_foreign_key(mysql_store):
    group = mysql_store.account_groups.create("droid", "g")
    mysql_store.account_groups.add_member(group.id, "acc-1")
    with pytest.raises(Conflict), mysql_store.pool.cursor() as cur:
        cur.execute("DELETE FROM account_groups WHERE id = %(i)s", {"i": group.id})


def test_account_ids_outside_the_storable_alphabet_never_reach_the_server(mysql_database):
    store = Store(base_settings(database_type="mysql", mysql_database=mysql_database, mysql_pool_size=1))
    try:
        before = _questions(store)
        assert store.accounts.get("claude", "ünïcode-id") is None
        assert store.accounts.get("claude", "x" * 65) is None
        assert _questions(store) - before == 1  # only the SHOW STATUS
    finally:
        store.close()
