"""The contract each backend implements: one Protocol per entity family (spec/api.md)."""
from __future__ import annotations

from typing import Any, Protocol

from .records import Account, AccountGroup, ApiKey, AuthResult, Page


class ApiKeyStore(Protocol):
    """store.api_keys. Differences between backends are listed here, nowhere else.

    After a soft delete, upstream's Redis layout drops the key's hash from apikey:hash_map, so
    Redis authenticate() says "unknown" where MySQL (which keeps the row) says "deleted"; both refuse.
    """

    def create(self, name: str, **settings: Any) -> tuple[ApiKey, str]: ...     # (record, raw key)
    def get(self, key_id: str) -> ApiKey | None: ...                            # None when missing
    def authenticate(self, raw_key: str) -> AuthResult: ...                     # one round trip on MySQL
    def update(self, key_id: str, **fields: Any) -> ApiKey: ...                 # raises NotFound
    def delete(self, key_id: str, *, deleted_by: str = ..., deleted_by_type: str = ...) -> ApiKey: ...
    def restore(self, key_id: str, *, restored_by: str = ..., restored_by_type: str = ...) -> ApiKey: ...
    def purge(self, key_id: str) -> None: ...                                   # permanent; deleted keys only
    def list(self, *, page: int = 1, page_size: int = 50, active: bool | None = None, tag: str | None = None,
             search: str | None = None, include_deleted: bool = False) -> Page[ApiKey]: ...


class AccountStore(Protocol):
    """store.accounts: every upstream platform family (account_rules.PLATFORMS), secrets decrypted.

    Fields are set by snake_case name when typed (name, is_active, priority, ...) and by upstream
    camelCase name otherwise (apiKey=..., proxy={...}) or through data={...}; None removes a field.
    Backend difference: deleting an account removes it from its group platform's groups on MySQL
    and, as upstream does, from every group's member set on Redis (ids are UUIDs: the same).
    """

    def create(self, platform: str, **fields: Any) -> Account: ...                  # AlreadyExists for a taken id
    def get(self, platform: str, account_id: str) -> Account | None: ...            # None when missing
    def update(self, platform: str, account_id: str, **fields: Any) -> Account: ... # raises NotFound
    def delete(self, platform: str, account_id: str) -> None: ...                   # raises NotFound
    def list(self, platform: str) -> list[Account]: ...                             # oldest first
    def list_schedulable(self, platform: str, *, group_id: str | None = None) -> list[Account]: ...


class AccountGroupStore(Protocol):
    """store.account_groups: upstream's account groups; members are account ids of the group's platform."""

    def create(self, platform: str, name: str, description: str = ..., **extra: Any) -> AccountGroup: ...
    def get(self, group_id: str) -> AccountGroup | None: ...
    def update(self, group_id: str, **fields: Any) -> AccountGroup: ...             # raises NotFound
    def delete(self, group_id: str) -> None: ...                                    # Conflict if not empty
    def list(self, platform: str | None = None) -> list[AccountGroup]: ...          # newest first
    def add_member(self, group_id: str, account_id: str, *, platform: str | None = None) -> None: ...
    def remove_member(self, group_id: str, account_id: str) -> None: ...
    def members(self, group_id: str) -> list[str]: ...
    def groups_of(self, platform: str, account_id: str) -> list[AccountGroup]: ...
