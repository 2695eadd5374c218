"""The whole configuration, one validated :class:`Settings` object (built by
:func:`obesity_risk.config.loader.load_settings`), and the paths derived from it."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import model_validator

from obesity_risk.config.base import Strict, resolve_root
from obesity_risk.config.schema import CategoricalColumn, DataSchema, FeatureConfig, ModelsConfig
from obesity_risk.config.sections import (
    DatastoreConfig,
    LoggingConfig,
    MonitoringConfig,
    PathsConfig,
    ServingConfig,
    TrackingConfig,
)
from obesity_risk.config.stages import BatchConfig, EnsembleConfig, EvaluationConfig, Slice
from obesity_risk.metrics import DEFAULT_METRIC, METRICS, get_metric

AUTO_SLICE_MAX_CATEGORIES = 10


def dataset_name(path: Path) -> str:
    """A data file's name as MLflow experiment and model names use it: its stem, with runs of
    other characters than letters, digits, ``.``, ``_`` and ``-`` turned into one ``-``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-.") or "dataset"


class Settings(Strict):
    """The whole configuration. Build it with :func:`load_settings`."""

    seed: int = 42
    paths: PathsConfig = PathsConfig()
    data: DataSchema
    features: FeatureConfig = FeatureConfig()
    models: ModelsConfig
    ensemble: EnsembleConfig = EnsembleConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    batch: BatchConfig = BatchConfig()
    tracking: TrackingConfig = TrackingConfig()
    logging: LoggingConfig = LoggingConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    serving: ServingConfig = ServingConfig()
    datastore: DatastoreConfig = DatastoreConfig()

    @model_validator(mode="before")
    @classmethod
    def _metric_of_the_task(cls, values: Any) -> Any:
        """An unset ``models.metric``: the task's default (accuracy; rmse for a regression)."""
        if not isinstance(values, dict) or not isinstance(values.get("data"), dict):
            return values
        models = values.get("models")
        if not isinstance(models, dict) or models.get("metric") is not None:
            return values
        data = values["data"]
        classes = data.get("classes")
        task = data.get("task") or ("regression" if not classes else "classification")
        return {**values, "models": {**models, "metric": DEFAULT_METRIC.get(task, "accuracy")}}

    @model_validator(mode="before")
    @classmethod
    def _name_after_the_data(cls, values: Any) -> Any:
        """Unnamed experiment and registered model: named after the training file's stem, so
        each dataset gets its own (a name names one dataset, never another's)."""
        if not isinstance(values, dict) or not isinstance(values.get("data"), dict):
            return values
        tracking = dict(values.get("tracking") or {})
        name = dataset_name(Path(str(values["data"].get("train_file") or "dataset")))
        tracking["experiment"] = tracking.get("experiment") or name
        tracking["registered_model"] = tracking.get("registered_model") or tracking["experiment"]
        return {**values, "tracking": tracking}

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        known = set(self.data.columns) | {f.name for f in self.features.engineered}
        for feat in self.features.engineered:
            missing = set(feat.inputs.values()) - known
            if missing:
                raise ValueError(
                    f"features.engineered {feat.name}: inputs {sorted(missing)} are neither"
                    " data columns nor engineered features"
                )
        if self.features.selected is not None:
            unknown = set(self.features.selected) - known
            if unknown:
                raise ValueError(f"features.selected: unknown columns {sorted(unknown)}")
        for item in self.evaluation.slices or ():
            if item.column not in known:
                raise ValueError(f"evaluation.slices: unknown column {item.column!r}")
        metric = get_metric(str(self.models.metric))
        if metric.regression != (self.data.task == "regression") or (
            metric.binary_only and self.data.task != "binary"
        ):
            known = [
                m.name
                for m in METRICS.values()
                if m.regression == (self.data.task == "regression")
                and (not m.binary_only or self.data.task == "binary")
            ]
            raise ValueError(
                f"models.metric: {metric.name} does not measure a {self.data.task} task"
                f" (data.task); use one of {', '.join(known)}"
            )
        if self.data.task == "regression":
            lacking = [n for n, f in self.models.families.items() if f.regression is None]
            if lacking:
                raise ValueError(
                    f"models.families: {', '.join(lacking)} have no regression variant"
                    " (models.families.<name>.regression.estimator) for data.task regression"
                )
        unknown = set(self.ensemble.families or ()) - set(self.models.families)
        if unknown:
            raise ValueError(f"ensemble.families: unknown families {sorted(unknown)}")
        return self

    @property
    def slices(self) -> list[Slice]:
        """The evaluation slices: configured, else one per categorical column with at most
        :data:`AUTO_SLICE_MAX_CATEGORIES` categories (none when there is no such column)."""
        if self.evaluation.slices is not None:
            return list(self.evaluation.slices)
        return [
            Slice(column=name)
            for name, spec in self.data.columns.items()
            if isinstance(spec, CategoricalColumn)
            and len(spec.categories) <= AUTO_SLICE_MAX_CATEGORIES
        ]

    # ------------------------------------------------------------------ derived paths
    @cached_property
    def root(self) -> Path:
        """The project root every relative path resolves from."""
        return resolve_root(self.paths.root)

    def path(self, value: Path | str) -> Path:
        """Resolve ``value`` against the project root (absolute paths pass through)."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.root / path).resolve()

    @property
    def models_dir(self) -> Path:
        """Local model exports (the API's fallback when tracking is unreachable)."""
        return self.path(self.paths.models_dir)

    @property
    def reports_dir(self) -> Path:
        """Generated reports (training summaries, benchmarks, monitoring)."""
        return self.path(self.paths.reports_dir)

    @property
    def logs_dir(self) -> Path:
        """Log files."""
        return self.path(self.paths.logs_dir)

    @property
    def prediction_store_url(self) -> str:
        """SQLAlchemy URL of the prediction log."""
        if self.serving.prediction_store:
            return self.serving.prediction_store
        return f"sqlite:///{self.path(self.paths.data_dir) / 'predictions.db'}"

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: configured, else embedded SQLite under the project root."""
        if self.tracking.uri:
            return self.tracking.uri
        return f"sqlite:///{self.path(self.paths.mlruns_dir) / 'mlflow.db'}"

    @property
    def artifact_location(self) -> str | None:
        """Artifact root for new experiments; local stores keep artifacts under the root."""
        if self.tracking.artifact_location:
            return self.tracking.artifact_location
        if self.tracking_uri.startswith(("sqlite:", "file:")) or "://" not in self.tracking_uri:
            return (self.path(self.paths.mlruns_dir) / "artifacts").as_uri()
        return None
