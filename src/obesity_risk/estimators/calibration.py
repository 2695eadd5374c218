"""A fitted calibration map from probabilities to calibrated probabilities (sklearn's
:class:`~sklearn.calibration.CalibratedClassifierCV` over a frozen :class:`ProbabilityInput`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator


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
