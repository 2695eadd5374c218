"""The metrics a model is tuned, blended, gated and promoted on (``models.metric``): each one's
name, direction and computation from a model's outputs: class probabilities (one column per
class) for classification, the predicted value (one column) for regression.

Every stage that compares two models asks the configured :class:`Metric` which is better
(:meth:`Metric.better`) instead of assuming "higher", so ``log_loss`` (lower is better) works
everywhere ``accuracy`` does: Optuna's direction and pruning, the ensemble's class weights,
the promotion decision and the quality gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
)

_EPS = 1e-15


@dataclass(frozen=True)
class Metric:
    """A model-quality figure and which way is better."""

    name: str
    higher_is_better: bool
    from_labels: bool  # computed from the predicted labels (else from the probabilities)
    binary_only: bool = False
    regression: bool = False

    @property
    def direction(self) -> str:
        """Optuna's study direction."""
        return "maximize" if self.higher_is_better else "minimize"

    def better(self, new: float, old: float) -> bool:
        """Whether ``new`` is strictly better than ``old``."""
        return new > old if self.higher_is_better else new < old

    def gain(self, new: float, old: float) -> float:
        """How much better ``new`` is than ``old`` (negative: worse), in the metric's units."""
        return new - old if self.higher_is_better else old - new

    def passes(self, value: float, floor: float) -> bool:
        """Whether ``value`` is at least as good as the configured ``floor``."""
        return value >= floor if self.higher_is_better else value <= floor


CLASSIFICATION: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", higher_is_better=True, from_labels=True),
        Metric("balanced_accuracy", higher_is_better=True, from_labels=True),
        Metric("f1_macro", higher_is_better=True, from_labels=True),
        Metric("log_loss", higher_is_better=False, from_labels=False),
        Metric("roc_auc", higher_is_better=True, from_labels=False, binary_only=True),
    )
}


REGRESSION: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("rmse", higher_is_better=False, from_labels=False, regression=True),
        Metric("mae", higher_is_better=False, from_labels=False, regression=True),
        Metric("r2", higher_is_better=True, from_labels=False, regression=True),
    )
}
METRICS: dict[str, Metric] = CLASSIFICATION | REGRESSION
DEFAULT_METRIC = {"multiclass": "accuracy", "binary": "accuracy", "regression": "rmse"}


def get_metric(name: str) -> Metric:
    """The metric called ``name`` (a ``KeyError`` names the known ones)."""
    if name not in METRICS:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    return METRICS[name]


def regression_score(name: str, predicted: np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """``rmse``, ``mae`` or ``r2`` of predicted values against the true ones."""
    truth = np.asarray(y, dtype=np.float64)
    values = np.asarray(predicted, dtype=np.float64).reshape(len(truth))
    if name == "rmse":
        return float(np.sqrt(np.mean((values - truth) ** 2)))
    if name == "mae":
        return float(mean_absolute_error(truth, values))
    if name == "r2":
        return float(r2_score(truth, values)) if len(truth) > 1 else float("nan")
    raise KeyError(f"unknown regression metric {name!r}; known: {', '.join(REGRESSION)}")


def truth_index(y: Sequence[str] | np.ndarray, classes: list[str]) -> np.ndarray:
    """Each label's column in ``classes``."""
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[str(v)] for v in np.asarray(y)], dtype=np.intp)


def log_loss(proba: np.ndarray, y: Sequence[str] | np.ndarray, classes: list[str]) -> float:
    """Mean negative log-probability of the true class (columns in ``classes`` order; sklearn's
    ``log_loss`` would assume sorted class names)."""
    truth = truth_index(y, classes)
    picked = np.asarray(proba, dtype=np.float64)[np.arange(len(truth)), truth]
    return float(-np.mean(np.log(np.clip(picked, _EPS, 1.0))))


def labels_of(proba: np.ndarray, classes: list[str], threshold: float | None = None) -> np.ndarray:
    """The predicted class of each row: the most probable one, or for two classes with a
    ``threshold`` the positive class (``classes[1]``) when its probability reaches it."""
    proba = np.asarray(proba)
    if threshold is not None and len(classes) == 2:
        return np.where(proba[:, 1] >= threshold, classes[1], classes[0]).astype(object)
    return np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]


def score(
    name: str,
    proba: np.ndarray,
    y: Sequence[str] | np.ndarray,
    classes: list[str],
    threshold: float | None = None,
) -> float:
    """The metric ``name`` of outputs ``proba`` (columns in ``classes`` order; no classes: a
    regression's one column of values) against ``y``; a binary task's positive class is
    ``classes[1]``, predicted at ``threshold`` (None: the most probable class)."""
    if not classes:
        return regression_score(name, proba, y)
    truth = np.asarray(y).astype(str)
    if name == "log_loss":
        return log_loss(proba, truth, classes)
    if name == "roc_auc":
        if len(classes) != 2:
            raise ValueError("roc_auc is defined here for binary tasks only")
        positive = truth == classes[1]
        if positive.all() or not positive.any():
            return float("nan")  # one class only: no ranking to measure
        return float(roc_auc_score(positive, np.asarray(proba)[:, 1]))
    predicted = labels_of(proba, classes, threshold).astype(str)
    by_labels = {
        "accuracy": accuracy_score,
        "balanced_accuracy": balanced_accuracy_score,
        "f1_macro": lambda t, p: f1_score(t, p, average="macro"),
    }
    if name in by_labels:
        return float(by_labels[name](truth, predicted))
    raise KeyError(f"unknown classification metric {name!r}; known: {', '.join(CLASSIFICATION)}")


def best_threshold(
    metric: str, proba: np.ndarray, y: Sequence[str] | np.ndarray, classes: list[str]
) -> float:
    """The positive-class threshold (0.05 to 0.95 by 0.01) with the best ``metric`` (ties: the
    one nearest 0.5); 0.5 for a metric of the probabilities (log-loss, ROC AUC), which no
    threshold changes."""
    chosen = get_metric(metric)
    if not chosen.from_labels:
        return 0.5
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    values = [score(metric, proba, y, classes, float(t)) for t in grid]
    best = max(values) if chosen.higher_is_better else min(values)
    ties = [float(t) for t, v in zip(grid, values, strict=True) if v == best]
    return min(ties, key=lambda t: abs(t - 0.5))
