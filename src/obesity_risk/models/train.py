"""Training: studies per family, refit, evaluation, feature selection, registration, summary."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from loguru import logger
from matplotlib.figure import Figure
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    classification_report,
    f1_score,
)
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from obesity_risk import __version__
from obesity_risk.config import Settings
from obesity_risk.config.settings import Budget
from obesity_risk.data import file_sha256, load_dataset, sample_stratified, split
from obesity_risk.errors import ConfigError, ModelNotFoundError, ObesityRiskError
from obesity_risk.features import build_pipeline, model_columns
from obesity_risk.models import registry
from obesity_risk.models.card import (
    CardFeatures,
    CardMetrics,
    ChampionSummary,
    IntegrityError,
    ModelCard,
    StudySummary,
    TrainingSummary,
)
from obesity_risk.models.families import clip_to_space, effective_family, make_estimator
from obesity_risk.models.tune import (
    Folds,
    NoCompletedTrialError,
    StudyResult,
    cross_validate,
    run_study,
)


# ----------------------------------------------------------------------------- pure helpers
def evaluate(pipeline: Any, X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """Accuracy and macro-F1 of a fitted pipeline."""
    predicted = pipeline.predict(X)
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(f1_score(y, predicted, average="macro")),
    }


def confusion_figure(pipeline: Any, X: pd.DataFrame, y: pd.Series, title: str) -> Figure:
    """Confusion matrix (row-normalised) as a matplotlib Figure (no pyplot state)."""
    fig = Figure(figsize=(9, 8))
    ax = fig.add_subplot()
    ConfusionMatrixDisplay.from_predictions(
        y,
        pipeline.predict(X),
        labels=list(pipeline.classes_),
        normalize="true",
        values_format=".2f",
        xticks_rotation=45,
        ax=ax,
        colorbar=False,
    )
    ax.set_title(title)
    fig.tight_layout()
    return fig


def reference_frame(pipeline: Any, X: pd.DataFrame, y: pd.Series, target: str) -> pd.DataFrame:
    """Monitoring reference: the training rows, their labels and the model's predictions."""
    frame = X.assign(**{target: y.to_numpy(), "prediction": pipeline.predict(X)})
    return frame.reset_index(drop=True)


def make_folds(y: pd.Series, n_folds: int, seed: int) -> Folds:
    """Seeded stratified k-fold indices."""
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def select_features(
    settings: Settings,
    X: pd.DataFrame,
    y: pd.Series,
    folds: Folds,
    family: str = "lgbm",
    budget: Budget | None = None,
) -> dict[str, Any]:
    """Permutation-importance feature selection over every model column.

    Fits ``family`` (its first warm-start configuration) with *all* raw and engineered columns
    on a split of ``X``, measures the accuracy drop when each column is shuffled, keeps the
    columns whose drop is positive, then compares CV accuracy of the kept columns with the
    configured ``features.selected``. ``selected`` is the kept list when it scores better,
    else None (keep the configuration).
    """
    fam = effective_family(settings, family, budget)
    params = clip_to_space(fam.warm_start[0], fam.space) if fam.warm_start else {}

    def pipeline_for(selected: list[str] | None) -> Pipeline:
        features = settings.features.model_copy(update={"selected": selected})
        return build_pipeline(settings.data, features, make_estimator(settings, fam, params))

    every = pipeline_for(None)
    X_fit, X_hold, y_fit, y_hold = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=settings.seed
    )
    every.fit(X_fit, y_fit)
    front = Pipeline(every.steps[:2])  # guard + engineered features
    back = Pipeline(every.steps[2:])  # preprocess + model
    all_features = settings.features.model_copy(update={"selected": None})
    columns = [c for group in model_columns(settings.data, all_features) for c in group]
    imp = permutation_importance(
        back,
        front.transform(X_hold)[columns],
        y_hold,
        n_repeats=3,
        random_state=settings.seed,
        scoring="accuracy",
    )
    importances = dict(zip(columns, map(float, imp.importances_mean), strict=True))
    kept = [c for c in columns if importances[c] > 0]
    cv_configured = float(
        np.mean(cross_validate(pipeline_for(settings.features.selected), X, y, folds)["accuracy"])
    )
    cv_kept = float(np.mean(cross_validate(pipeline_for(kept), X, y, folds)["accuracy"]))
    return {
        "family": family,
        "importances": dict(sorted(importances.items(), key=lambda kv: -kv[1])),
        "kept": kept,
        "dropped": [c for c in columns if c not in kept],
        "configured": settings.features.selected,
        "cv_accuracy_configured": cv_configured,
        "cv_accuracy_kept": cv_kept,
        "selected": kept if cv_kept > cv_configured else None,
    }


