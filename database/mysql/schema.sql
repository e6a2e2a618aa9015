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

-- ==== Version stamp: keep last ==================================================================
INSERT IGNORE INTO schema_version (version, description) VALUES (1, 'initial relaystore schema');
