"""MLflow tracking set-up, model logging, registration, alias promotion and local export."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow
import mlflow.sklearn
import pandas as pd
from loguru import logger
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from obesity_risk.config import Settings
from obesity_risk.errors import ModelNotFoundError, TrackingError

EXPORT_NAME = "champion"
_RUNTIME_PACKAGES = (
    "scikit-learn",
    "pandas",
    "numpy",
    "lightgbm",
    "xgboost",
    "catboost",
    "cloudpickle",
)


@dataclass(frozen=True)
class LoadedModel:
    """A fitted pipeline and where it came from."""

    pipeline: Any
    source: str
    version: str | None
    metadata: dict[str, Any]


def setup_tracking(settings: Settings) -> str:
    """Point MLflow at the configured store, create the experiment; return its id.

    Raises:
        TrackingError: the store cannot be reached (the message names the URI).
    """
    uri = settings.tracking_uri
    fail_fast(settings)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        experiment = mlflow.get_experiment_by_name(settings.tracking.experiment)
        if experiment is None:
            experiment_id = mlflow.create_experiment(
                settings.tracking.experiment, artifact_location=settings.artifact_location
            )
        else:
            experiment_id = experiment.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)  # nested runs land here too
        return experiment_id
    except (MlflowException, OSError) as exc:
        raise TrackingError(
            f"tracking store {redact(uri)} is unusable: {_first_line(exc)}"
        ) from exc


def fail_fast(settings: Settings) -> None:
    """Bound MLflow's HTTP retries (its defaults retry a dead server for minutes).

    MLflow reads these at call time; values the user exported are kept.
    """
    cfg = settings.tracking
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(cfg.request_max_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(cfg.request_timeout_s))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def redact(uri: str) -> str:
    """The URI with any password masked (safe to log)."""
    parsed = urlparse(uri)
    if parsed.password:
        return uri.replace(f":{parsed.password}@", ":***@")
    return uri


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


def register(settings: Settings, model_uri: str, tags: dict[str, str] | None = None) -> str:
    """Register ``model_uri`` under the configured name; return the new version."""
    model_version = mlflow.register_model(model_uri, settings.tracking.registered_model, tags=tags)
    return str(model_version.version)


def champion_uri(settings: Settings) -> str:
    """``models:/<name>@<champion alias>``."""
    return f"models:/{settings.tracking.registered_model}@{settings.tracking.champion_alias}"


def load_registered(settings: Settings, alias: str | None = None) -> LoadedModel:
    """Load the pipeline registered under ``alias`` (default: champion).

    Raises:
        ModelNotFoundError: no such alias; TrackingError: the store cannot be used.
    """
    alias = alias or settings.tracking.champion_alias
    name = settings.tracking.registered_model
    fail_fast(settings)
    client = mlflow.MlflowClient(settings.tracking_uri, settings.tracking_uri)
    try:
        model_version = client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}:
            raise ModelNotFoundError(
                f"no model {name}@{alias} in {redact(settings.tracking_uri)}"
            ) from exc
        raise TrackingError(
            f"registry {redact(settings.tracking_uri)}: {_first_line(exc)}"
        ) from exc
    except OSError as exc:
        raise TrackingError(
            f"registry {redact(settings.tracking_uri)}: {_first_line(exc)}"
        ) from exc
    # the export in models/ is this very model when it comes from the same run: load it there
    # instead of downloading the artifacts again (a copy locally, a transfer from S3)
    export = settings.models_dir / EXPORT_NAME
    same_run = _export_run_id(export) == model_version.run_id
    loaded_from = str(export) if same_run else f"models:/{name}/{model_version.version}"
    return LoadedModel(
        pipeline=mlflow.sklearn.load_model(loaded_from),
        source=f"models:/{name}@{alias}",
        version=str(model_version.version),
        metadata={
            "run_id": model_version.run_id,
            "alias": alias,
            "loaded_from": loaded_from,
            **{k: _parse_tag(v) for k, v in (model_version.tags or {}).items()},
        },
    )


def _export_run_id(export: Path) -> str | None:
    """The run id recorded with the local export (None without a readable one)."""
    try:
        metadata = json.loads((export / "metadata.json").read_text())
    except (OSError, ValueError):
        return None
    run_id = metadata.get("run_id") if isinstance(metadata, dict) else None
    return str(run_id) if run_id and (export / "MLmodel").is_file() else None


def _parse_tag(value: str) -> Any:
    """Registry tags are strings: give back numbers and JSON where they were."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def set_alias(settings: Settings, alias: str, model_version: str) -> None:
    """Point ``alias`` at ``model_version``."""
    mlflow.MlflowClient().set_registered_model_alias(
        settings.tracking.registered_model, alias, model_version
    )


REFERENCE_FILE = "reference.parquet"


def export_local(
    settings: Settings,
    pipeline: Any,
    X_example: pd.DataFrame,
    metadata: dict,
    reference: pd.DataFrame | None = None,
) -> Path:
    """Save the champion under ``models/champion`` atomically: MLflow model, metadata.json and
    the monitoring reference (training rows + the champion's predictions)."""
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
    (model_dir / "metadata.json").write_text(json.dumps(metadata, indent=2, default=str))
    if reference is not None:
        reference.to_parquet(model_dir / REFERENCE_FILE, index=False)
    old = None
    if target.exists():
        old = settings.models_dir / f".old-{EXPORT_NAME}-{os.getpid()}"
        target.rename(old)
    model_dir.rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def load_exported(settings: Settings) -> LoadedModel:
    """Load ``models/champion`` (no tracking server needed)."""
    target = settings.models_dir / EXPORT_NAME
    if not (target / "MLmodel").is_file():
        raise ModelNotFoundError(f"no exported champion in {target} (run `obesity-risk train`)")
    metadata_file = target / "metadata.json"
    metadata = json.loads(metadata_file.read_text()) if metadata_file.is_file() else {}
    return LoadedModel(
        pipeline=mlflow.sklearn.load_model(str(target)),
        source=str(target),
        version=str(metadata.get("version")) if metadata.get("version") is not None else None,
        metadata=metadata,
    )


def load_reference(settings: Settings, model: LoadedModel) -> pd.DataFrame:
    """The monitoring reference stored with ``model`` (local export, else the model's run).

    Raises:
        ModelNotFoundError: the model has no stored reference.
    """
    local = Path(model.source) / REFERENCE_FILE
    if local.is_file():
        return pd.read_parquet(local)
    run_id = model.metadata.get("run_id")
    if not run_id:
        raise ModelNotFoundError(f"model {model.source} has no monitoring reference")
    try:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path=f"reference/{REFERENCE_FILE}",
            tracking_uri=settings.tracking_uri,
        )
    except (MlflowException, OSError) as exc:
        raise ModelNotFoundError(
            f"model {model.source} has no monitoring reference: {_first_line(exc)}"
        ) from exc
    return pd.read_parquet(path)


def load_champion(settings: Settings) -> LoadedModel:
    """The champion from the registry; the local export when the registry is unreachable."""
    try:
        mlflow.set_tracking_uri(settings.tracking_uri)
        return load_registered(settings)
    except (TrackingError, ModelNotFoundError) as exc:
        logger.warning("{}; falling back to the local export", exc)
        return load_exported(settings)
