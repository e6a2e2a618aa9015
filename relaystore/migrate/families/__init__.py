"""The registry of migration families, in copy order; a new family is one import and one entry here."""
from __future__ import annotations

from ...errors import InvalidInput
from ..family import Family
from .account_groups import AccountGroupMembersFamily, AccountGroupsFamily
from .account_state import AccountStateFamily
from .accounts import AccountsFamily
from .api_keys import ApiKeysFamily
from .concurrency_queues import ConcurrencyQueuesFamily
from .leases import LeasesFamily
from .rate_limits import RateLimitsFamily
from .request_details import RequestDetailsFamily
from .sessions import (
    AdminCredentialsFamily,
    AdminSessionsFamily,
    OAuthSessionsFamily,
    StickySessionsFamily,
    UserSessionsFamily,
)
from .system_settings import SystemSettingsFamily
from .usage import UsageFamily
from .users import UsersFamily

FAMILIES: dict[str, Family] = {f.name: f for f in (
    ApiKeysFamily(),
    SystemSettingsFamily(),
    AccountsFamily(),
    AccountGroupsFamily(),
    AccountGroupMembersFamily(),   # after account_groups: a member row needs its group row
    AccountStateFamily(),
    UsageFamily(),
    UsersFamily(), UserSessionsFamily(), AdminSessionsFamily(), AdminCredentialsFamily(), OAuthSessionsFamily(),
    StickySessionsFamily(), RequestDetailsFamily(),
    LeasesFamily(),
    ConcurrencyQueuesFamily(),
    RateLimitsFamily(),
)}

# Families whose copy reads what earlier families write (a member row needs its group row): their
# batches start only when every earlier batch is committed. Others may overlap with worker processes.
WAITS_FOR: dict[str, tuple[str, ...]] = {"account_group_members": ("account_groups",)}


def select(names: str | None = None) -> list[Family]:
    """The families named in a comma-separated list (all when None/empty), in registry order."""
    if not names:
        return list(FAMILIES.values())
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in FAMILIES]
    if unknown:
        raise InvalidInput(f"unknown families: {', '.join(unknown)} (known: {', '.join(FAMILIES)})")
    return [f for name, f in FAMILIES.items() if name in wanted]


def family_for_key(key: str) -> Family | None:
    """The family owning a relative Redis key, or None."""
    for family in FAMILIES.values():
        if family.owns(key) is not None:
            return family
    return None
