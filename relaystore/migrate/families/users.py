"""Users: each `user:{id}` JSON string <-> one users row.

username:{username} -> id is derived from the records (uq_users_username on MySQL): it is not
copied, and the rollback writes it back beside each user:{id} as the Redis DAO's create() does.
Keys under `user:` with a further colon (a newer relay's index, say) are not records.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import fields as dc_fields
from typing import Any

from ... import user_rules as rules
from ...errors import DataError
from ...mysql import users as mysql_users
from ...mysql.pool import MySQLPool
from ...records import User
from ...redis.keys import Keys
from ..family import Family, KeySource
from .rows import key_pages

KEY_RE = re.compile(r"user:([^:]+)", re.DOTALL)
_FIELD_NAMES = tuple(f.name for f in dc_fields(User))


class UsersFamily(Family):
    name = "users"
    sources = (KeySource(type="string", match="user:*", regex=KEY_RE),)
    tables = ("users",)

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> User:
        """user_rules' decoder (the Redis DAO's), plus: the id matches the key name."""
        if not isinstance(value, str):
            raise DataError(f"{key}: not a string value")
        user = rules.from_json(value, key)
        if user.id != key.partition(":")[2]:
            raise DataError(f"{key}: field id does not match the key name")
        return user

    def check(self, record: User, checker: Any) -> None:
        checker.check("users", mysql_users.to_row(record), self.key_of(record))

    def key_of(self, record: User) -> str:
        return f"user:{record.id}"

    def write_mysql(self, cur: Any, records: Sequence[User]) -> None:
        mysql_users.upsert_users(cur, records)

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        mysql_users.delete_users(cur, [k.partition(":")[2] for k in keys])

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        return key_pages(pool, mysql_users.SELECT_USER_IDS_AFTER, "id", "user:", batch_size)

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, User]:
        users = mysql_users.users_by_ids(pool, [k.partition(":")[2] for k in keys])
        return {self.key_of(u): u for u in users}

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[User]) -> None:
        """The Redis DAO's create(): the record and its username mapping."""
        for user in records:
            pipe.set(k.user(user.id), rules.to_json(user))
            pipe.set(k.username(user.username), user.id)

    def compare(self, redis_record: User, mysql_record: User) -> list[str]:
        return [n for n in _FIELD_NAMES if getattr(redis_record, n) != getattr(mysql_record, n)]
