"""Candidates for champion: a fitted model measured on every split and logged to the active
MLflow run, the choice between the best single family and the ensemble, and what each step
of the ensemble added."""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from sklearn.metrics import classification_report

from obesity_risk import registry
from obesity_risk.config import Settings
from obesity_risk.estimators.encoded import output_columns, outputs
from obesity_risk.metrics import best_threshold, get_metric
from obesity_risk.training.blending import BlendFit
from obesity_risk.training.evaluation import (
    SplitMetrics,
    confusion_figure,
    reliability,
    reliability_figure,
    split_metrics,
)
from obesity_risk.training.residuals import residual_figure
from obesity_risk.training.splits import TrainingData


class Candidate(BaseModel):
    """A fitted model that may become champion, with its figures on every split."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str  # a family, or "ensemble"
    pipeline: Any
    oof: np.ndarray
    cv: SplitMetrics
    validation: SplitMetrics
    test: SplitMetrics | None
    params: dict[str, Any]
    run_id: str
    model_uri: str


def held_out_metrics(
    pipeline: Any, data: TrainingData, bins: int
) -> tuple[SplitMetrics, SplitMetrics | None]:
    """Validation figures, and test figures when the test split is not empty."""
    classes = output_columns(pipeline)
    val = split_metrics(outputs(pipeline, data.validation.X), data.validation.y, classes, bins)
    test = None
    if len(data.test):
        test = split_metrics(outputs(pipeline, data.test.X), data.test.y, classes, bins)
    return val, test


def _log_figures(name: str, pipeline: Any, oof: np.ndarray, data: TrainingData, bins: int) -> None:
    """The candidate's plots: confusion matrix, reliability and report of a classifier; the
    validation residuals of a regressor."""
    classes = output_columns(pipeline)
    predicted = pipeline.predict(data.validation.X)
    if not classes:
        mlflow.log_figure(
            residual_figure(predicted, data.validation.y, f"{name}: validation residuals", None),
            "residuals.png",
        )
        return
    mlflow.log_figure(
        confusion_figure(data.validation.y, predicted, classes, f"{name}: validation"),
        "confusion_matrix.png",
    )
    mlflow.log_figure(
        reliability_figure(
            reliability(oof, data.fit.y, classes, bins), f"{name}: out-of-fold reliability"
        ),
        "reliability.png",
    )
    mlflow.log_text(
        classification_report(data.validation.y, predicted, digits=4),
        "classification_report.txt",
    )


def measure(
    s: Settings,
    name: str,
    pipeline: Any,
    oof: np.ndarray,
    data: TrainingData,
    params: dict[str, Any],
    run_id: str,
) -> Candidate:
    """Measure a fitted model on OOF, validation and test; log it to the active run."""
    bins = s.evaluation.calibration_bins
    cv = split_metrics(oof, data.fit.y, output_columns(pipeline), bins)
    val, test = held_out_metrics(pipeline, data, bins)
    figures = {"cv": cv, "val": val} | ({} if test is None else {"test": test})
    metric = s.models.metric
    logged = {f"{split}_{metric}": m.value(metric) for split, m in figures.items()}
    logged |= {  # the configured metric first: MLflow's runs table lists metrics in this order
        f"{split}_{k}": v
        for split, m in figures.items()
        for k, v in m.model_dump().items()
        if v is not None  # roc_auc: binary tasks only; regression: no accuracy
    }
    model_info = registry.log_pipeline(pipeline, data.validation.X)
    # linked to the logged model too: MLflow's Models tab lists them beside each model
    mlflow.log_metrics(logged, model_id=model_info.model_id)
    _log_figures(name, pipeline, oof, data, bins)
    return Candidate(
        name=name,
        pipeline=pipeline,
        oof=oof,
        cv=cv,
        validation=val,
        test=test,
        params=params,
        run_id=run_id,
        model_uri=model_info.model_uri,
    )


def decision_threshold(s: Settings, chosen: Candidate, data: TrainingData) -> float | None:
    """A binary champion's threshold: ``models.threshold``, or with ``auto`` the one with the
    best ``models.metric`` on the validation split; None for more than two classes."""
    classes = output_columns(chosen.pipeline)
    if len(classes) != 2:
        return None
    if s.models.threshold != "auto":
        return float(s.models.threshold)
    proba = chosen.pipeline.predict_proba(data.validation.X)
    return best_threshold(s.models.metric, proba, data.validation.y, classes)


def at_threshold(s: Settings, chosen: Candidate, data: TrainingData, threshold: float) -> Candidate:
    """``chosen`` measured again with its labels at ``threshold`` (OOF, validation, test)."""
    bins, pipeline = s.evaluation.calibration_bins, chosen.pipeline
    classes = [str(c) for c in pipeline.classes_]

    def measured(proba: np.ndarray, y: pd.Series) -> SplitMetrics:
        return split_metrics(proba, y, classes, bins, threshold)

    test = None
    if chosen.test is not None:
        test = measured(pipeline.predict_proba(data.test.X), data.test.y)
    return chosen.model_copy(
        update={
            "cv": measured(chosen.oof, data.fit.y),
            "validation": measured(pipeline.predict_proba(data.validation.X), data.validation.y),
            "test": test,
        }
    )


def choose(s: Settings, best: Candidate, ensemble: Candidate) -> Candidate:
    """The ensemble when its validation ``models.metric`` beats the best single family's by
    more than ``ensemble.min_gain`` (in the metric's units and direction; a tie at 0 goes to
    OOF). Not decided on OOF: the class weights were tuned there, so the blend's OOF figure is
    optimistic."""
    metric = get_metric(s.models.metric)
    gain = metric.gain(ensemble.validation.value(metric.name), best.validation.value(metric.name))
    oof_gain = metric.gain(ensemble.cv.value(metric.name), best.cv.value(metric.name))
    if gain > s.ensemble.min_gain or (gain == s.ensemble.min_gain == 0 and oof_gain > 0):
        return ensemble
    return best


def steps(
    best: Candidate, fitted: BlendFit | None, ensemble: Candidate | None, metric: str = "rmse"
) -> dict[str, dict[str, float | None]]:
    """OOF (and test) accuracy after each step: best single family, blend, class weights,
    calibration (its OOF figure cross-fitted); the test figure is the final model's. A
    regression's steps (best single, blend) are in ``models.metric``."""
    if best.cv.accuracy is None:  # a regression
        out = {
            f"best single ({best.name})": {
                "oof": best.cv.value(metric),
                "test": None if best.test is None else best.test.value(metric),
            }
        }
        if fitted is not None and ensemble is not None:
            test_value = None if ensemble.test is None else ensemble.test.value(metric)
            out["blend"] = {"oof": fitted.blend_score, "test": test_value}
        return out

    def test(c: Candidate) -> float | None:
        return None if c.test is None else c.test.accuracy

    out = {f"best single ({best.name})": {"oof": best.cv.accuracy, "test": test(best)}}
    if fitted is not None and ensemble is not None:
        choice = fitted.calibration
        method = None if choice is None else choice.method
        out["blend"] = {"oof": fitted.blend_accuracy, "test": None}
        out["blend + class weights"] = {
            "oof": fitted.weighted_accuracy,
            "test": test(ensemble) if method is None else None,
        }
        if choice is not None and method is not None:
            out[f"+ calibration ({method})"] = {
                "oof": choice.accuracy[method],
                "test": test(ensemble),
            }
    return out
