-- relaystore MySQL schema. Runs on MariaDB 10.11+ and MySQL 8.0+ (their common dialect).
--
-- Rules of this file:
-- * Every statement is idempotent (CREATE TABLE IF NOT EXISTS, INSERT IGNORE), so
--   scripts/db_init.sh can apply it to a live database any number of times.
-- * No DELIMITER blocks: the loader splits on ";" at line ends.
-- * InnoDB, utf8mb4 with utf8mb4_unicode_ci (exists on both servers; MySQL's 0900 collations do not
--   exist on MariaDB 10.11). Ids are ASCII with binary collation: shorter keys, exact comparisons.
-- * Times are DATETIME(3) in UTC (the pool sets time_zone='+00:00'); NULL means "not set".
-- * JSON-valued upstream fields are TEXT holding compact JSON: the JSON type is binary on MySQL but
--   LONGTEXT on MariaDB and MySQL would reformat it; nothing queries inside these values.
-- * Money is DECIMAL or integer micro-USD, never FLOAT. No NULL column is part of a unique key.
-- * Every index is named for the query it serves; EXPLAIN tests pin the hot ones.

CREATE TABLE IF NOT EXISTS schema_version (
    version     INT UNSIGNED NOT NULL,
    description VARCHAR(255) NOT NULL,
    applied_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Singleton settings and markers the relay keeps as single Redis strings
-- (apikey:index:version, system:service_rates, webhook_config:default, oem:settings, ...).
CREATE TABLE IF NOT EXISTS system_settings (
    name       VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    value      MEDIUMTEXT   NOT NULL,
    updated_at DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ==== API keys (upstream apikey:{id}, apikey:hash_map, apikey:tag:*) =============================
-- Typed columns for every upstream field; `extra` keeps unknown upstream fields verbatim (JSON).
-- key_hash is the raw 32-byte SHA-256 (upstream stores its hex); the auth path is one lookup on
-- uq_api_keys_key_hash. Soft-deleted rows keep their hash so restore() needs nothing else.
CREATE TABLE IF NOT EXISTS api_keys (
    id                        CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    key_hash                  BINARY(32)    NOT NULL,
    name                      TEXT          NOT NULL,
    description               TEXT          NOT NULL,
    token_limit               BIGINT        NOT NULL DEFAULT 0,
    concurrency_limit         INT           NOT NULL DEFAULT 0,
    rate_limit_window         INT           NOT NULL DEFAULT 0,
    rate_limit_requests       INT           NOT NULL DEFAULT 0,
    rate_limit_cost           DECIMAL(20,6) NOT NULL DEFAULT 0,
    is_active                 TINYINT(1)    NOT NULL DEFAULT 1,
    claude_account_id         VARCHAR(255)  NOT NULL DEFAULT '',
    claude_console_account_id VARCHAR(255)  NOT NULL DEFAULT '',
    gemini_account_id         VARCHAR(255)  NOT NULL DEFAULT '',
    openai_account_id         VARCHAR(255)  NOT NULL DEFAULT '',
    azure_openai_account_id   VARCHAR(255)  NOT NULL DEFAULT '',
    bedrock_account_id        VARCHAR(255)  NOT NULL DEFAULT '',
    droid_account_id          VARCHAR(255)  NOT NULL DEFAULT '',
    permissions               TEXT          NOT NULL,
    enable_model_restriction  TINYINT(1)    NOT NULL DEFAULT 0,
    restricted_models         TEXT          NOT NULL,
    enable_client_restriction TINYINT(1)    NOT NULL DEFAULT 0,
    allowed_clients           TEXT          NOT NULL,
    daily_cost_limit          DECIMAL(20,6) NOT NULL DEFAULT 0,
    total_cost_limit          DECIMAL(20,6) NOT NULL DEFAULT 0,
    weekly_opus_cost_limit    DECIMAL(20,6) NOT NULL DEFAULT 0,
    weekly_reset_day          TINYINT       NOT NULL DEFAULT 1,
    weekly_reset_hour         TINYINT       NOT NULL DEFAULT 0,
    tags                      TEXT          NOT NULL,
    activation_days           INT           NOT NULL DEFAULT 0,
    activation_unit           VARCHAR(16)   NOT NULL DEFAULT 'days',
    expiration_mode           VARCHAR(16)   NOT NULL DEFAULT 'fixed',
    is_activated              TINYINT(1)    NOT NULL DEFAULT 1,
    activated_at              DATETIME(3)   NULL,
    created_at                DATETIME(3)   NOT NULL,
    last_used_at              DATETIME(3)   NULL,
    expires_at                DATETIME(3)   NULL,
    created_by                VARCHAR(64)   NOT NULL DEFAULT 'admin',
    user_id                   VARCHAR(64)   NOT NULL DEFAULT '',
    user_username             VARCHAR(255)  NOT NULL DEFAULT '',
    icon                      MEDIUMTEXT    NOT NULL,
    service_rates             TEXT          NOT NULL,
    enable_openai_responses_codex_adaptation TINYINT(1) NOT NULL DEFAULT 1,
    enable_openai_responses_payload_rules    TINYINT(1) NOT NULL DEFAULT 0,
    openai_responses_payload_rules           MEDIUMTEXT NOT NULL,
    is_deleted                TINYINT(1)    NOT NULL DEFAULT 0,
    deleted_at                DATETIME(3)   NULL,
    deleted_by                VARCHAR(255)  NOT NULL DEFAULT '',
    deleted_by_type           VARCHAR(16)   NOT NULL DEFAULT '',
    restored_at               DATETIME(3)   NULL,
    restored_by               VARCHAR(255)  NOT NULL DEFAULT '',
    restored_by_type          VARCHAR(16)   NOT NULL DEFAULT '',
    extra                     MEDIUMTEXT    NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_api_keys_key_hash (key_hash),
    KEY ix_api_keys_deleted_created (is_deleted, created_at),
    KEY ix_api_keys_deleted_active_created (is_deleted, is_active, created_at),
    KEY ix_api_keys_user (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Tag filter for list(tag=...): one row per (tag, key); api_keys.tags keeps the ordered list.
CREATE TABLE IF NOT EXISTS api_key_tags (
    tag        VARCHAR(191) NOT NULL,
    api_key_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (tag, api_key_id),
    KEY ix_api_key_tags_key (api_key_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- ==== Usage and cost (issue 3) =================================================================
-- Every usage rollup upstream keeps as a Redis hash or cost string, in ONE table, one row per
-- (scope, owner, period, bucket, model):
--   scope 'k' = API key (usage:{id}, usage:{period}:{id}:*, usage:{id}:model:*, usage:cost:*),
--         'a' = account (account_usage:*);
--   period 'T' all time (bucket ''), 'M' month 'YYYY-MM', 'D' day 'YYYY-MM-DD', 'H' hour
--         'YYYY-MM-DD:HH' (upstream's bucket strings in TIMEZONE_OFFSET; fixed width, so they sort
--         in time order), 'O' weekly-Opus input (usage:opus:*): bucket '' = all time, else the hour;
--   model '' = all models, else the normalized model name (usage:{id}:model:{period}:{m}:*).
-- Why one table: record() moves 8 to 17 rollups with ONE multi-row INSERT ... ON DUPLICATE KEY
-- UPDATE (one statement, one commit, atomic), and the natural key is the PRIMARY KEY, so an
-- upsert takes only record locks (no gap locks from a secondary unique index). Rows are sent in
-- primary-key order, so concurrent writers lock in the same order and do not deadlock each other.
-- The PK order puts an owner's all-models row next to its per-model rows: totals() is a point
-- read, by_model() and account reports one short range. ix_usage_rollups_period_bucket serves
-- reports across owners (top keys by cost, usage by model per day); it changes only when a new
-- row is inserted, never on a counter update.
-- Weekly Opus cost is the sum of the 'O' hour rows of the 168-hour week, computed at read time,
-- so record() needs no per-key reset day. There are no global rows (usage:global:*, per-model
-- totals across keys): they would be one hot row every writer serializes on; reports sum instead.
-- model is VARBINARY (UTF-8 bytes): exact, NO PAD comparison, so "m" and "m " stay two models as
-- they are two Redis keys (the _bin collations pad); ids are ASCII without spaces (checked).
-- tokens and allTokens are not stored: they are input+output and input+output+cache at read time.
-- long_context_* are written to all-time and daily rows only, as upstream keeps them.
-- Money: DECIMAL(20,10) USD (exact sums of the per-request costs to 1e-10). Key- and account-level
-- rows (model '') add cost only when real_cost > 0, as upstream's cost keys; per-model rows add
-- each cost when it is > 0, as upstream's *CostMicro fields.
-- Scope 'g' holds upstream's rollups across keys (owner ''): usage:global:* (model ''), usage:model:*
-- (per model) and system:metrics:minute:* (period 'N', bucket = epoch minute). record() never
-- writes them; the migration copies them so a rollback restores them.
-- Redis bookkeeping, written by the migration (migrate/families/usage.py), NULL on rows only
-- record() wrote: one row holds up to three Redis keys - its hash (bit 1), the rated cost string
-- (bit 2: usage:cost:*, usage:opus:{weekly,total}) and the real cost string (bit 4); redis_keys is
-- that bitmask. *_expires_at: when each key expires in Redis (UTC; NULL: no TTL), so the rollback
-- re-arms the same TTLs. They are not row expiries: MySQL keeps usage rows after Redis drops them. hash_extra: JSON of the hash fields the counters cannot reproduce (fields
-- upstream wrote that this table has no column for, legacy spellings, absent derived fields);
-- cost_text/real_cost_text: the exact INCRBYFLOAT strings. Opus weekly keys are 'O' rows whose
-- bucket is the week's `YYYY-MM-DDTHH`, which sorts inside that week's hour range.
-- ON DUPLICATE KEY UPDATE uses VALUES(col): the one spelling both MariaDB and MySQL 8 accept
-- (MySQL 8.0.20+ warns it is deprecated; its row-alias replacement does not exist on MariaDB).
CREATE TABLE IF NOT EXISTS usage_rollups (
    scope                      CHAR(1)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    owner_id                   VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    period                     CHAR(1)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    bucket                     VARCHAR(13)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    model                      VARBINARY(255) NOT NULL,
    requests                   BIGINT        NOT NULL DEFAULT 0,
    input_tokens               BIGINT        NOT NULL DEFAULT 0,
    output_tokens              BIGINT        NOT NULL DEFAULT 0,
    cache_create_tokens        BIGINT        NOT NULL DEFAULT 0,
    cache_read_tokens          BIGINT        NOT NULL DEFAULT 0,
    ephemeral_5m_tokens        BIGINT        NOT NULL DEFAULT 0,
    ephemeral_1h_tokens        BIGINT        NOT NULL DEFAULT 0,
    long_context_input_tokens  BIGINT        NOT NULL DEFAULT 0,
    long_context_output_tokens BIGINT        NOT NULL DEFAULT 0,
    long_context_requests      BIGINT        NOT NULL DEFAULT 0,
    real_cost                  DECIMAL(20,10) NOT NULL DEFAULT 0,
    rated_cost                 DECIMAL(20,10) NOT NULL DEFAULT 0,
    redis_keys                 TINYINT UNSIGNED NULL,
    hash_extra                 TEXT          CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    hash_expires_at            DATETIME(3)   NULL,
    cost_text                  VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NULL,
    cost_expires_at            DATETIME(3)   NULL,
    real_cost_text             VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NULL,
    real_cost_expires_at       DATETIME(3)   NULL,
    PRIMARY KEY (scope, owner_id, period, bucket, model),
    KEY ix_usage_rollups_period_bucket (scope, period, bucket, model)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ==== Accounts, groups, users, sessions, webhooks, request details (issue 4) ====================

-- Accounts of every upstream platform family (claude:account:{id}, claude_console_account:{id},
-- openai:account:{id}, openai_responses_account:{id}, azure_openai:account:{id}, gemini_account:{id},
-- gemini_api_account:{id}, bedrock_account:{id} JSON string, droid:account:{id}, ccr_account:{id};
-- their *:index SETs and shared_*_accounts SETs are derived from these rows).
-- One shared table rather than one per family: the families differ only in fields nobody queries,
-- and the scheduler's question is the same for all of them. Typed columns hold what is filtered or
-- sorted on (platform, is_active, schedulable, status, priority, last/created times); `data` holds
-- every other upstream field as compact JSON exactly as upstream stores it - strings for the hash
-- families, JSON values for Bedrock - with the secret fields still ENCRYPTED in upstream's format
-- (hex(iv):hex(ciphertext), or Bedrock's {encrypted, iv}), so rows copy to and from Redis without
-- re-encryption and a database dump leaks no secret. Ids are unique per platform, as in Redis.
CREATE TABLE IF NOT EXISTS accounts (
    platform      VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    id            VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name          TEXT         NOT NULL,
    description   TEXT         NOT NULL,
    is_active     TINYINT(1)   NOT NULL DEFAULT 1,
    schedulable   TINYINT(1)   NOT NULL DEFAULT 1,
    status        VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT 'active',
    priority      INT          NOT NULL DEFAULT 50,
    account_type  VARCHAR(32)  NOT NULL DEFAULT 'shared',
    error_message TEXT         NOT NULL,
    created_at    DATETIME(3)  NULL,
    last_used_at  DATETIME(3)  NULL,
    data          MEDIUMTEXT   NOT NULL,
    PRIMARY KEY (platform, id),
    -- list_schedulable(): equality on the first three, rows already in the scheduler's order
    -- (priority, least recently used, oldest; InnoDB appends the primary key, so id too).
    KEY ix_accounts_schedule (platform, is_active, schedulable, priority, last_used_at, created_at),
    KEY ix_accounts_platform_created (platform, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Account groups (account_group:{id} hash and the account_groups SET); `extra` keeps upstream's
-- other group fields (proxy JSON, proxyPriority) verbatim as a JSON object of strings.
CREATE TABLE IF NOT EXISTS account_groups (
    id          VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name        TEXT         NOT NULL,
    platform    VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    description TEXT         NOT NULL,
    created_at  DATETIME(3)  NULL,
    updated_at  DATETIME(3)  NULL,
    extra       MEDIUMTEXT   NOT NULL,
    PRIMARY KEY (id),
    KEY ix_account_groups_platform_created (platform, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Group membership (account_group_members:{id} SETs). Upstream's reverse index
-- account_groups_reverse:{platform}:{accountId} is ix_account_group_members_account. No foreign
-- key to accounts: as upstream, a member is an account id only (a claude group also holds
-- claude-console accounts). The key to account_groups makes deleting a group with members fail.
CREATE TABLE IF NOT EXISTS account_group_members (
    group_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    account_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (group_id, account_id),
    KEY ix_account_group_members_account (account_id, group_id),
    CONSTRAINT fk_account_group_members_group FOREIGN KEY (group_id) REFERENCES account_groups (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---- issue 4 part B: users, sessions, admin credentials, request details ----------------------
-- Expiring rows (the families upstream keeps under a Redis TTL) carry `expires_at DATETIME(3)`:
-- every read keeps only `expires_at IS NULL OR expires_at > UTC_TIMESTAMP(3)` (the database's
-- clock, never a client's), and `relaystore db purge-expired` deletes the rest in batches through
-- the ix_<table>_expires index. relaystore/mysql/expiry.py lists every such (table, column).
-- Session tokens are the primary keys: upstream's keys are the raw tokens and a migration back to
-- Redis must rebuild them, so a token cannot be stored only as a hash. The trade-off: a dump of
-- these tables holds live bearer tokens, exactly like a dump of the relay's Redis; restrict it.
-- relaystore never logs a token or puts one in a repr() or an error message.

-- End users (user:{id} STRING JSON; username:{username} -> id is uq_users_username, exact and
-- case-sensitive like a Redis key). Typed columns for every field upstream writes; `extra` keeps
-- unknown keys verbatim. Optional strings are NULL when upstream's JSON omits them.
CREATE TABLE IF NOT EXISTS users (
    id            VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    username      VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    email         TEXT         NULL,
    display_name  TEXT         NULL,
    first_name    TEXT         NULL,
    last_name     TEXT         NULL,
    role          VARCHAR(64)  NOT NULL DEFAULT 'user',
    is_active     TINYINT(1)   NOT NULL DEFAULT 1,
    created_at    DATETIME(3)  NULL,
    updated_at    DATETIME(3)  NULL,
    last_login_at DATETIME(3)  NULL,
    deleted_at    DATETIME(3)  NULL,
    api_key_count INT          NOT NULL DEFAULT 0,
    total_usage   TEXT         NOT NULL,
    extra         MEDIUMTEXT   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_users_username (username),
    KEY ix_users_created (created_at, id),
    KEY ix_users_role_created (role, created_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- End-user web sessions (user_session:{token} STRING JSON, SETEX userSessionTimeout). `data` is
-- upstream's JSON value verbatim; user_id is copied out for delete_user_sessions(user_id).
CREATE TABLE IF NOT EXISTS user_sessions (
    token      VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id    VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    data       MEDIUMTEXT   NOT NULL,
    expires_at DATETIME(3)  NOT NULL,
    PRIMARY KEY (token),
    KEY ix_user_sessions_user (user_id),
    KEY ix_user_sessions_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Admin web sessions (session:{token} HASH username, loginTime, lastActivity; upstream's TTL is
-- its millisecond setting passed as seconds, ~1,000 days). `extra`: other hash fields, JSON.
CREATE TABLE IF NOT EXISTS admin_sessions (
    token         VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    username      VARCHAR(255) NOT NULL,
    login_time    DATETIME(3)  NULL,
    last_activity DATETIME(3)  NULL,
    extra         TEXT         NOT NULL,
    expires_at    DATETIME(3)  NOT NULL,
    PRIMARY KEY (token),
    KEY ix_admin_sessions_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The admin login (session:admin_credentials HASH, 86,400 s TTL, re-written by the relay from
-- data/init.json at startup). One row, id = 1. password_hash is a bcrypt hash, never a password.
-- expires_at NULL = no expiry (upstream's login path re-stores it without one).
CREATE TABLE IF NOT EXISTS admin_credentials (
    id            TINYINT UNSIGNED NOT NULL,
    username      VARCHAR(255) NOT NULL,
    password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at    DATETIME(3)  NULL,
    last_login    DATETIME(3)  NULL,
    updated_at    DATETIME(3)  NULL,
    extra         TEXT         NOT NULL,
    expires_at    DATETIME(3)  NULL,
    PRIMARY KEY (id),
    KEY ix_admin_credentials_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- OAuth flows in progress (oauth:{sessionId} HASH, 600 s). The fields differ per platform
-- (PKCE verifier/state, device codes, ...) and nothing queries them, so `data` is the hash as a
-- JSON object of strings, exactly as upstream stores it.
CREATE TABLE IF NOT EXISTS oauth_sessions (
    session_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    data       MEDIUMTEXT   NOT NULL,
    expires_at DATETIME(3)  NOT NULL,
    PRIMARY KEY (session_id),
    KEY ix_oauth_sessions_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Sticky sessions (sticky_session:{sessionHash} STRING accountId, SET EX stickyTtlHours*3600).
-- Scheduler hot path: one primary-key read. Binary collation: the hash is compared exactly.
CREATE TABLE IF NOT EXISTS sticky_sessions (
    session_hash VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    account_id   VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    expires_at   DATETIME(3)  NOT NULL,
    PRIMARY KEY (session_hash),
    KEY ix_sticky_sessions_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Captured request details (request_detail:item:{requestId} JSON with EX max(3600, retention*3600),
-- plus the request_detail:index:day:{UTC day} ZSET scored by timestamp ms). `data` is the JSON
-- verbatim; occurred_at is its timestamp, so ix_request_details_occurred serves list_day() as a
-- range on one UTC day, already in ZSET order (timestamp, then id), with no filesort.
CREATE TABLE IF NOT EXISTS request_details (
    request_id  VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    occurred_at DATETIME(3)  NOT NULL,
    data        MEDIUMTEXT   NOT NULL,
    expires_at  DATETIME(3)  NOT NULL,
    PRIMARY KEY (request_id),
    KEY ix_request_details_occurred (occurred_at, request_id),
    KEY ix_request_details_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Per-account side state, one row per upstream key: kind 'balance' = account_balance:{p}:{id}
-- HASH (3,600 s), 'balance_local' = account_balance_local:{p}:{id} HASH (300 s) - both stored as a
-- JSON object of the hash's strings -, 'balance_script' = account_balance_script:{p}:{id} JSON
-- (no TTL), 'last_test' = account:last_test:{p}:{id} ISO time (no TTL). One table: the four are
-- singletons per account, read by key only, and share the expiry column.
CREATE TABLE IF NOT EXISTS account_state (
    platform   VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    account_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind       VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    value      MEDIUMTEXT  NOT NULL,
    expires_at DATETIME(3) NULL,
    PRIMARY KEY (platform, account_id, kind),
    KEY ix_account_state_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Account test history (account:test_history:{platform}:{id} LIST, newest first, 5 kept, 30-day
-- TTL re-armed by each push): one row per kept result; the id orders them. A push inserts, trims
-- to the newest 5 and re-arms every row of the account, in one transaction, as LPUSH+LTRIM+EXPIRE.
CREATE TABLE IF NOT EXISTS account_test_results (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    platform   VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    account_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    result     MEDIUMTEXT  NOT NULL,
    expires_at DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_account_test_results_account (platform, account_id, id),
    KEY ix_account_test_results_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ==== Concurrency leases, queues, rate-limit windows (issue 5) ==================================
-- Ids are ASCII up to 191 chars (limit_rules.check_id): API key ids, console_account:{id}, request ids.
-- Expiry columns are compared with UTC_TIMESTAMP(3) on the server, never with a client's clock.

-- Upstream concurrency:{keyId} ZSETs, part 1: one row per lease key, the lock that serialises
-- acquire() for that key only (relaystore/mysql/leases.py). Rows are never deleted, so the row a
-- waiting acquirer queues on cannot vanish under it; there is one per key id ever leased.
CREATE TABLE IF NOT EXISTS lease_keys (
    key_id     VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (key_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Upstream concurrency:{keyId} ZSETs, part 2: one row per lease (member requestId, score expiry
-- ms). The primary key serves every query (all are per key_id); expired rows are deleted by the
-- next acquire() of the same key or by purge_expired(), and never counted meanwhile.
CREATE TABLE IF NOT EXISTS leases (
    key_id     VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    request_id VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    expires_at DATETIME(3)  NOT NULL,
    PRIMARY KEY (key_id, request_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Upstream concurrency:{keyId} ZSETs, part 3: the set's own PEXPIRE as a migration copied it
-- (9999-12-31 = none), so a rollback re-arms it exactly. Written only by `relaystore migrate`.
-- newest_lease is the latest lease expiry the copy saw: while it is still the key's latest, the
-- rollback uses expires_at; once leases changed on MySQL, the newest lease + 30 s grace.
CREATE TABLE IF NOT EXISTS lease_key_expiry (
    key_id       VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    expires_at   DATETIME(3)  NOT NULL,
    newest_lease DATETIME(3)  NOT NULL,
    PRIMARY KEY (key_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Upstream concurrency:queue:{keyId} STRING counters (INCR/DECR, TTL re-armed by each INCR):
-- expires_at stands for the TTL, an expired row reads as 0 and restarts at 1.
CREATE TABLE IF NOT EXISTS concurrency_queue_counts (
    key_id     VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    waiting    INT          NOT NULL,
    expires_at DATETIME(3)  NOT NULL,
    PRIMARY KEY (key_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Upstream concurrency:queue:stats:{keyId} HASHes: one column per field, 7-day TTL re-armed by each
-- write; an expired row reads as zeros and restarts from zero on the next write.
CREATE TABLE IF NOT EXISTS concurrency_queue_stats (
    key_id            VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    entered           BIGINT       NOT NULL DEFAULT 0,
    success           BIGINT       NOT NULL DEFAULT 0,
    timeout           BIGINT       NOT NULL DEFAULT 0,
    cancelled         BIGINT       NOT NULL DEFAULT 0,
    socket_changed    BIGINT       NOT NULL DEFAULT 0,
    rejected_overload BIGINT       NOT NULL DEFAULT 0,
    expires_at        DATETIME(3)  NOT NULL,
    PRIMARY KEY (key_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Upstream concurrency:queue:wait_times:{keyId|global} LISTs, part 1: one row per list with the
-- list's 1-day TTL (re-armed by each push). A push locks this row, so trimming to the newest
-- 500 (per key) / 2000 (global) samples never races another push to the same list.
CREATE TABLE IF NOT EXISTS concurrency_queue_wait_lists (
    list_id    VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    expires_at DATETIME(3)  NOT NULL,
    PRIMARY KEY (list_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Part 2: the samples; newest first is ORDER BY id DESC on ix_..._list (pushes to one list are
-- serialised by the list row lock, so id order is push order).
CREATE TABLE IF NOT EXISTS concurrency_queue_wait_times (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    list_id    VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    wait_ms    BIGINT       NOT NULL,
    PRIMARY KEY (id),
    KEY ix_concurrency_queue_wait_times_list (list_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Upstream rate_limit:{window_start,requests,tokens,cost}:{keyId} STRING keys, one row per key:
-- the four keys share one PX (the window) and so one expires_at. cost is DECIMAL (upstream:
-- INCRBYFLOAT double), added exactly. check_and_increment() locks the row for its one batch.
CREATE TABLE IF NOT EXISTS rate_limit_windows (
    key_id       VARCHAR(191)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    window_start DATETIME(3)    NOT NULL,
    expires_at   DATETIME(3)    NOT NULL,
    requests     BIGINT         NOT NULL DEFAULT 0,
    tokens       BIGINT         NOT NULL DEFAULT 0,
    cost         DECIMAL(24,10) NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ==== Migration bookkeeping (issue 6) ===========================================================
-- One row per upstream Redis key that `relaystore migrate` or a dual-mode write copied into MySQL:
-- the sequence number (Redis INCR of relaystore:migration:seq, taken atomically with the read of the
-- key's value) of the newest copy. A copy holding an older number than the stored one is dropped,
-- so concurrent copies of one key (bulk copy, catch-up, dual writes) end with the value Redis had
-- last: no increment is lost and no record goes back in time (MYSQL_MIGRATION.md, "Cutover").
-- key_digest = SHA-1 of the key name: names can exceed an index's length limit. Safe to truncate once
-- the cutover is over and nothing copies from Redis any more.
CREATE TABLE IF NOT EXISTS migration_sync (
    key_digest BINARY(20)      NOT NULL,
    family     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    seq        BIGINT UNSIGNED NOT NULL,
    copied_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (key_digest)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ==== Version stamp: keep last ==================================================================
INSERT IGNORE INTO schema_version (version, description) VALUES (1, 'initial relaystore schema');
