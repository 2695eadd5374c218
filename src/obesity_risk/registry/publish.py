"""Tracking writes: MLflow's fluent API inside :func:`tracking_scope` (training only), model
logging, and the verified local export of the champion."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from obesity_risk.config import Settings
from obesity_risk.errors import TrackingError
from obesity_risk.registry.card import CARD_FILE, ModelCard
from obesity_risk.registry.client import (
    EXPORT_NAME,
    REFERENCE_FILE,
    first_line,
    redact,
    signing_key,
)
from obesity_risk.registry.integrity import manifest

if TYPE_CHECKING:
    pass

_RUNTIME_PACKAGES = (
    "scikit-learn",
    "pandas",
    "numpy",
    "lightgbm",
    "xgboost",
    "xgboost-cpu",
    "catboost",
    "cloudpickle",
)


@contextlib.contextmanager
def tracking_scope(settings: Settings) -> Iterator[str]:
    """MLflow's fluent API (``start_run``...) on the configured store for the ``with`` block;
    the previous tracking and registry URIs (and their environment variables, which MLflow
    sets) are restored afterwards, through MLflow's public API only.

    Raises:
        TrackingError: the store cannot be reached (the message names the URI).
    """
    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    tracking = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    tracking_env = os.environ.get("MLFLOW_TRACKING_URI")
    registry_env = os.environ.get("MLFLOW_REGISTRY_URI")  # set_registry_uri mirrors it here
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry_env)
        for name, value in (
            ("MLFLOW_TRACKING_URI", tracking_env),
            ("MLFLOW_REGISTRY_URI", registry_env),
        ):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def experiment_id(settings: Settings) -> str:
    """Create (or find) the configured experiment in the active tracking scope."""
    try:
        experiment = mlflow.get_experiment_by_name(settings.tracking.experiment)
        if experiment is None:
            return mlflow.create_experiment(
                settings.tracking.experiment,
                artifact_location=settings.artifact_location,
                tags={"mlflow.experimentKind": "custom_model_development"},
            )
        return experiment.experiment_id
    except Exception as exc:  # pylint: disable=broad-exception-caught
        raise TrackingError(
            f"tracking store {redact(settings.tracking_uri)} is unusable: {first_line(exc)}"
        ) from exc


def pip_requirements() -> list[str]:
    """Pinned runtime packages of the logged pipeline (skips MLflow's slow inference)."""
    pins = []
    for package in _RUNTIME_PACKAGES:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pins


def log_pipeline(pipeline: Any, X_example: pd.DataFrame, *, name: str = "model") -> ModelInfo:
    """Log the fitted pipeline to the active run, with signature and input example."""
    example = X_example.head(5)
    signature = infer_signature(example, pipeline.predict(example))
    return mlflow.sklearn.log_model(
        pipeline,
        name=name,
        signature=signature,
        input_example=example,
        serialization_format="cloudpickle",
        pip_requirements=pip_requirements(),
    )


def champion_uri(settings: Settings) -> str:
    """``models:/<name>@<champion alias>``."""
    return f"models:/{settings.tracking.registered_model}@{settings.tracking.champion_alias}"


def export_local(
    settings: Settings,
    pipeline: Any,
    X_example: pd.DataFrame,
    card: ModelCard,
    reference: pd.DataFrame | None = None,
) -> Path:
    """Save the champion under ``models/champion`` atomically: MLflow model, the monitoring
    reference (training rows + predictions) and the (signed) card with the manifest of both."""
    target = settings.models_dir / EXPORT_NAME
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".champion-", dir=settings.models_dir))
    model_dir = staging / "model"
    example = X_example.head(5)
    mlflow.sklearn.save_model(
        pipeline,
        model_dir,
        signature=infer_signature(example, pipeline.predict(example)),
        input_example=example,
        serialization_format="cloudpickle",
        pip_requirements=pip_requirements(),
    )
    if reference is not None:
        reference.to_parquet(model_dir / REFERENCE_FILE, index=False)
    final = card.model_copy(update={"artifacts": manifest(model_dir)})
    final = final.signed(signing_key(settings))
    (model_dir / CARD_FILE).write_text(final.model_dump_json(indent=2))
    old = None
    if target.exists():
        old = settings.models_dir / f".old-{EXPORT_NAME}-{os.getpid()}"
        target.rename(old)
    model_dir.rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target
