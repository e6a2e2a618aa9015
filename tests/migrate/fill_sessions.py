"""fill(store, n): about n session keys through the Redis sessions and admin DAOs: user and admin web
sessions, OAuth flows, sticky mappings, and the admin credentials hash."""
from __future__ import annotations

import random

from relaystore.store import Store

BCRYPT = "$2b$10$" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"


def fill(store: Store, n: int, *, seed: int = 7) -> int:
    """Returns how many Redis keys it created (tokens are derived from the seed, so reruns repeat)."""
    rng = random.Random(seed)
    dao = store.sessions
    count = max(1, n // 4)
    for i in range(count):
        dao.create_user_session(f"{seed:04x}{i % 50:028x}", token=f"{seed:08x}{i:056x}",
                                ttl_seconds=rng.choice([900, 3600, 86_400, 7 * 86_400]),
                                data=rng.choice([None, {}, {"ip": "10.0.0.1", "ua": "Mozilla/5.0 ü"},
                                                 {"nested": {"x": [1, 2.5, None, True]}}]))
    for i in range(count):
        dao.create_admin_session(rng.choice(["admin", "ädmin", "root 🔧"]), token=f"a{seed:07x}{i:056x}",
                                 ttl_seconds=rng.choice([86_400_000, 3600, 1200]),
                                 extra=rng.choice([None, {"ip": "::1"}, {"flags": {"mfa": True}, "empty": ""}]))
    for i in range(count // 4):
        dao.create_oauth_session(code_verifier=f"v{i}", state=f"s{i}", code_challenge=f"c{i}",
                                 proxy=rng.choice([None, {"type": "socks5", "host": "127.0.0.1", "port": 1080}]),
                                 platform=rng.choice(["", "claude", "gemini"]), session_id=f"{seed:08x}-oauth-{i}",
                                 ttl_seconds=600, **rng.choice([{}, {"deviceCode": "DEV-1", "interval": 5}]))
    sticky = n - 3 * count - count // 4 - 1
    for i in range(max(1, sticky)):
        dao.set_sticky(rng.choice([f"{seed:08x}{i:056x}", f"会话 {seed} {i}", f"h:{seed}:{i}"]),
                       rng.choice(["acct-1", "账户-2", f"{i:032x}"]), ttl_seconds=rng.choice([3600, 7200, 900]))
    store.admin.set_credentials("admin", BCRYPT, extra={"note": "init.json"},
                                ttl_seconds=None if seed % 2 else 86_400)
    return 2 * count + count // 4 + max(1, sticky) + 1
