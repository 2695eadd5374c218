"""The prediction log under faults, on a real SQLite file: a locked (hanging) database, a full
queue, a bad row among good ones, the durability setting (idempotency keys:
``test_idempotency.py``)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from obesity_risk.config.sections import StoreConfig
from obesity_risk.errors import StoreError
from obesity_risk.monitoring.store import PredictionStore, StoreBusyError

ROW = ([{"Age": 20.0}], ["Normal_Weight"], [{"Normal_Weight": 1.0}])


def test_a_bad_request_fails_alone_in_its_group_commit(tmp_path: Path) -> None:
    store = PredictionStore(f"sqlite:///{tmp_path}/p.db")
    outcomes: dict[str, str] = {}

    def write(name: str, label: str | None) -> None:
        try:
            store.write(name, "1", [{"Age": 1.0}], [label], [{"x": 1.0}])
            outcomes[name] = "ok"
        except StoreError as exc:
            outcomes[name] = str(exc)

    try:
        # hold the writer on a lock so that all requests land in one group
        blocker = sqlite3.connect(f"{tmp_path}/p.db")
        blocker.execute("BEGIN EXCLUSIVE")
        threads = [
            threading.Thread(target=write, args=(f"r{i}", None if i == 3 else "Normal_Weight"))
            for i in range(8)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        blocker.rollback()
        blocker.close()
        for thread in threads:
            thread.join(15)
        assert outcomes.pop("r3").startswith("prediction store failed")  # NOT NULL label
        assert set(outcomes.values()) == {"ok"}
        assert set(store.read()["request_id"]) == {f"r{i}" for i in range(8)} - {"r3"}
    finally:
        store.close()


def test_locked_database_times_out_and_reports_unhealthy_then_recovers(tmp_path: Path) -> None:
    config = StoreConfig(commit_timeout_s=1.0, statement_timeout_s=30, queue_max=2)
    store = PredictionStore(f"sqlite:///{tmp_path}/p.db", config)
    try:
        assert store.wait_connected(5)
        blocker = sqlite3.connect(f"{tmp_path}/p.db")
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match="did not commit within 1 s"):
            store.write("hung", "1", *ROW)
        time.sleep(0.2)
        assert "not answering" in (store.health() or "")
        # the hung request and one more fill the queue: the next is refused at once
        threading.Thread(target=lambda: _quiet(store.write, "q1", "1", *ROW)).start()
        threading.Thread(target=lambda: _quiet(store.write, "q2", "1", *ROW)).start()
        time.sleep(0.3)
        started = time.monotonic()
        with pytest.raises(StoreBusyError, match="queue full"):
            store.write("busy", "1", *ROW)
        assert time.monotonic() - started < 0.5
        blocker.rollback()
        blocker.close()
        deadline = time.monotonic() + 10
        while store.health() is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.health() is None
        assert store.write("after", "1", *ROW) is None
        # the timed-out request was not acknowledged, but it was committed once released
        assert "hung" in set(store.read()["request_id"])
    finally:
        store.close()


def _quiet(fn, *args) -> None:
    with contextlib.suppress(StoreError):
        fn(*args)


@pytest.mark.parametrize(("mode", "expected"), [("normal", 1), ("full", 2)])
def test_durability_follows_the_config(tmp_path: Path, mode: str, expected: int) -> None:
    store = PredictionStore(f"sqlite:///{tmp_path}/p.db", StoreConfig(synchronous=mode))
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == expected
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    finally:
        store.close()


def test_unreachable_database_is_unhealthy_not_fatal(tmp_path: Path) -> None:
    store = PredictionStore(
        "postgresql://nobody@127.0.0.1:9/none", StoreConfig(connect_timeout_s=1)
    )
    try:
        assert not store.wait_connected(5)
        assert "unavailable" in (store.health() or "")
        with pytest.raises(StoreError, match="prediction store failed"):
            store.write("x", "1", *ROW)
    finally:
        store.close()
