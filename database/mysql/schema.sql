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


-- ==== Concurrency leases, queues, rate-limit windows (issue 5) ==================================

-- ==== Migration bookkeeping (issue 6) ===========================================================

-- ==== Version stamp: keep last ==================================================================
INSERT IGNORE INTO schema_version (version, description) VALUES (1, 'initial relaystore schema');
