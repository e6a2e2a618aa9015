"""The contract each backend implements: one Protocol per entity family (spec/api.md)."""
from __future__ import annotations

from typing import Any, Protocol

from .records import ApiKey, AuthResult, Page


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
    def put(self, key: ApiKey) -> None: ...                                     # exact record, create or replace
    def list(self, *, page: int = 1, page_size: int = 50, active: bool | None = None, tag: str | None = None,
             search: str | None = None, include_deleted: bool = False) -> Page[ApiKey]: ...
