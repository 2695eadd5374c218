"""Registration of the chosen model: its typed card (metrics, slices, importance), the
promotion decision (gate, then the current champion), the export and the HTML model card."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from obesity_risk import __version__, registry
from obesity_risk.config import Settings
from obesity_risk.estimators.encoded import output_columns, outputs
from obesity_risk.features import model_columns
from obesity_risk.files import file_sha256
from obesity_risk.metrics import labels_of
from obesity_risk.registry import card_page as model_card
from obesity_risk.registry.card import (
    CardFeatures,
    CardInterval,
    CardMetrics,
    ChampionSummary,
    ModelCard,
)
from obesity_risk.serving.explain import Explanation, mean_abs_contributions
from obesity_risk.serving.predictor import ExplainError, Predictor
from obesity_risk.training.candidates import Candidate, at_threshold, decision_threshold
from obesity_risk.training.evaluation import (
    SliceMetrics,
    importance_figure,
    reference_frame,
    reliability,
    slice_metrics,
    split_metrics,
)
from obesity_risk.training.promotion import decide, load_incumbent
from obesity_risk.training.residuals import calibrate_interval, residual_bins, residual_figure
from obesity_risk.training.splits import TrainingData
from obesity_risk.training.tune import StudyResult

EXPLAINED_ROWS = 300


def explain_sample(s: Settings, pipeline: Any, data: TrainingData) -> list[Explanation]:
    """Every input column's contribution for up to ``EXPLAINED_ROWS`` validation rows (the
    global importance of the card and the MLflow plot); empty when the model has no path."""
    sample = data.validation.X.head(EXPLAINED_ROWS)
    predictor = Predictor.from_pipeline(pipeline, s.data, s.models.n_jobs, source="training")
    try:
        return predictor.explain_frame(sample, top=len(sample.columns) + 100)[1]
    except ExplainError:
        return []


def _metrics(chosen: Candidate, data: TrainingData, metric: str) -> CardMetrics:
    """The card's figures: OOF, validation, test, and the UCI file when it was not trained on."""
    pipeline, test = chosen.pipeline, chosen.test
    external = None
    if data.external is not None and data.external.y is not None and data.augment is None:
        external = split_metrics(
            outputs(pipeline, data.external.X), data.external.y, output_columns(pipeline)
        )
    regression = {}
    if test is not None and test.rmse is not None:
        regression = {
            "val_rmse": chosen.validation.rmse,
            "test_rmse": test.rmse,
            "test_mae": test.mae,
            "test_r2": test.r2,
            "test_coverage": test.coverage,
            "test_interval_width": test.interval_width,
        }
    return CardMetrics(
        **regression,
        cv_accuracy=chosen.cv.accuracy,
        cv_f1_macro=chosen.cv.f1_macro,
        val_accuracy=chosen.validation.accuracy,
        val_f1_macro=chosen.validation.f1_macro,
        test_accuracy=None if test is None else test.accuracy,
        test_f1_macro=None if test is None else test.f1_macro,
        test_log_loss=None if test is None else test.log_loss,
        test_ece=None if test is None else test.ece,
        external_accuracy=None if external is None else external.accuracy,
        external_f1_macro=None if external is None else external.f1_macro,
        metric=metric,
        cv_score=chosen.cv.value(metric),
        val_score=chosen.validation.value(metric),
        test_score=None if test is None else test.value(metric),
        test_balanced_accuracy=None if test is None else test.balanced_accuracy,
        test_roc_auc=None if test is None else test.roc_auc,
        test_pr_auc=None if test is None else test.pr_auc,
        test_brier=None if test is None else test.brier,
    )


def with_interval(
    s: Settings, chosen: Candidate, data: TrainingData
) -> tuple[Candidate, dict[str, Any]]:
    """A regression champion's conformal interval (calibrated on the validation split, which it
    was not fitted on), its test figures measured with it, and the card's residual bands."""
    interval = calibrate_interval(
        chosen.pipeline, data.validation.X, data.validation.y, s.models.interval_coverage
    )
    extra: dict[str, Any] = {"interval": CardInterval(**interval.model_dump())}
    if len(data.test):
        predicted = chosen.pipeline.predict(data.test.X)
        test = split_metrics(predicted, data.test.y, [], half_width=interval.half_width)
        chosen = chosen.model_copy(update={"test": test})
        extra["residuals"] = residual_bins(predicted, data.test.y)
        mlflow.log_figure(
            residual_figure(predicted, data.test.y, "champion: test", interval.half_width),
            "champion_residuals.png",
        )
        mlflow.log_metrics({"champion_test_coverage": test.coverage or 0.0})
    return chosen, extra


