"""Users on Redis in upstream's layout: user:{id} STRING JSON and username:{username} STRING -> id.

Upstream (at the spec's commit) keeps no user index: listing SCANs `user:*` and GETs the values in
pipelines, as its getAllUsers does. Keys under `user:` that are not JSON strings (a newer relay's
index set, say) are skipped, not reported as errors.
"""
from __future__ import annotations

from typing import Any, cast

import redis

from .. import user_rules as rules
from ..config import Settings
from ..errors import AlreadyExists, InvalidInput, NotFound
from ..records import Page, User
from ..timefmt import utcnow
from .client import redis_errors
from .keys import Keys
from .sessions import delete_user_sessions

SCAN_COUNT = 1000


class RedisUsers:
    """store.users on Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._r = client
        self._k = keys
        self._settings = settings

    def create(self, username: str, *, user_id: str | None = None, **fields: Any) -> User:
        """Create a user; AlreadyExists when the username (or a given id) is taken."""
        user = rules.new_user(username, fields, now=utcnow(), user_id=user_id)
        name_key, user_key = self._k.username(username), self._k.user(user.id)

        def work(pipe: Any) -> None:
            if pipe.exists(name_key):
                raise AlreadyExists(f"username {username!r} is taken")
            if pipe.exists(user_key):
                raise AlreadyExists(f"user id {user.id} is taken")
            pipe.multi()
            pipe.set(user_key, rules.to_json(user))
            pipe.set(name_key, user.id)

        with redis_errors():
            self._r.transaction(work, name_key, user_key)
        return user

    def get(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        key = self._k.user(user_id)
        with redis_errors():
            text = cast("str | None", self._r.get(key))
        return rules.from_json(text, self._k.strip(key)) if text is not None else None

    def get_by_username(self, username: str) -> User | None:
        """Upstream's getUserByUsername: username:{name} -> id, then the record."""
        with redis_errors():
            user_id = cast("str | None", self._r.get(self._k.username(username)))
        return self.get(user_id) if user_id else None

    def update(self, user_id: str, **fields: Any) -> User:
        """Change fields (read-modify-write under WATCH); NotFound for an unknown id."""
        key = self._k.user(user_id)
        result: list[User] = []

        def work(pipe: Any) -> None:
            text = pipe.get(key)
            if text is None:
                raise NotFound(f"user {user_id} does not exist")
            new = rules.apply_update(rules.from_json(text, self._k.strip(key)), fields, now=utcnow())
            pipe.multi()
            pipe.set(key, rules.to_json(new))
            result[:] = [new]

        with redis_errors():
            self._r.transaction(work, key)
        return result[0]

    def delete(self, user_id: str) -> User:
        """Upstream's soft delete (inactive, deletedAt) plus ending every session of the user."""
        key = self._k.user(user_id)
        result: list[User] = []

        def work(pipe: Any) -> None:
            text = pipe.get(key)
            if text is None:
                raise NotFound(f"user {user_id} does not exist")
            user = rules.from_json(text, self._k.strip(key))
            new = user if user.deleted_at else rules.soft_deleted(user, now=utcnow())
            pipe.multi()
            pipe.set(key, rules.to_json(new))
            result[:] = [new]

        with redis_errors():
            self._r.transaction(work, key)
            delete_user_sessions(self._r, self._k, user_id)
        return result[0]

    def purge(self, user_id: str) -> None:
        """Permanent delete of a soft-deleted user: record, username mapping, sessions."""
        user = self.get(user_id)
        if user is None:
            raise NotFound(f"user {user_id} does not exist")
        if user.deleted_at is None:
            raise InvalidInput(f"user {user_id} must be deleted before it is purged")
        name_key = self._k.username(user.username)

        def work(pipe: Any) -> None:
            owner = pipe.get(name_key)
            pipe.multi()
            pipe.delete(self._k.user(user_id))
            if owner == user_id:
                pipe.delete(name_key)

        with redis_errors():
            self._r.transaction(work, name_key)
            delete_user_sessions(self._r, self._k, user_id)

    def list(self, *, page: int = 1, page_size: int = 50, role: str | None = None,
             is_active: bool | None = None) -> Page[User]:
        """Newest first (createdAt, then id), filtered by role / isActive as upstream's getAllUsers."""
        if page < 1 or page_size < 1:
            raise InvalidInput("page and page_size must be at least 1")
        users: list[User] = []
        with redis_errors():
            batch: list[str] = []
            for key in self._r.scan_iter(match=self._k.glob("user:*"), count=SCAN_COUNT):
                batch.append(key)
                if len(batch) >= SCAN_COUNT:
                    users.extend(_fetch(self._r, self._k, batch))
                    batch = []
            users.extend(_fetch(self._r, self._k, batch))
        if role is not None:
            users = [u for u in users if u.role == role]
        if is_active is not None:
            users = [u for u in users if u.is_active == is_active]
        users.sort(key=lambda u: (u.created_at.timestamp() if u.created_at else float("-inf"), u.id),
                   reverse=True)
        start = (page - 1) * page_size
        return Page(items=users[start:start + page_size], total=len(users), page=page, page_size=page_size)


def _fetch(client: redis.Redis, keys: Keys, names: list[str]) -> list[User]:
    """GET a batch of user:* keys in one pipeline; keys of another type are skipped."""
    if not names:
        return []
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.get(name)
    out = []
    for name, value in zip(names, pipe.execute(raise_on_error=False)):
        if isinstance(value, str):
            out.append(rules.from_json(value, keys.strip(name)))
    return out
