#!/usr/bin/env bash
# Start MariaDB and Redis on 127.0.0.1 if they are not already answering; wait until they do.
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! up 6379; then
  echo "starting Redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! up 3306; then
  echo "starting MariaDB on 127.0.0.1:3306"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
for _ in $(seq 1 60); do
  if up 6379 && up 3306; then echo "servers up: MariaDB 127.0.0.1:3306, Redis 127.0.0.1:6379"; exit 0; fi
  sleep 1
done
up 6379 || echo "Redis did not come up on 127.0.0.1:6379 (see /var/log/redis/ci.log)" >&2
up 3306 || echo "MariaDB did not come up on 127.0.0.1:3306 (see its error log)" >&2
exit 1
