"""Unattended monitoring and retention on real stores: a tick over an empty window is skipped, a
failing tick is recorded and the next one runs, the schedule does not drift, old predictions are
pruned beside concurrent writers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from obesity_risk.config import load_settings
from obesity_risk.data import load_dataset
from obesity_risk.errors import ConfigError
from obesity_risk.monitoring.schedule import parse_duration, prune_predictions, run_every
from obesity_risk.monitoring.store import PredictionStore
from obesity_risk.monitoring.tables import PREDICTIONS
from obesity_risk.registry.publish import export_local
from obesity_risk.training.evaluation import reference_frame
from tests.helpers.cli import cli, tmp_env
from tests.helpers.models import make_card
from tests.helpers.paths import TRAIN_CSV, UCI_CSV, isolated_paths

pytestmark = pytest.mark.slow


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("1h") == timedelta(hours=1) and parse_duration("7d").days == 7
    assert parse_duration("2.5") == timedelta(seconds=2.5)
    for bad in ("", "0s", "-1h", "1w", "soon"):
        with pytest.raises(ConfigError, match="not a positive duration"):
            parse_duration(bad)


def settings_for(tmp: Path, store: str, **extra):
    return load_settings(
        paths=isolated_paths(tmp),
        logging={"file": False},
        serving={"model_source": "local", "prediction_store": store},
        **extra,
    )


def log_rows(store: PredictionStore, records: list[dict], at: datetime | None = None) -> None:
    probabilities = [{"Normal_Weight": 1.0}] * len(records)
    store.write(uuid.uuid4().hex, "4", records, ["Normal_Weight"] * len(records), probabilities)
    if at is not None:  # backdate what was just written
        with store.engine.begin() as conn:
            conn.execute(
                sa.update(PREDICTIONS).where(PREDICTIONS.c.created_at > at).values(created_at=at)
            )


def test_empty_window_tick_is_skipped_and_the_next_tick_reports(
    tmp_path: Path, small_pipeline
) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    settings = settings_for(tmp_path, url)
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    train = load_dataset(TRAIN_CSV, settings.data)
    reference = reference_frame(
        small_pipeline, train.X.head(2000), train.y.head(2000), settings.data.target
    )
    export_local(settings, small_pipeline, uci.X, make_card("4"), reference)
    env = tmp_env(tmp_path) | {
        "OBESITY_RISK__SERVING__MODEL_SOURCE": "local",
        "OBESITY_RISK__SERVING__PREDICTION_STORE": url,
    }
    empty = cli("monitor", "--once", "--window", "24h", env=env)  # nothing logged yet
    assert empty.returncode == 0, empty.stderr[-3000:]
    skipped = "monitor tick skipped (the prediction log has no rows for predictions since"
    assert "INFO" in empty.stderr and skipped in empty.stderr
    assert "ERROR" not in empty.stderr
    store = PredictionStore(url)
    store.wait_connected(10)
    try:
        log_rows(store, uci.X.head(400).to_dict(orient="records"))
    finally:
        store.close()
    result = cli("monitor", "--once", "--window", "24h", env=env)
    assert result.returncode in (0, 3), result.stderr[-3000:]  # 3: a drift rule fired
    lines = (tmp_path / "reports/monitoring/status.jsonl").read_text().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["ok"] is True and first["skipped"] and not first["reports"]
    assert second["ok"] is True and second["skipped"] is None
    assert second["reports"] and all(Path(p).exists() for p in second["reports"])
    assert (result.returncode == 3) == bool(second["fired"])


def test_ticks_keep_their_schedule(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, f"sqlite:///{tmp_path}/log.db")
    started = time.monotonic()
    ticks = run_every(settings, timedelta(seconds=0.4), timedelta(hours=1), max_ticks=4)
    elapsed = time.monotonic() - started
    assert len(ticks) == 4 and all(not t.ok for t in ticks)  # no model: every tick fails, safely
    assert 1.15 < elapsed < 1.6 + 4 * max(t.duration_s for t in ticks)  # slots at 0, .4, .8, 1.2


def test_prune_beside_concurrent_writers_on_postgres(postgres, tmp_path: Path) -> None:
    url = postgres.create_database("retention")
    settings = settings_for(tmp_path, url)
    uci = load_dataset(UCI_CSV, settings.data, labelled=None).X.to_dict(orient="records")
    store = PredictionStore(url)
    assert store.wait_connected(10)
    old = datetime.now(UTC) - timedelta(days=120)
    for start in range(0, 12000, 400):  # 12,000 old rows: three delete batches
        log_rows(store, (uci * 6)[start : start + 400], at=old)
    acknowledged, errors, stop = [], [], threading.Event()

    def writer() -> None:
        while not stop.is_set():
            request_id = uuid.uuid4().hex
            try:
                store.write(request_id, "4", uci[:5], ["x"] * 5, [{"x": 1.0}] * 5)
                acknowledged.append(request_id)  # write() returned: committed
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    deleted = prune_predictions(settings, timedelta(days=90))
    stop.set()
    for thread in threads:
        thread.join()
    store.close()
    assert deleted == 12000 and not errors and len(acknowledged) > 10
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(PREDICTIONS.c.request_id, PREDICTIONS.c.created_at)).all()
    engine.dispose()
    assert all(created > old + timedelta(days=1) for _, created in rows)
    kept = {request for request, _ in rows}
    assert set(acknowledged) <= kept  # every acknowledged write survived the prune
    result = cli(
        "prune",
        "--predictions-older-than",
        "1d",
        "--reports-keep",
        "5",
        env=tmp_env(tmp_path) | {"OBESITY_RISK__SERVING__PREDICTION_STORE": url},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "deleted 0 prediction(s)" in result.stderr
