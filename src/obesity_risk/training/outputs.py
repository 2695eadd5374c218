"""What a training run writes besides the model: its inputs logged to MLflow, the per-family
study summaries, and the JSON reports (``summary.json``, ``feature_selection.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow.data.pandas_dataset import from_pandas

from obesity_risk.config import Settings
from obesity_risk.config.schema import Budget
from obesity_risk.files import atomic_write, file_sha256
from obesity_risk.registry.card import StudySummary
from obesity_risk.training.candidates import Candidate
from obesity_risk.training.splits import TrainingData
from obesity_risk.training.tune import StudyResult


def log_inputs(
    s: Settings,
    data: TrainingData,
    budget_name: str,
    budget: Budget,
    families: list[str],
    storage: str | None,
) -> None:
    """The run's parameters, row counts, input hashes and the whole configuration."""
    mlflow.log_params(
        {
            "budget": budget_name,
            "families": ",".join(families),
            "cv_folds": budget.cv_folds,
            "sample_rows": budget.sample_rows,
            "seed": s.seed,
            "metric": s.models.metric,
            "train_file": Path(data.train_source).name,
            "train_sha256": file_sha256(data.train_source),
            "test_size": s.data.test_size,
            "external_usage": s.data.external_usage,
            "external_repeat": s.data.external_repeat,
            "optuna_storage": "in-memory" if storage is None else "rdb",
        }
    )
    mlflow.log_metrics({f"rows_{k}": v for k, v in data.rows.items()})
    if data.external is not None:
        mlflow.log_params(
            {
                "external_file": Path(data.external.source).name,
                "external_sha256": file_sha256(data.external.source),
            }
        )
    mlflow.log_dict(s.model_dump(mode="json", by_alias=True), "config/settings.json")
    splits = {"training": data.fit, "validation": data.validation, "test": data.test}
    for context, part in splits.items():
        if len(part.X):  # the runs table's Dataset column: name, digest, schema, rows
            frame = part.X.assign(**{s.data.target: part.y.to_numpy()})
            dataset = from_pandas(
                frame,
                source=Path(data.train_source).resolve().as_uri(),
                targets=s.data.target,
                name=f"{Path(data.train_source).stem}-{context}",
            )
            mlflow.log_input(dataset, context=context)


def study_summaries(
    results: dict[str, StudyResult], candidates: dict[str, Candidate], metric: str = "accuracy"
) -> dict[str, StudySummary]:
    """One summary per completed study: its result and its candidate's held-out scores."""
    out = {}
    for name, r in results.items():
        val, test = candidates[name].validation, candidates[name].test
        out[name] = StudySummary(
            **r.model_dump(exclude={"family", "scores"}),
            val_accuracy=val.accuracy,
            val_f1_macro=val.f1_macro,
            test_accuracy=None if test is None else test.accuracy,
            metric=metric,
            val_score=val.value(metric),
            test_score=None if test is None else test.value(metric),
        )
    return out


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write JSON atomically (see :func:`obesity_risk.files.atomic_write`)."""
    return atomic_write(path, json.dumps(payload, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
