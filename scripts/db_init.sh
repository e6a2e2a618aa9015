#!/usr/bin/env bash
# Create the MySQL database if missing, apply database/mysql/schema.sql and seed.sql.
# Reads the same settings as relaystore (environment, then ./.env). Safe to run any number of
# times: a second run changes nothing and says "nothing to do". Extra arguments go to
# `relaystore db init` (e.g. --app-user relay, password from MYSQL_APP_PASSWORD).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
exec "$PYTHON" -m relaystore db init "$@"
