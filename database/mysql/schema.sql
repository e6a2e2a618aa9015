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
    PRIMARY KEY (scope, owner_id, period, bucket, model),
    KEY ix_usage_rollups_period_bucket (scope, period, bucket, model)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ==== Accounts, groups, users, sessions, webhooks, request details (issue 4) ====================

-- ==== Concurrency leases, queues, rate-limit windows (issue 5) ==================================

-- ==== Migration bookkeeping (issue 6) ===========================================================

-- ==== Version stamp: keep last ==================================================================
INSERT IGNORE INTO schema_version (version, description) VALUES (1, 'initial relaystore schema');
