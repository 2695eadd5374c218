"""SQLite WAL checkpoints run in their own thread, never inside a commit: the log's connections
have automatic checkpoints off, and the checkpointer moves every committed frame into the
database while writes go on."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

from obesity_risk.config.sections import StoreConfig
from obesity_risk.monitoring.store import PredictionStore


def _write(store: PredictionStore, n: int) -> None:
    for i in range(n):
        store.write(uuid.uuid4().hex, "1", [{"x": float(i), "pad": "y" * 200}], ["a"], [{"a": 1.0}])


def test_the_checkpointer_moves_the_wal_into_the_database(tmp_path: Path) -> None:
    database = tmp_path / "log.db"
    store = PredictionStore(f"sqlite:///{database}", StoreConfig(checkpoint_s=0.1))
    try:
        with store.engine.connect() as conn:  # a connection of the log: no inline checkpoints
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        _write(store, 300)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait for a pass after the last commit
            last = store.checkpointer.last if store.checkpointer else None
            if last is not None and last[1] > 0 and last[1] == last[2]:
                break
            time.sleep(0.05)
        assert store.checkpointer is not None and store.checkpointer.runs >= 1
        busy, frames, moved = store.checkpointer.last
        assert busy == 0 and frames > 0 and moved == frames  # every frame checkpointed
    finally:
        store.close()
    with sqlite3.connect(database) as direct:  # committed rows are all there
        assert direct.execute("SELECT count(*) FROM predictions").fetchone() == (300,)


def test_zero_keeps_sqlites_automatic_checkpoints(tmp_path: Path) -> None:
    store = PredictionStore(f"sqlite:///{tmp_path}/log.db", StoreConfig(checkpoint_s=0))
    try:
        assert store.checkpointer is None
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        store.close()
