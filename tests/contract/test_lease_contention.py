"""Leases under contention: 16 threads x 500, then 4 processes x 500 acquire/release cycles at limit=5.

The test keeps its own count of holders: +1 after a successful acquire, -1 before the release, so
its count is never above the true number of leases held; a maximum above the limit is a violation.
"""
from __future__ import annotations

import multiprocessing
import random
import threading
import uuid

from relaystore.config import Settings
from relaystore.store import Store

LIMIT = 5
CYCLES = 500
KEY = "contended-key"
THREADS_PER_PROCESS = 4


def _cycles(store: Store, key: str, n: int, enter, leave, seed: int) -> tuple[int, int]:
    """n acquire/release cycles; returns (acquired, refused). enter()/leave() do the bookkeeping."""
    rng = random.Random(seed)
    acquired = refused = 0
    for _ in range(n):
        request_id = str(uuid.uuid4())
        if store.leases.acquire(key, request_id, limit=LIMIT, ttl_seconds=30):
            acquired += 1
            enter()
            if rng.random() < 0.5:
                threading.Event().wait(rng.random() * 0.001)  # hold it a little so holders overlap
            leave()
            assert store.leases.release(key, request_id) is True
        else:
            refused += 1
    return acquired, refused


def test_threads_never_hold_more_than_the_limit(store):
    lock = threading.Lock()
    state = {"held": 0, "max": 0}
    outcomes: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def enter():
        with lock:
            state["held"] += 1
            state["max"] = max(state["max"], state["held"])

    def leave():
        with lock:
            state["held"] -= 1

    def worker(seed: int) -> None:
        try:
            outcomes.append(_cycles(store, KEY, CYCLES, enter, leave, seed))
        except BaseException as exc:  # collected and asserted empty below
            errors.append(exc)

    observed: list[int] = []
    stop = threading.Event()

    def watcher() -> None:  # the backend's own count, sampled while the workers run
        while not stop.wait(0.002):
            observed.append(store.leases.count(KEY))

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(16)]
    watch = threading.Thread(target=watcher)
    watch.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watch.join()

    assert errors == []
    assert len(outcomes) == 16
    assert sum(a + r for a, r in outcomes) == 16 * CYCLES  # every acquire succeeded or was refused
    assert state["max"] <= LIMIT
    assert state["held"] == 0
    assert max(observed) <= LIMIT
    assert sum(a for a, _ in outcomes) >= CYCLES  # the key was not simply refusing everyone
    assert store.leases.count(KEY) == 0


def _process_worker(settings: Settings, seed: int, held, peak, results) -> None:
    """One process with its own store and pool, running THREADS_PER_PROCESS clients of CYCLES total.

    Single-threaded processes could hold at most 4 leases between them, under the limit of 5, and
    would prove nothing; 4 x 4 clients in separate processes can overrun it if acquire is not atomic.
    Bookkeeping lives in shared memory, under the Value's lock.
    """
    store = Store(settings)
    outcomes: list[tuple[int, int]] = []
    errors: list[str] = []

    def enter():
        with held.get_lock():
            held.value += 1
            peak.value = max(peak.value, held.value)

    def leave():
        with held.get_lock():
            held.value -= 1

    def client(n: int) -> None:
        try:
            outcomes.append(_cycles(store, KEY, CYCLES // THREADS_PER_PROCESS, enter, leave, seed * 100 + n))
        except BaseException as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS_PER_PROCESS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    if errors:
        results.put(errors[0])
    else:
        results.put((sum(a for a, _ in outcomes), sum(r for _, r in outcomes)))


def test_processes_never_hold_more_than_the_limit(store):
    ctx = multiprocessing.get_context("spawn")
    held = ctx.Value("i", 0)
    peak = ctx.Value("i", 0, lock=False)  # only written under held's lock
    results = ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(store.settings, seed, held, peak, results))
             for seed in range(4)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)

    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert sum(a + r for a, r in outcomes) == 4 * CYCLES  # every acquire succeeded or was refused
    assert sum(a for a, _ in outcomes) >= CYCLES // 4  # the key was not simply refusing everyone
    assert peak.value <= LIMIT
    assert held.value == 0
    assert all(p.exitcode == 0 for p in procs)
    assert store.leases.count(KEY) == 0


def test_contention_on_many_keys_raises_no_deadlock(store):
    """Acquirers of different keys share no lock, and a key's acquirers queue on one row: no errors."""
    errors: list[BaseException] = []
    keys = [f"key-{i}" for i in range(4)]

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(100):
                key, request_id = rng.choice(keys), str(uuid.uuid4())
                if store.leases.acquire(key, request_id, limit=2, ttl_seconds=30):
                    store.leases.refresh(key, request_id, ttl_seconds=30)
                    assert store.leases.release(key, request_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [store.leases.count(k) for k in keys] == [0, 0, 0, 0]
