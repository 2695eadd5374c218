"""The metrics a model is tuned, blended, gated and promoted on (``models.metric``): each one's
name, direction and computation from class probabilities.

Every stage that compares two models asks the configured :class:`Metric` which is better
(:meth:`Metric.better`) instead of assuming "higher", so ``log_loss`` (lower is better) works
everywhere ``accuracy`` does: Optuna's direction and pruning, the ensemble's class weights,
the promotion decision and the quality gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

_EPS = 1e-15


@dataclass(frozen=True)
class Metric:
    """A model-quality figure and which way is better."""

    name: str
    higher_is_better: bool
    from_labels: bool  # computed from the predicted labels (else from the probabilities)
    binary_only: bool = False

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


def get_metric(name: str) -> Metric:
    """The metric called ``name`` (a ``KeyError`` names the known ones)."""
    if name not in CLASSIFICATION:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(CLASSIFICATION)}")
    return CLASSIFICATION[name]


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
    """The metric ``name`` of probabilities ``proba`` (columns in ``classes`` order) against
    labels ``y``; a binary task's positive class is ``classes[1]``, predicted at ``threshold``
    (None: the most probable class)."""
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
    if name == "accuracy":
        return float(accuracy_score(truth, predicted))
    if name == "balanced_accuracy":
        return float(balanced_accuracy_score(truth, predicted))
    if name == "f1_macro":
        return float(f1_score(truth, predicted, average="macro"))
    raise KeyError(f"unknown metric {name!r}; known: {', '.join(CLASSIFICATION)}")


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
