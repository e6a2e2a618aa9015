#!/usr/bin/env bash
# Run the test suite against the real local MariaDB and Redis (started if they are down).
# Arguments go to pytest. "No tests ran" (pytest exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
bash scripts/start_servers.sh >/dev/null || { echo "could not start MariaDB/Redis" >&2; exit 1; }
"$PYTHON" -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit "$status"
