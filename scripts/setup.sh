#!/usr/bin/env bash
# One command for a new user on a Debian machine: install and start MariaDB and Redis if missing,
# install relaystore into .venv, write .env if there is none, run scripts/db_init.sh, then run the
# demo (create an API key, authenticate it, remove it) on both backends. Pass --no-demo to skip it.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

fresh_mariadb=0
need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || { need+=(mariadb-server); fresh_mariadb=1; }
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

as_root bash scripts/start_servers.sh

if [ "$fresh_mariadb" = 1 ]; then
  # Debian's root uses socket auth; this development setup lets root in over TCP with the empty
  # password the tests and .env.example use. Do not do this on a production server.
  as_root mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')"
fi

if [ ! -x .venv/bin/python ]; then
  echo "creating .venv"
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
echo "installed relaystore into .venv"

if [ ! -f .env ]; then
  key=$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(16))')
  sed "s/^ENCRYPTION_KEY=.*/ENCRYPTION_KEY=${key}/" .env.example > .env
  echo "wrote .env from .env.example with a new random ENCRYPTION_KEY (use your relay's key to share its data)"
fi

bash scripts/db_init.sh

if [ "${1:-}" != "--no-demo" ]; then
  .venv/bin/relaystore --backend mysql demo
  .venv/bin/relaystore --backend redis demo
fi
