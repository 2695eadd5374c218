"""Concurrent duplicates of one Idempotency-Key against the real store, run on every database
the log supports (SQLite in the unit suite, PostgreSQL in the integration suite)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

import orjson
import sqlalchemy as sa

from obesity_risk.monitoring.store import IdempotencyConflictError, Idempotent, PredictionStore
from obesity_risk.monitoring.tables import IDEMPOTENCY_KEYS

ROW = ([{"Age": 20.0}], ["Normal_Weight"], [{"Normal_Weight": 1.0}])
Hold = Callable[[], AbstractContextManager[None]]


def keyed(key: str, request_id: str, fingerprint: str = "fp-1") -> Idempotent:
    """What the API stores for a keyed request: its fingerprint and its response."""
    return Idempotent(key, fingerprint, orjson.dumps({"request_id": request_id}))


def answered(store: PredictionStore, request_id: str, once: Idempotent) -> str:
    """The request id the client is told (its own, or the original's for a retry), or
    ``conflict``."""
    try:
        replay = store.write(request_id, "1", *ROW, once)
    except IdempotencyConflictError:
        return "conflict"
    return orjson.loads(replay or once.response)["request_id"]


@contextlib.contextmanager
def sqlite_hold(path: str) -> Iterator[None]:
    """Another connection holds SQLite's write lock: writers wait, readers read (WAL)."""
    import sqlite3

    blocker = sqlite3.connect(path)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        blocker.rollback()
        blocker.close()


@contextlib.contextmanager
def postgres_hold(url: str) -> Iterator[None]:
    """A transaction locks the log's tables against writes (SELECT still runs)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("LOCK TABLE predictions, idempotency_keys IN EXCLUSIVE MODE")
            yield
    finally:
        engine.dispose()


def keys_logged(store: PredictionStore) -> int:
    """Rows of ``idempotency_keys``."""
    with store.engine.connect() as conn:
        count = sa.select(sa.func.count()).select_from(IDEMPOTENCY_KEYS)
        return int(conn.execute(count).scalar_one())


def _usable(store: PredictionStore, timeout: float) -> bool:
    """The store's writer is connected and healthy. Stores opened together on a new database
    may race to create its tables: the loser's first probe fails and its next one (a second
    later) succeeds, as the store is designed to; wait for that instead of the first probe."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.wait_connected(0.2) and store.health() is None:
            return True
        time.sleep(0.1)
    return False


def assert_duplicates_log_once(url: str, hold: Hold, stores: int, requests: int = 16) -> None:
    """``requests`` writes with one key while the database refuses writes (``hold``), spread
    over ``stores`` stores (API workers) on ``url``, plus one with the key and another body.

    One store: a first, unkeyed write holds the writer, so all duplicates meet in one group
    commit. Two stores: each writer looks the key up (absent), then both insert it once the
    hold ends: the primary key lets one win, the other answers from the winner's row.
    """
    opened = [PredictionStore(url) for _ in range(stores)]
    pool = ThreadPoolExecutor(requests + 2)
    try:
        assert all(_usable(store, 10) for store in opened)
        with hold():
            plug = pool.submit(opened[0].write, "plug", "1", *ROW) if stores == 1 else None
            time.sleep(0.2)
            same = [
                pool.submit(answered, opened[i % stores], f"r{i}", keyed("k", f"r{i}"))
                for i in range(requests)
            ]
            time.sleep(0.3)  # every duplicate is queued before the odd one
            other = pool.submit(answered, opened[0], "other", keyed("k", "other", "fp-2"))
            time.sleep(0.5)
            assert not any(f.done() for f in [*same, other]), "nothing may commit during the hold"
        answers = [f.result(timeout=30) for f in same]
        assert other.result(timeout=30) == "conflict"
        if plug is not None:
            assert plug.result(timeout=30) is None
        assert len(set(answers)) == 1 and answers[0].startswith("r"), answers
        logged = opened[0].read()["request_id"].value_counts().to_dict()
        assert logged == {answers[0]: 1, **({"plug": 1} if stores == 1 else {})}, logged
        assert keys_logged(opened[0]) == 1
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        for store in opened:
            store.close()


def assert_retry_gets_the_stored_response(url: str) -> None:
    """A retry answers with the stored response bytes, across a fresh store (a restart)."""
    first = PredictionStore(url)
    try:
        once = keyed("retry", "a")
        assert first.write("a", "1", *ROW, once) is None
    finally:
        first.close()
    second = PredictionStore(url)
    try:
        assert second.write("b", "2", *ROW, keyed("retry", "b")) == once.response
        assert answered(second, "c", keyed("retry", "c", "fp-other")) == "conflict"
        assert list(second.read()["request_id"]) == ["a"]
    finally:
        second.close()
