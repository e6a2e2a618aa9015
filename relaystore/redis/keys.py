"""Every Redis key name relaystore uses, in upstream's layout, behind one optional prefix.

The prefix is empty in production (the upstream relay's keys have none); tests and shared
servers set REDIS_KEY_PREFIX so runs never collide. This is the only module that builds keys.
"""
from __future__ import annotations

API_KEY_TTL_SECONDS = 365 * 86400


class Keys:
    """Key builders; `prefix + <upstream key>` for each family of redis-layout.md."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def strip(self, key: str) -> str:
        """The upstream key name of a prefixed key."""
        return key[len(self.prefix):] if self.prefix and key.startswith(self.prefix) else key

    # --- API keys (§1) ---
    def api_key(self, key_id: str) -> str:
        return f"{self.prefix}apikey:{key_id}"

    @property
    def api_key_hash_map(self) -> str:
        return f"{self.prefix}apikey:hash_map"

    def api_key_legacy_hash(self, key_hash: str) -> str:
        return f"{self.prefix}apikey_hash:{key_hash}"

    @property
    def api_key_index_version(self) -> str:
        return f"{self.prefix}apikey:index:version"

    @property
    def api_key_idx_all(self) -> str:
        return f"{self.prefix}apikey:idx:all"

    @property
    def api_key_idx_created_at(self) -> str:
        return f"{self.prefix}apikey:idx:createdAt"

    @property
    def api_key_idx_last_used_at(self) -> str:
        return f"{self.prefix}apikey:idx:lastUsedAt"

    @property
    def api_key_idx_name(self) -> str:
        return f"{self.prefix}apikey:idx:name"

    @property
    def api_key_set_active(self) -> str:
        return f"{self.prefix}apikey:set:active"

    @property
    def api_key_set_deleted(self) -> str:
        return f"{self.prefix}apikey:set:deleted"

    def api_key_tag(self, tag: str) -> str:
        return f"{self.prefix}apikey:tag:{tag}"

    @property
    def api_key_tags_all(self) -> str:
        return f"{self.prefix}apikey:tags:all"

    # --- usage and cost (§3, §4): issue 3 ---

    # --- accounts, groups, users, sessions, misc (§7, §8): issue 4 ---

    # --- concurrency, queues, rate limits (§5, §6): issue 5 ---

    # --- migration bookkeeping: issue 6 (not upstream's; the relay ignores it) ---
    @property
    def migration_seq(self) -> str:
        """INCR'd inside the MULTI that reads keys for a copy to MySQL: orders concurrent copies."""
        return f"{self.prefix}relaystore:migration:seq"
