"""Idempotency keys of the prediction log on a real SQLite file: the key is bound to its
request, a retry gets the stored response, concurrent duplicates log once (one group commit,
and two stores racing), an existing database keeps working, retention prunes the keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from obesity_risk.monitoring.idempotency import fingerprint
from obesity_risk.monitoring.schedule import prune_predictions
from obesity_risk.monitoring.store import PredictionStore
from obesity_risk.monitoring.tables import FEEDBACK, IDEMPOTENCY_KEYS, PREDICTIONS
from tests.helpers.idempotency_checks import (
    ROW,
    assert_duplicates_log_once,
    assert_retry_gets_the_stored_response,
    keyed,
    keys_logged,
    sqlite_hold,
)
from tests.helpers.settings import quiet_settings


def test_the_fingerprint_binds_route_explain_and_records() -> None:
    record = {"Age": 20.0, "Gender": "Male"}
    base = fingerprint("/predict", False, [record])
    assert fingerprint("/predict", False, [{"Gender": "Male", "Age": 20.0}]) == base
    assert (
        len(
            {
                base,
                fingerprint("/predict/batch", False, [record]),
                fingerprint("/predict", True, [record]),
                fingerprint("/predict", False, [{**record, "Age": 21.0}]),
                fingerprint("/predict", False, [record, record]),
            }
        )
        == 5
    )


def test_a_retry_gets_the_stored_response_and_another_body_a_conflict(tmp_path: Path) -> None:
    assert_retry_gets_the_stored_response(f"sqlite:///{tmp_path}/p.db")


@pytest.mark.parametrize("stores", [1, 2])
def test_concurrent_duplicates_log_once(tmp_path: Path, stores: int) -> None:
    path = f"{tmp_path}/p.db"
    assert_duplicates_log_once(f"sqlite:///{path}", lambda: sqlite_hold(path), stores)


def test_a_database_with_the_old_keys_table_keeps_working(tmp_path: Path) -> None:
    """A log created before keys were bound to requests: ``prediction_requests`` (key and
    request id only) stays as it was; the new table is added beside it."""
    url = f"sqlite:///{tmp_path}/p.db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        PREDICTIONS.create(conn)
        FEEDBACK.create(conn)
        conn.exec_driver_sql(
            "CREATE TABLE prediction_requests (idempotency_key VARCHAR(128) PRIMARY KEY,"
            " request_id VARCHAR(64) NOT NULL, created_at DATETIME NOT NULL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO prediction_requests VALUES ('old', 'r-old', '2025-01-01')"
        )
    store = PredictionStore(url)
    try:
        assert store.write("r-old", "1", *ROW) is None
        once = keyed("new", "r-new")
        assert store.write("r-new", "1", *ROW, once) is None
        assert store.write("r-again", "1", *ROW, keyed("new", "r-again")) == once.response
        assert list(store.read()["request_id"]) == ["r-old", "r-new"]
    finally:
        store.close()
    with engine.connect() as conn:
        old = conn.exec_driver_sql("SELECT * FROM prediction_requests").all()
    engine.dispose()
    assert [tuple(row) for row in old] == [("old", "r-old", "2025-01-01")]


def test_retention_prunes_old_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/p.db"
    store = PredictionStore(url)
    try:
        for name in ("aged", "recent"):
            assert store.write(name, "1", *ROW, keyed(name, name)) is None
        with store.engine.begin() as conn:
            aged = datetime.now(UTC) - timedelta(days=10)
            for table in (PREDICTIONS, IDEMPOTENCY_KEYS):
                conn.execute(
                    sa.update(table).where(table.c.request_id == "aged").values(created_at=aged)
                )
        settings = quiet_settings(serving={"prediction_store": url})
        assert prune_predictions(settings, timedelta(days=5)) == 1
        assert keys_logged(store) == 1
        # the pruned key is free again: a new request with it is logged afresh
        assert store.write("later", "1", *ROW, keyed("aged", "later")) is None
        assert store.write("retry", "1", *ROW, keyed("recent", "retry")) is not None
    finally:
        store.close()


def test_the_check_before_scoring_answers_retries_and_steps_aside_when_the_log_fails(
    tmp_path: Path,
) -> None:
    """``stored_answer``: the stored response for the same request, a conflict for another,
    None for a new key, and None (the write decides) when the log cannot be read at all:
    no tables yet, or a file that is not a database."""
    from obesity_risk.monitoring.idempotency import IdempotencyConflictError, stored_answer

    url = f"sqlite:///{tmp_path}/p.db"
    store = PredictionStore(url)
    try:
        assert store.wait_connected(10)
        once = keyed("k-1", "req-1")
        assert store.write("req-1", "7", *ROW, once) is None
        assert stored_answer(store.engine, "k-1", once.fingerprint) == once.response
        with pytest.raises(IdempotencyConflictError):
            stored_answer(store.engine, "k-1", "another request")
        assert stored_answer(store.engine, "k-2", once.fingerprint) is None
    finally:
        store.close()
    empty = sa.create_engine(f"sqlite:///{tmp_path}/empty.db")  # no tables: the write creates them
    assert stored_answer(empty, "k-1", "fp") is None
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    assert stored_answer(sa.create_engine(f"sqlite:///{garbage}"), "k-1", "fp") is None
