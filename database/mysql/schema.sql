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

-- ==== Concurrency leases, queues, rate-limit windows (issue 5) ==================================

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
