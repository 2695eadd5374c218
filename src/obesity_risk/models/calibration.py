"""Optional probability calibration of the ensemble, fitted on out-of-fold probabilities.

sklearn's :class:`~sklearn.calibration.CalibratedClassifierCV` does the work (one-vs-rest
sigmoid or isotonic maps, rows renormalised) over a frozen :class:`ProbabilityInput`: a
"classifier" whose input is the probability matrix itself. The calibrator is therefore fitted
on out-of-fold predictions, never on rows a member was fitted on.

``auto`` keeps a method only when, cross-fitted over the out-of-fold rows (fit on k-1 parts,
scored on the held-out part), it lowers the log-loss and costs at most ``max_accuracy_drop``
accuracy (one-vs-rest maps renormalised per row can move a few argmaxes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score
from sklearn.model_selection import StratifiedKFold

from obesity_risk.models.evaluation import multiclass_log_loss

METHODS = ("sigmoid", "isotonic")


class ProbabilityInput(ClassifierMixin, BaseEstimator):
    """A classifier whose input is already a probability matrix (columns in ``classes``)."""

    def __init__(self, classes: Sequence[str] | None = None) -> None:
        self.classes = classes

    def fit(self, X: Any = None, y: Any = None) -> ProbabilityInput:
        """Nothing to learn: remembers the classes."""
        del X, y
        self.classes_ = np.asarray(self.classes, dtype=object)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """The input itself."""
        return np.asarray(X, dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class per row."""
        return self.classes_[np.argmax(np.asarray(X), axis=1)]


class Calibrator:
    """A fitted calibration map from probabilities to calibrated probabilities, columns kept
    in the model's class order."""

    def __init__(self, method: str, classes: Sequence[str], proba: np.ndarray, y: Any) -> None:
        base = FrozenEstimator(ProbabilityInput(list(classes)).fit())
        self.method = method
        self.model = CalibratedClassifierCV(base, method=method).fit(proba, np.asarray(y))
        fitted = [str(c) for c in self.model.classes_]
        self.order = np.array([fitted.index(str(c)) for c in classes])

    def __call__(self, proba: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(proba)[:, self.order]


def calibrate(proba: np.ndarray, calibrator: Calibrator | None) -> np.ndarray:
    """Probabilities through the calibrator (None: unchanged)."""
    return proba if calibrator is None else calibrator(proba)


class CalibrationChoice(BaseModel):
    """What the cross-fitted comparison found (log-loss and accuracy per method)."""

    method: str | None  # None: no method helped (or calibration is off)
    log_loss: dict[str, float]
    accuracy: dict[str, float]


def choose_calibration(
    proba: np.ndarray,
    y: Any,
    classes: Sequence[str],
    setting: str,
    *,
    folds: int = 5,
    seed: int = 0,
    max_accuracy_drop: float = 0.0,
) -> CalibrationChoice:
    """Compare no calibration with each candidate method, cross-fitted on the OOF rows.

    ``setting`` is ``none``, a method (kept only if it helps, like ``auto``) or ``auto``."""
    if setting == "none":
        return CalibrationChoice(method=None, log_loss={}, accuracy={})
    truth = np.asarray(y).astype(str)
    labels = np.asarray(classes)
    held = {m: np.zeros_like(proba, dtype=np.float64) for m in METHODS if setting in (m, "auto")}
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(proba, truth)
    for fit_rows, score_rows in splits:
        for method, out in held.items():
            out[score_rows] = Calibrator(method, classes, proba[fit_rows], truth[fit_rows])(
                proba[score_rows]
            )
    held["none"] = np.asarray(proba, dtype=np.float64)
    losses = {m: multiclass_log_loss(p, truth, list(classes)) for m, p in held.items()}
    accuracy = {
        m: float(accuracy_score(truth, labels[np.argmax(p, axis=1)])) for m, p in held.items()
    }
    better = [
        m
        for m in held
        if m != "none"
        and losses[m] < losses["none"]
        and accuracy[m] >= accuracy["none"] - max_accuracy_drop
    ]
    method = min(better, key=lambda m: losses[m]) if better else None
    return CalibrationChoice(method=method, log_loss=losses, accuracy=accuracy)
