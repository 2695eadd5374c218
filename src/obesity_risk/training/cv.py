"""Cross-validation of one pipeline on the training folds: the configured metric (and for a
classifier accuracy and macro-F1) and the out-of-fold outputs (class probabilities, or a
regression's values), fold by fold (the tuner prunes on the running mean of the metric)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import optuna
from pydantic import BaseModel, ConfigDict, Field
from sklearn.base import clone

from obesity_risk.estimators.encoded import output_columns, outputs
from obesity_risk.metrics import score
from obesity_risk.training.splits import TrainingData


class CVScores(BaseModel):
    """Per-fold scores and the out-of-fold outputs (NaN rows: folds not run); a regression has
    no accuracy or macro-F1 (empty lists) and one output column."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    accuracy: list[float] = Field(default_factory=list)
    f1_macro: list[float] = Field(default_factory=list)
    other: dict[str, list[float]] = Field(default_factory=dict)  # the configured metric, if
    oof: np.ndarray | None = None  # another; (rows of data.fit, classes or 1 for regression)
    classes: list[str] = Field(default_factory=list)  # empty: a regression

    def mean(self, metric: str) -> float:
        """Mean of one metric over the folds run."""
        return float(np.mean(self.per_fold()[metric]))

    def per_fold(self) -> dict[str, list[float]]:
        """The fold scores by metric name."""
        labels = {"accuracy": self.accuracy, "f1_macro": self.f1_macro} if self.classes else {}
        return {**labels, **self.other}


def cross_validate(
    pipeline: Any,
    data: TrainingData,
    metric: str = "accuracy",
    trial: optuna.Trial | None = None,
    time_limit_s: float | None = None,
) -> CVScores:
    """Fit/score ``pipeline`` on each fold of ``data`` (training folds augmented, validation
    folds never); report the running mean to ``trial`` for pruning.

    Raises:
        optuna.TrialPruned: when the pruner stops the trial, or when ``time_limit_s`` is
            exceeded after a fold (fold scores so far are attached to the trial).
    """
    started = time.perf_counter()
    scores = CVScores()
    for step, ((train, valid), (_, valid_idx)) in enumerate(
        zip(data.fold_frames(), data.folds, strict=True)
    ):
        model = clone(pipeline).fit(train.X, train.y)
        proba = outputs(model, valid.X)
        if scores.oof is None:
            scores.classes = output_columns(model)
            scores.oof = np.full((len(data.fit), proba.shape[1]), np.nan)
        scores.oof[valid_idx] = proba
        if scores.classes:
            scores.accuracy.append(score("accuracy", proba, valid.y, scores.classes))
            scores.f1_macro.append(score("f1_macro", proba, valid.y, scores.classes))
        if metric not in ("accuracy", "f1_macro") or not scores.classes:
            value = score(metric, proba, valid.y, scores.classes)
            scores.other.setdefault(metric, []).append(value)
        if trial is not None:
            trial.set_user_attr("fold_scores", scores.per_fold())
            trial.report(scores.mean(metric), step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after fold {step + 1}/{len(data.folds)}")
            over_time = time_limit_s is not None and time.perf_counter() - started > time_limit_s
            if over_time and step + 1 < len(data.folds):
                trial.set_user_attr("over_time", True)
                raise optuna.TrialPruned(f"over the {time_limit_s:.0f}s trial time limit")
    return scores
