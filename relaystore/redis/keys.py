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

    # accounts (§7.1) and account groups (§8): issue 4 part A
    # platform -> (account key prefix, shared-pool SET or None); the index SET is `{prefix}index`.
    ACCOUNT_LAYOUT: dict[str, tuple[str, str | None]] = {
        "claude": ("claude:account:", None),  # UNCERTAIN upstream: no shared pool set known
        "claude-console": ("claude_console_account:", "shared_claude_console_accounts"),
        "openai": ("openai:account:", "shared_openai_accounts"),
        "openai-responses": ("openai_responses_account:", "shared_openai_responses_accounts"),
        "azure-openai": ("azure_openai:account:", "shared_azure_openai_accounts"),
        "gemini": ("gemini_account:", "shared_gemini_accounts"),
        "gemini-api": ("gemini_api_account:", "shared_gemini_api_accounts"),
        "bedrock": ("bedrock_account:", None),
        "droid": ("droid:account:", None),
        "ccr": ("ccr_account:", "shared_ccr_accounts"),
    }

    def account_prefix(self, platform: str) -> str:
        """`{prefix}claude:account:` etc.: what every account key of the platform starts with."""
        return self.prefix + self.ACCOUNT_LAYOUT[platform][0]

    def account(self, platform: str, account_id: str) -> str:
        return self.account_prefix(platform) + account_id

    def account_index(self, platform: str) -> str:
        return self.account_prefix(platform) + "index"

    def account_index_empty(self, platform: str) -> str:
        return self.account_prefix(platform) + "index:empty"

    def account_shared_pool(self, platform: str) -> str | None:
        shared = self.ACCOUNT_LAYOUT[platform][1]
        return None if shared is None else self.prefix + shared

    def account_group(self, group_id: str) -> str:
        return f"{self.prefix}account_group:{group_id}"

    @property
    def account_groups(self) -> str:
        return f"{self.prefix}account_groups"

    def account_group_members(self, group_id: str) -> str:
        return f"{self.prefix}account_group_members:{group_id}"

    def account_groups_reverse(self, group_platform: str, account_id: str) -> str:
        return f"{self.prefix}account_groups_reverse:{group_platform}:{account_id}"

    @property
    def account_groups_reverse_migrated(self) -> str:
        return f"{self.prefix}account_groups_reverse:migrated"


    # --- concurrency, queues, rate limits (§5, §6): issue 5 ---
