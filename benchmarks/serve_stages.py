"""The serving benchmarks' reference model, and in-process timings of one prediction request,
stage by stage, with the true floor.

Used by ``bench_serve.py``, ``bench_store.py``, ``profile_serve.py`` and ``decompose_serve.py``.
Every stage runs the package's own code on one record:

- parse+validate: the record model validating the JSON bytes (what FastAPI's body does);
- features: the compiled pipeline turning the record into the model's float64 row;
- model: the prediction on that row (the native booster, one thread, as the API calls it);
- log commit: ``PredictionStore.write`` of the row (SQLite, the shipped durability);
- metrics: the Prometheus updates of one request;
- response: the response body encoded by orjson.

The true floor is the faster of ``Booster.predict`` and LightGBM's single-row C API on one
prepared numpy row, one thread.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson


def reference_pipeline(settings: Any) -> tuple[Any, Any]:
    """(pipeline, training data): engineered features + ColumnTransformer + LightGBM 300 trees
    fitted on every S4E2 row, the model every serving figure is measured with."""
    from obesity_risk.data import load_dataset
    from obesity_risk.features import build_pipeline
    from obesity_risk.training.families import effective_family, make_estimator

    data = load_dataset(settings.path(settings.data.train_file), settings.data)
    family = effective_family(settings, "lgbm")
    estimator = make_estimator(settings, family, {"n_estimators": 300, "learning_rate": 0.05})
    return build_pipeline(settings.data, settings.features, estimator).fit(data.X, data.y), data


def exported_reference(tmp: Path, records: int = 500) -> tuple[Any, list[dict]]:
    """Fit the reference pipeline, export it under ``tmp/models`` as version 1; return the
    settings pointing there and ``records`` UCI records to send."""
    from obesity_risk.config import load_settings
    from obesity_risk.data import load_dataset
    from obesity_risk.registry.card import ModelCard
    from obesity_risk.registry.publish import export_local

    settings = load_settings(paths={"models_dir": str(tmp / "models")}, logging={"file": False})
    pipeline, data = reference_pipeline(settings)
    card = ModelCard(
        name="obesity-risk", family="lgbm", version="1", classes=list(settings.data.classes)
    )
    export_local(settings, pipeline, data.X, card)
    uci = load_dataset(settings.path(settings.data.external_file), settings.data, labelled=None)
    return settings, uci.X.head(records).to_dict(orient="records")


def served_env(tmp: Path, store: str, **overrides: str) -> dict[str, str]:
    """The environment of an API process serving the reference exported under ``tmp``: no
    inherited ``OBESITY_RISK``/``MLFLOW`` variables, the prediction log in SQLite file ``store``,
    warnings only; ``overrides`` (full variable names) on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBESITY_RISK", "MLFLOW_"))}
    return env | {
        "OBESITY_RISK__PATHS__MODELS_DIR": str(tmp / "models"),
        "OBESITY_RISK__SERVING__MODEL_SOURCE": "local",
        "OBESITY_RISK__SERVING__PREDICTION_STORE": f"sqlite:///{store}",
        "OBESITY_RISK__LOGGING__LEVEL": "WARNING",
        "OBESITY_RISK__LOGGING__FILE": "false",
        **overrides,
    }


def per_call(fn: Callable[[], Any], repeat: int, warmup: int = 50) -> float:
    """Median seconds per call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def stage_timings(
    predictor: Any, record: dict, tmp: Path, repeat: int = 2000, batch: list[dict] | None = None
) -> dict[str, float]:
    """Milliseconds per stage of one request, the true floor, and their sum; with ``batch``
    (16 records) also the booster's floor on 16 prepared rows, one thread (what one shared
    model call of 16 waiting requests costs at least)."""
    from obesity_risk.api.telemetry import Telemetry
    from obesity_risk.monitoring.store import PredictionStore
    from obesity_risk.serving.native import LightGBMRows

    compiled = predictor.compiled
    body = orjson.dumps(record)
    row = compiled.transform([record])
    booster = compiled.single.estimator_.booster_
    single_row = LightGBMRows(booster, 1)
    proba = compiled.predict_matrix(row)
    labels = [predictor.classes[int(np.argmax(proba[0]))]]
    rows = [dict(zip(predictor.classes, proba[0].tolist(), strict=True))]
    telemetry = Telemetry()
    store = PredictionStore(f"sqlite:///{tmp}/stages.db")
    store.wait_connected(10)

    def metrics() -> None:
        telemetry.requests.labels("POST", "/predict", "200").inc()
        telemetry.latency.labels("POST", "/predict").observe(0.001)
        telemetry.predictions.labels(labels[0]).inc()

    def respond() -> bytes:
        return orjson.dumps(
            {
                "request_id": uuid.uuid4().hex,
                "model_name": "obesity-risk",
                "model_version": "1",
                "label": labels[0],
                "probabilities": rows[0],
            }
        )

    try:
        ms = {
            "parse_validate": per_call(lambda: predictor.record.model_validate_json(body), repeat),
            "features": per_call(lambda: compiled.transform([record]), repeat),
            "model": per_call(lambda: compiled.predict_matrix(row), repeat),
            "log_commit": per_call(
                lambda: store.write(uuid.uuid4().hex, "1", [record], labels, rows), repeat // 4
            ),
            "metrics": per_call(metrics, repeat),
            "response": per_call(respond, repeat),
            # only with ?explain=true (not part of a plain request): TreeSHAP on the row
            "explain_extra": per_call(lambda: predictor.explain_records([record], 5), repeat // 4)
            - per_call(lambda: predictor.predict_records([record]), repeat // 4),
            "booster_predict_one_row_one_thread": per_call(
                lambda: booster.predict(row, num_threads=1), repeat
            ),
            # LightGBM's single-row C API on the prepared row, nothing around it
            "single_row_c_api_one_thread": per_call(lambda: single_row(row), repeat),
        }
        if batch:
            sixteen = compiled.transform(batch[:16])
            ms["booster_predict_16_rows_one_thread"] = per_call(
                lambda: booster.predict(sixteen, num_threads=1), repeat // 2
            )
            ms["features_16_records"] = per_call(lambda: compiled.transform(batch[:16]), repeat)
    finally:
        store.close()
    ms = {k: v * 1000 for k, v in ms.items()}
    ms["true_floor"] = min(
        ms["booster_predict_one_row_one_thread"], ms["single_row_c_api_one_thread"]
    )
    ms["sum_of_stages"] = sum(
        ms[k] for k in ("parse_validate", "features", "model", "log_commit", "metrics", "response")
    )
    return ms