def build_card(
    s: Settings,
    budget_name: str,
    data: TrainingData,
    chosen: Candidate,
    results: dict[str, StudyResult],
    test_slices: list[SliceMetrics],
    items: list[Explanation],
) -> ModelCard:
    """The chosen model's card before registration (the registry adds version and hashes)."""
    pipeline = chosen.pipeline
    numeric, ordered, nominal = model_columns(s.data, s.features)
    files = [Path(data.train_source)] + (
        [] if data.external is None else [Path(data.external.source)]
    )
    return ModelCard(
        name=s.tracking.registered_model,
        family=chosen.name,
        description=s.data.description,
        intended_use=s.data.intended_use,
        limitations=list(s.data.limitations),
        run_id=chosen.run_id,
        budget=budget_name,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        package_version=__version__,
        metrics=_metrics(chosen, data, s.models.metric),
        task=s.data.task,
        classes=s.data.labels,
        features=CardFeatures(numeric=numeric, ordinal=ordered, nominal=nominal),
        params=chosen.params
        if chosen.name != "ensemble"
        else {n: results[n].best_params for n in pipeline.weights},
        members=getattr(pipeline, "weights", None) or {},
        class_weights=getattr(pipeline, "class_weights", None),
        calibration=getattr(getattr(pipeline, "calibrator", None), "method", None),
        slices=[m.model_dump() for m in test_slices],
        rows=data.rows,
        importance=mean_abs_contributions(items),
        importance_space=items[0].space if items else None,
        data={p.name: file_sha256(p) for p in files},
    )


def _labelled_figures(
    s: Settings, pipeline: Any, data: TrainingData, threshold: float | None
) -> tuple[list[SliceMetrics], list[SliceMetrics], list[dict[str, float]]]:
    """Validation and test slices with the labels served at ``threshold`` (a regression: the
    values, sliced by error), and for a binary model the positive class's calibration curve on
    the test split."""
    classes = output_columns(pipeline)

    def predict(X: pd.DataFrame) -> np.ndarray:
        if not classes:
            return pipeline.predict(X)
        return labels_of(pipeline.predict_proba(X), classes, threshold)

    val_slices = slice_metrics(data.validation.X, data.validation.y, predict(data.validation.X), s)
    test_slices, curve = [], []
    if len(data.test):
        test_slices = slice_metrics(data.test.X, data.test.y, predict(data.test.X), s)
        if threshold is not None:  # binary
            proba = pipeline.predict_proba(data.test.X)
            bins = reliability(proba, data.test.y, classes, s.evaluation.calibration_bins)
            curve = [b.model_dump() for b in bins[classes[1]]]
    return val_slices, test_slices, curve


def register_champion(
    s: Settings,
    budget_name: str,
    data: TrainingData,
    chosen: Candidate,
    results: dict[str, StudyResult],
    session_run_id: str,
) -> ChampionSummary:
    """Register the chosen model with its card; promote it if it passes the gate and beats
    the champion on the validation split; export it when promoted."""
    pipeline = chosen.pipeline
    threshold = decision_threshold(s, chosen, data)
    if threshold is not None:
        chosen = at_threshold(s, chosen, data, threshold)
    extra: dict[str, Any] = {}
    if not s.data.is_classification:
        chosen, extra = with_interval(s, chosen, data)
    val_slices, test_slices, curve = _labelled_figures(s, pipeline, data, threshold)
    items = explain_sample(s, pipeline, data)
    card = build_card(s, budget_name, data, chosen, results, test_slices, items)
    card = card.model_copy(update={"threshold": threshold, "calibration_curve": curve, **extra})
    reg = registry.Registry(s)
    reference = reference_frame(pipeline, data.fit.X, data.fit.y, s.data.target)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / registry.REFERENCE_FILE
        reference.to_parquet(path, index=False)
        reg.client.log_artifact(chosen.run_id, str(path), "reference")
        card = card.model_copy(update={"reference": file_sha256(path)})
    version = reg.register(chosen.model_uri, card)
    card = reg.card_for(reg.client.get_model_version(reg.name, version))
    incumbent = load_incumbent(s, version)
    decision = decide(s, chosen.validation, val_slices, data.validation, version, incumbent)
    alias = s.tracking.champion_alias if decision.promote else s.tracking.challenger_alias
    reg.set_alias(alias, version)
    mlflow.log_metrics(
        {
            f"champion_{k}": v
            for k, v in card.metrics.model_dump().items()
            if isinstance(v, float)
            and k.endswith(("accuracy", "_score", "roc_auc", "rmse", "mae", "r2", "coverage"))
        }
    )
    mlflow.log_dict(card.model_dump(mode="json"), "champion_card.json")
    mlflow.log_dict(
        {
            "validation": [m.model_dump() for m in val_slices],
            "test": [m.model_dump() for m in test_slices],
        },
        "slices.json",
    )
    mlflow.set_tag("promotion", decision.reason)
    if items:
        mlflow.log_figure(importance_figure(items), "shap_importance.png")
        mlflow.log_dict(card.importance, "shap_importance.json")
    page = model_card.write(card, s.reports_dir / "model-card", decision.promote)
    mlflow.log_artifact(str(page), "model-card")
    export = None
    if decision.promote:
        export = str(registry.export_local(s, pipeline, data.validation.X, card, reference))
    return ChampionSummary(
        card=card,
        alias=alias,
        promoted=decision.promote,
        reason=decision.reason,
        previous_champion_val_accuracy=decision.incumbent_val_accuracy,
        model_uri=f"models:/{s.tracking.registered_model}/{version}",
        alias_uri=f"models:/{s.tracking.registered_model}@{alias}",
        logged_model_uri=chosen.model_uri,
        session_run_id=session_run_id,
        export=export,
    )
