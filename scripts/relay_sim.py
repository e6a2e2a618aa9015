"""A stand-in relay for rehearsing the cutover (MYSQL_MIGRATION.md, section 6) before doing it for real.

For SECONDS seconds it does what a relay does on every request, through relaystore's DAOs with the
backend the environment selects (DATABASE_TYPE=dual during a rehearsal): authenticate an API key it
created, count the request's usage, and now and then create another key. At the end it prints how
many requests it counted, so the MySQL totals can be checked against its own count:

    DATABASE_TYPE=dual DUAL_READ_FROM=redis python scripts/relay_sim.py 30 &

Run it against a rehearsal copy of the keyspace, never the production one: it writes real records
(keys named "relay sim ..."), which `--cleanup` purges again at the end.
"""
from __future__ import annotations

import argparse
import random
import sys
import time

from relaystore import open_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", type=float, help="how long to keep writing")
    parser.add_argument("--keys", type=int, default=5, help="API keys to create first (default 5)")
    parser.add_argument("--env-file", default=".env", help="settings file read under the environment")
    parser.add_argument("--cleanup", action="store_true", help="purge the keys it created at the end")
    args = parser.parse_args(argv)
    rng = random.Random(1)
    with open_store(env_file=args.env_file) as store:
        made = [store.api_keys.create(f"relay sim {i}") for i in range(args.keys)]
        requests = tokens = 0
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            key, raw = rng.choice(made)
            if not store.api_keys.authenticate(raw).ok:
                print(f"relay sim: key {key.id} did not authenticate", file=sys.stderr)
                return 1
            n = rng.randint(1, 500)
            store.usage.record(key.id, model="claude-sonnet-4-20250514", input_tokens=n, output_tokens=n // 2)
            requests += 1
            tokens += n
            if requests % 200 == 0:
                made.append(store.api_keys.create(f"relay sim {len(made)}"))
        if args.cleanup:
            for key, _ in made:
                store.api_keys.delete(key.id)
                store.api_keys.purge(key.id)
        print(f"relay sim: {requests} requests, {tokens} input tokens, {len(made)} keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
