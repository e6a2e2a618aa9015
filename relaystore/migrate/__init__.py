"""Migration tooling: Redis (upstream layout) -> MySQL, verification, logical backups, MySQL -> Redis rollback.

Layout:
- family.py        the Family adapter contract: which Redis keys a family owns, how one decodes,
                   how its records are written to / read from MySQL and written back to Redis.
- families/        the registry (families/__init__.py) and one adapter module per family.
- redis_reader.py  SCAN by pattern + TYPE + key regex; pipelined fetch of values and PTTLs.
- mysql_writer.py  per-batch transactions, the copy-sequence guard, column limit checks.
- sync.py          the one copy routine (bulk copy, catch-up, dual-mode writes all use it).
- run.py           `migrate redis-to-mysql`: scan -> decode/validate -> write, progress, log, summary.
- verify.py        `verify`: counts and every field of every record, both directions.
- backup.py        `export` / `import`: logical JSON-lines backups of a Redis keyspace or MySQL data.
- rollback.py      `migrate mysql-to-redis`: upstream layout back from MySQL.
"""