# ----------------------------------------------------------------------------- orchestration
class Trainer:
    """Wires data, studies, MLflow and the registry for one ``train`` run."""

    def __init__(
        self,
        settings: Settings,
        budget_name: str,
        families: list[str] | None = None,
        storage: str | None = None,
        feature_selection: bool | None = None,
        show_progress_bar: bool = True,
    ) -> None:
        if budget_name not in settings.models.budgets:
            known = ", ".join(settings.models.budgets)
            raise ConfigError(f"unknown budget {budget_name!r}; known: {known}")
        self.settings = settings
        self.budget_name = budget_name
        self.budget: Budget = settings.models.budgets[budget_name]
        self.families = families or list(self.budget.families)
        for name in self.families:
            effective_family(settings, name)  # unknown family -> ConfigError now, not later
        self.storage = storage
        self.feature_selection = (
            self.budget.feature_selection if feature_selection is None else feature_selection
        )
        self.show_progress_bar = show_progress_bar
        self.champion_pipeline: Pipeline | None = None
        self._experiment_id: str | None = None

    def run(self) -> TrainingSummary:
        """Tune every family, pick and register the champion, write the summary."""
        started = time.perf_counter()
        s = self.settings
        data = load_dataset(s.path(s.data.train_file), s.data)
        X_train, X_val, y_train, y_val = split(data, s.data.validation_size, s.seed)
        X_fit, y_fit = sample_stratified(X_train, y_train, self.budget.sample_rows, s.seed)
        folds = make_folds(y_fit, self.budget.cv_folds, s.seed)
        external = None
        if s.data.external_file is not None:
            external = load_dataset(s.path(s.data.external_file), s.data, labelled=None)
        logger.info(
            "data: {} train rows ({} used for CV/refit), {} validation rows, {} external rows",
            len(X_train),
            len(X_fit),
            len(X_val),
            0 if external is None else len(external.X),
        )

        with registry.tracking_scope(s):
            summary = self._tracked_run(
                s, data, external, (X_train, X_fit, y_fit, folds), (X_val, y_val), started
            )
        path = write_json(
            s.reports_dir / "training" / "summary.json", summary.model_dump(mode="json")
        )
        card, metrics = summary.champion.card, summary.champion.card.metrics
        logger.success(
            "champion {} v{} ({}): cv {:.4f}, validation {:.4f}, external (UCI, the source of"
            " the synthetic data: optimistic) {} -> {}",
            card.family,
            card.version,
            summary.champion.alias,
            metrics.cv_accuracy,
            metrics.val_accuracy,
            "n/a" if metrics.external_accuracy is None else f"{metrics.external_accuracy:.4f}",
            path,
        )
        return summary

    def _tracked_run(
        self,
        s: Settings,
        data: Any,
        external: Any,
        fit_data: tuple[pd.DataFrame, pd.DataFrame, pd.Series, Folds],
        val: tuple[pd.DataFrame, pd.Series],
        started: float,
    ) -> TrainingSummary:
        """The MLflow part of :meth:`run` (inside the tracking scope)."""
        X_train, X_fit, y_fit, folds = fit_data
        X_val, y_val = val
        experiment_id = self._experiment_id = registry.experiment_id(s)
        with mlflow.start_run(
            run_name=f"train-{self.budget_name}-{datetime.now(UTC):%Y%m%dT%H%M%S}",
            experiment_id=experiment_id,
        ) as session:
            self._log_inputs(data.source, external.source if external else None)
            if self.feature_selection:
                s = self._feature_selection(X_fit, y_fit, folds)
            results: list[tuple[StudyResult, Pipeline, dict[str, float], Any]] = []
            skipped: dict[str, str] = {}
            for name in self.families:
                try:
                    results.append(self._study(s, name, X_fit, y_fit, folds, X_val, y_val))
                except NoCompletedTrialError as exc:
                    logger.warning("{}; family {} skipped", exc, name)
                    skipped[name] = str(exc)
            if not results:
                raise NoCompletedTrialError(f"no family completed a trial: {skipped}")
            best, pipeline, val_metrics, model_info = max(
                results, key=lambda r: (r[0].best_value, r[2]["accuracy"])
            )
            self.champion_pipeline = pipeline
            champion = self._champion(
                s,
                best,
                pipeline,
                val_metrics,
                model_info,
                (X_val, y_val),
                (X_fit, y_fit),
                external,
                session.info.run_id,
            )
            summary = TrainingSummary(
                budget=self.budget_name,
                run_id=session.info.run_id,
                experiment_id=experiment_id,
                tracking_uri=registry.redact(s.tracking_uri),
                package_version=__version__,
                seed=s.seed,
                rows={
                    "train": len(X_train),
                    "fit": len(X_fit),
                    "validation": len(X_val),
                    "external": 0 if external is None else len(external.X),
                },
                features={"selected": s.features.selected},
                champion=champion,
                studies={
                    r.family: StudySummary(
                        **{k: v for k, v in asdict(r).items() if k not in {"family", "extra"}},
                        val_accuracy=m["accuracy"],
                        val_f1_macro=m["f1_macro"],
                    )
                    for r, _, m, _ in results
                },
                skipped_families=skipped,
                wall_s=time.perf_counter() - started,
            )
            mlflow.log_dict(summary.model_dump(mode="json"), "summary.json")
            mlflow.log_metric("wall_s", summary.wall_s)
        return summary

    # ------------------------------------------------------------------ steps
    def _log_inputs(self, train_file: str, external_file: str | None) -> None:
        s = self.settings
        mlflow.log_params(
            {
                "budget": self.budget_name,
                "families": ",".join(self.families),
                "cv_folds": self.budget.cv_folds,
                "sample_rows": self.budget.sample_rows,
                "seed": s.seed,
                "metric": s.models.metric,
                "train_file": Path(train_file).name,
                "train_sha256": file_sha256(train_file),
                "optuna_storage": "in-memory" if self.storage is None else "rdb",
            }
        )
        if external_file:
            mlflow.log_params(
                {
                    "external_file": Path(external_file).name,
                    "external_sha256": file_sha256(external_file),
                }
            )
        mlflow.log_dict(s.model_dump(mode="json", by_alias=True), "config/settings.json")

    def _feature_selection(self, X: pd.DataFrame, y: pd.Series, folds: Folds) -> Settings:
        with mlflow.start_run(
            run_name="feature-selection", nested=True, experiment_id=self._experiment_id
        ):
            result = select_features(self.settings, X, y, folds, budget=self.budget)
            mlflow.log_dict(result, "feature_selection.json")
            mlflow.log_metrics(
                {
                    "cv_accuracy_configured": result["cv_accuracy_configured"],
                    "cv_accuracy_kept": result["cv_accuracy_kept"],
                }
            )
            mlflow.log_param("dropped", ",".join(result["dropped"]) or "-")
        write_json(self.settings.reports_dir / "training" / "feature_selection.json", result)
        logger.info(
            "feature selection: kept {}/{} columns, cv {:.4f} (configured) vs {:.4f} (kept) -> {}",
            len(result["kept"]),
            len(result["importances"]),
            result["cv_accuracy_configured"],
            result["cv_accuracy_kept"],
            "using the kept columns"
            if result["selected"] is not None
            else "keeping the configured",
        )
        if result["selected"] is None:
            return self.settings
        features = self.settings.features.model_copy(update={"selected": result["selected"]})
        return self.settings.model_copy(update={"features": features})

    def _study(
        self,
        s: Settings,
        name: str,
        X: pd.DataFrame,
        y: pd.Series,
        folds: Folds,
        X_val: pd.DataFrame,
        y_val: pd.Series,
    ) -> tuple[StudyResult, Pipeline, dict[str, float], Any]:
        family = effective_family(s, name, self.budget)
        with mlflow.start_run(
            run_name=f"study-{name}", nested=True, experiment_id=self._experiment_id
        ) as run:
            mlflow.set_tags({"family": name, "stage": "study"})
            result = run_study(
                s,
                name,
                family,
                self.budget,
                X,
                y,
                folds,
                storage=self.storage,
                parent_run_id=run.info.run_id,
                show_progress_bar=self.show_progress_bar,
            )
            pipeline = build_pipeline(
                s.data, s.features, make_estimator(s, family, result.best_params)
            ).fit(X, y)
            val_metrics = evaluate(pipeline, X_val, y_val)
            mlflow.log_params({f"best_{k}": v for k, v in result.best_params.items()})
            mlflow.log_metrics(
                {
                    "best_cv_score": result.best_value,
                    "cv_accuracy": result.cv_accuracy,
                    "cv_f1_macro": result.cv_f1_macro,
                    "val_accuracy": val_metrics["accuracy"],
                    "val_f1_macro": val_metrics["f1_macro"],
                    "n_trials": result.n_trials,
                    "n_pruned": result.n_pruned,
                    "wall_s": result.wall_s,
                }
            )
            mlflow.log_figure(
                confusion_figure(pipeline, X_val, y_val, f"{name}: validation"),
                "confusion_matrix.png",
            )
            mlflow.log_text(
                classification_report(y_val, pipeline.predict(X_val), digits=4),
                "classification_report.txt",
            )
            model_info = registry.log_pipeline(pipeline, X_val)
        return result, pipeline, val_metrics, model_info

    def _champion(
        self,
        s: Settings,
        best: StudyResult,
        pipeline: Pipeline,
        val_metrics: dict[str, float],
        model_info: Any,
        val: tuple[pd.DataFrame, pd.Series],
        fit: tuple[pd.DataFrame, pd.Series],
        external: Any,
        session_run_id: str,
    ) -> ChampionSummary:
        """Register the best pipeline with its card, promote it if it beats the champion,
        export it."""
        external_metrics = {"accuracy": None, "f1_macro": None}
        if external is not None and external.y is not None:
            external_metrics = evaluate(pipeline, external.X, external.y)
        numeric, ordered, nominal = model_columns(s.data, s.features)
        data_files = [s.path(s.data.train_file)]
        if s.data.external_file is not None:
            data_files.append(s.path(s.data.external_file))
        card = ModelCard(
            name=s.tracking.registered_model,
            family=best.family,
            run_id=best.run_id,
            budget=self.budget_name,
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
            package_version=__version__,
            metrics=CardMetrics(
                cv_accuracy=best.cv_accuracy,
                cv_f1_macro=best.cv_f1_macro,
                val_accuracy=val_metrics["accuracy"],
                val_f1_macro=val_metrics["f1_macro"],
                external_accuracy=external_metrics["accuracy"],
                external_f1_macro=external_metrics["f1_macro"],
            ),
            classes=list(s.data.classes),
            features=CardFeatures(numeric=numeric, ordinal=ordered, nominal=nominal),
            params=best.best_params,
            data={p.name: file_sha256(p) for p in data_files},
        )
        reg = registry.Registry(s)
        version = reg.register(model_info.model_uri, card)
        card = reg.card_for(reg.client.get_model_version(reg.name, version))
        promoted, incumbent = self._beats_champion(s, val_metrics["accuracy"], *val, version)
        alias = s.tracking.champion_alias if promoted else s.tracking.challenger_alias
        reg.set_alias(alias, version)
        mlflow.log_metrics(
            {
                f"champion_{k}": v
                for k, v in card.metrics.model_dump().items()
                if v is not None and k in ("cv_accuracy", "val_accuracy", "external_accuracy")
            }
        )
        mlflow.log_dict(card.model_dump(mode="json"), "champion_card.json")
        reference = reference_frame(pipeline, *fit, s.data.target)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / registry.REFERENCE_FILE
            reference.to_parquet(path, index=False)
            reg.client.log_artifact(best.run_id, str(path), "reference")
        export = None
        if promoted:
            export = str(registry.export_local(s, pipeline, val[0], card, reference))
        return ChampionSummary(
            card=card,
            alias=alias,
            promoted=promoted,
            previous_champion_val_accuracy=incumbent,
            model_uri=f"models:/{s.tracking.registered_model}/{version}",
            alias_uri=f"models:/{s.tracking.registered_model}@{alias}",
            logged_model_uri=model_info.model_uri,
            session_run_id=session_run_id,
            export=export,
        )

    def _beats_champion(
        self,
        s: Settings,
        val_accuracy: float,
        X_val: pd.DataFrame,
        y_val: pd.Series,
        new_version: str,
    ) -> tuple[bool, float | None]:
        """(promote?, incumbent accuracy on the same validation data)."""
        try:
            incumbent = registry.Registry(s).load()
        except ModelNotFoundError:
            return True, None
        except (IntegrityError, registry.ModelLoadError, registry.ArtifactStoreError) as exc:
            logger.warning(
                "current champion cannot be loaded ({}); v{} replaces it", exc, new_version
            )
            return True, None
        try:
            incumbent_acc = evaluate(incumbent.pipeline, X_val, y_val)["accuracy"]
        except (ValueError, KeyError, TypeError, ObesityRiskError) as exc:
            logger.warning(
                "current champion cannot score this validation data ({}); replacing it", exc
            )
            return True, None
        logger.info(
            "current champion v{}: validation {:.4f} vs new {:.4f}",
            incumbent.version,
            incumbent_acc,
            val_accuracy,
        )
        return val_accuracy > incumbent_acc, incumbent_acc


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write JSON atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_json_default))
    tmp.replace(path)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
