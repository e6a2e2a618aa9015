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
    # Key-level rollups (§3.1); `m` is the normalized model name, buckets are usage_rules strings.
    def usage_total(self, key_id: str) -> str:
        return f"{self.prefix}usage:{key_id}"

    def usage_daily(self, key_id: str, day: str) -> str:
        return f"{self.prefix}usage:daily:{key_id}:{day}"

    def usage_monthly(self, key_id: str, month: str) -> str:
        return f"{self.prefix}usage:monthly:{key_id}:{month}"

    def usage_hourly(self, key_id: str, hour: str) -> str:
        return f"{self.prefix}usage:hourly:{key_id}:{hour}"

    def usage_model_daily(self, m: str, day: str) -> str:
        return f"{self.prefix}usage:model:daily:{m}:{day}"

    def usage_model_monthly(self, m: str, month: str) -> str:
        return f"{self.prefix}usage:model:monthly:{m}:{month}"

    def usage_model_hourly(self, m: str, hour: str) -> str:
        return f"{self.prefix}usage:model:hourly:{m}:{hour}"

    def usage_key_model_daily(self, key_id: str, m: str, day: str) -> str:
        return f"{self.prefix}usage:{key_id}:model:daily:{m}:{day}"

    def usage_key_model_monthly(self, key_id: str, m: str, month: str) -> str:
        return f"{self.prefix}usage:{key_id}:model:monthly:{m}:{month}"

    def usage_key_model_hourly(self, key_id: str, m: str, hour: str) -> str:
        return f"{self.prefix}usage:{key_id}:model:hourly:{m}:{hour}"

    def usage_key_model_alltime(self, key_id: str, m: str) -> str:
        return f"{self.prefix}usage:{key_id}:model:alltime:{m}"

    def system_metrics_minute(self, minute: int) -> str:
        return f"{self.prefix}system:metrics:minute:{minute}"

    @property
    def usage_global_total(self) -> str:
        return f"{self.prefix}usage:global:total"

    def usage_global_daily(self, day: str) -> str:
        return f"{self.prefix}usage:global:daily:{day}"

    def usage_global_monthly(self, month: str) -> str:
        return f"{self.prefix}usage:global:monthly:{month}"

    # Index sets written with each request; `empty_marker` is the sibling "lookup found nothing" key.
    def usage_daily_index(self, day: str) -> str:
        return f"{self.prefix}usage:daily:index:{day}"

    def usage_hourly_index(self, hour: str) -> str:
        return f"{self.prefix}usage:hourly:index:{hour}"

    def usage_model_daily_index(self, day: str) -> str:
        return f"{self.prefix}usage:model:daily:index:{day}"

    def usage_model_hourly_index(self, hour: str) -> str:
        return f"{self.prefix}usage:model:hourly:index:{hour}"

    def usage_model_monthly_index(self, month: str) -> str:
        return f"{self.prefix}usage:model:monthly:index:{month}"

    @property
    def usage_model_monthly_months(self) -> str:
        return f"{self.prefix}usage:model:monthly:months"

    def usage_key_model_daily_index(self, day: str) -> str:
        return f"{self.prefix}usage:keymodel:daily:index:{day}"

    def usage_key_model_hourly_index(self, hour: str) -> str:
        return f"{self.prefix}usage:keymodel:hourly:index:{hour}"

    @staticmethod
    def empty_marker(index_key: str) -> str:
        """The `{index}:empty` key beside an (already prefixed) index key."""
        return f"{index_key}:empty"

    # Cost counters (§4): strings written by INCRBYFLOAT.
    def cost_daily(self, key_id: str, day: str) -> str:
        return f"{self.prefix}usage:cost:daily:{key_id}:{day}"

    def cost_monthly(self, key_id: str, month: str) -> str:
        return f"{self.prefix}usage:cost:monthly:{key_id}:{month}"

    def cost_hourly(self, key_id: str, hour: str) -> str:
        return f"{self.prefix}usage:cost:hourly:{key_id}:{hour}"

    def cost_total(self, key_id: str) -> str:
        return f"{self.prefix}usage:cost:total:{key_id}"

    def cost_real_total(self, key_id: str) -> str:
        return f"{self.prefix}usage:cost:real:total:{key_id}"

    def cost_real_daily(self, key_id: str, day: str) -> str:
        return f"{self.prefix}usage:cost:real:daily:{key_id}:{day}"

    def opus_weekly(self, key_id: str, period: str) -> str:
        return f"{self.prefix}usage:opus:weekly:{key_id}:{period}"

    def opus_total(self, key_id: str) -> str:
        return f"{self.prefix}usage:opus:total:{key_id}"

    def opus_real_weekly(self, key_id: str, period: str) -> str:
        return f"{self.prefix}usage:opus:real:weekly:{key_id}:{period}"

    def opus_real_total(self, key_id: str) -> str:
        return f"{self.prefix}usage:opus:real:total:{key_id}"

    # Account-level rollups (§3.2).
    def account_usage_total(self, account_id: str) -> str:
        return f"{self.prefix}account_usage:{account_id}"

    def account_usage_daily(self, account_id: str, day: str) -> str:
        return f"{self.prefix}account_usage:daily:{account_id}:{day}"

    def account_usage_monthly(self, account_id: str, month: str) -> str:
        return f"{self.prefix}account_usage:monthly:{account_id}:{month}"

    def account_usage_hourly(self, account_id: str, hour: str) -> str:
        return f"{self.prefix}account_usage:hourly:{account_id}:{hour}"

    def account_usage_model_daily(self, account_id: str, m: str, day: str) -> str:
        return f"{self.prefix}account_usage:model:daily:{account_id}:{m}:{day}"

    def account_usage_model_monthly(self, account_id: str, m: str, month: str) -> str:
        return f"{self.prefix}account_usage:model:monthly:{account_id}:{m}:{month}"

    def account_usage_model_hourly(self, account_id: str, m: str, hour: str) -> str:
        return f"{self.prefix}account_usage:model:hourly:{account_id}:{m}:{hour}"

    def account_usage_daily_index(self, day: str) -> str:
        return f"{self.prefix}account_usage:daily:index:{day}"

    def account_usage_hourly_index(self, hour: str) -> str:
        return f"{self.prefix}account_usage:hourly:index:{hour}"

    def account_usage_model_daily_index(self, day: str) -> str:
        return f"{self.prefix}account_usage:model:daily:index:{day}"

    def account_usage_model_hourly_index(self, hour: str) -> str:
        return f"{self.prefix}account_usage:model:hourly:index:{hour}"

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

    # users, sessions, admin credentials, settings, request details (§8): issue 4 part B
    def glob(self, pattern: str) -> str:
        """A SCAN MATCH pattern under the prefix (glob characters in the prefix escaped)."""
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix)
        return escaped + pattern

    def user(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}"

    def username(self, username: str) -> str:
        return f"{self.prefix}username:{username}"

    def user_session(self, token: str) -> str:
        return f"{self.prefix}user_session:{token}"

    def admin_session(self, token: str) -> str:
        return f"{self.prefix}session:{token}"

    @property
    def admin_credentials(self) -> str:
        return f"{self.prefix}session:admin_credentials"

    def oauth_session(self, session_id: str) -> str:
        return f"{self.prefix}oauth:{session_id}"

    def sticky_session(self, session_hash: str) -> str:
        return f"{self.prefix}sticky_session:{session_hash}"

    def setting(self, name: str) -> str:
        """A singleton setting's key is its name (settings_rules.KNOWN_SETTINGS)."""
        return f"{self.prefix}{name}"

    def request_detail(self, request_id: str) -> str:
        return f"{self.prefix}request_detail:item:{request_id}"

    def request_detail_day_index(self, day: str) -> str:
        return f"{self.prefix}request_detail:index:day:{day}"

    def account_balance(self, platform: str, account_id: str) -> str:
        return f"{self.prefix}account_balance:{platform}:{account_id}"

    def account_balance_local(self, platform: str, account_id: str) -> str:
        return f"{self.prefix}account_balance_local:{platform}:{account_id}"

    def account_balance_script(self, platform: str, account_id: str) -> str:
        return f"{self.prefix}account_balance_script:{platform}:{account_id}"

    def account_test_history(self, platform: str, account_id: str) -> str:
        return f"{self.prefix}account:test_history:{platform}:{account_id}"

    def account_last_test(self, platform: str, account_id: str) -> str:
        return f"{self.prefix}account:last_test:{platform}:{account_id}"

    # --- concurrency, queues, rate limits (§5, §6): issue 5 ---
    def concurrency(self, key_id: str) -> str:
        """ZSET of live leases: member requestId, score expiry epoch ms."""
        return f"{self.prefix}concurrency:{key_id}"

    def concurrency_queue(self, key_id: str) -> str:
        """STRING count of requests waiting for a lease."""
        return f"{self.prefix}concurrency:queue:{key_id}"

    def concurrency_queue_stats(self, key_id: str) -> str:
        """HASH of queue outcome counters."""
        return f"{self.prefix}concurrency:queue:stats:{key_id}"

    def concurrency_queue_wait_times(self, list_id: str) -> str:
        """LIST of wait samples in ms, newest first; list_id "global" is the relay-wide list."""
        return f"{self.prefix}concurrency:queue:wait_times:{list_id}"

    def rate_limit_window_start(self, key_id: str) -> str:
        return f"{self.prefix}rate_limit:window_start:{key_id}"

    def rate_limit_requests(self, key_id: str) -> str:
        return f"{self.prefix}rate_limit:requests:{key_id}"

    def rate_limit_tokens(self, key_id: str) -> str:
        return f"{self.prefix}rate_limit:tokens:{key_id}"

    def rate_limit_cost(self, key_id: str) -> str:
        return f"{self.prefix}rate_limit:cost:{key_id}"

    # --- migration bookkeeping: issue 6 (not upstream's; the relay ignores it) ---
    @property
    def migration_seq(self) -> str:
        """INCR'd inside the MULTI that reads keys for a copy to MySQL: orders concurrent copies."""
        return f"{self.prefix}relaystore:migration:seq"
