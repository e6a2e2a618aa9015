-- Default records the relay expects to find. Deterministic and re-runnable: a second run
-- changes no row (ON DUPLICATE KEY UPDATE keeps the operator's value).
--
-- apikey:index:version = 2 tells the upstream relay its API-key indexes are built; a rollback
-- (migrate mysql-to-redis) writes these markers back so the relay does not rebuild at startup.
INSERT INTO system_settings (name, value) VALUES
    ('apikey:index:version', '2'),
    ('account_groups_reverse:migrated', 'true')
ON DUPLICATE KEY UPDATE name = name;
