# The relaystore CLI in a container. docker-compose.yml's one-shot `init` service runs
# scripts/db_init.sh with it; `docker compose run --rm init relaystore db check` works too.
# Only what the package needs is copied: never .env (settings come from the environment).
FROM python:3.12-slim

WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY relaystore/ relaystore/
COPY database/ database/
COPY scripts/ scripts/
RUN pip install --no-cache-dir .

# `relaystore db init` reads schema.sql and seed.sql from here when run from the installed package.
ENV RELAYSTORE_SQL_DIR=/app/database/mysql
CMD ["relaystore", "db", "check"]
