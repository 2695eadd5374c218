"""The ensemble as one classifier: a weighted blend of fitted pipelines' probabilities, optional
per-class weights, an optional calibration map (fitted by :mod:`obesity_risk.training.blending`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from obesity_risk.estimators.calibration import Calibrator, calibrate


def blend(probas: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Weighted average of probability matrices (weights sum to 1)."""
    out = np.zeros_like(np.asarray(probas[0], dtype=np.float64))
    for proba, weight in zip(probas, weights, strict=True):
        out += weight * np.asarray(proba, dtype=np.float64)
    return out


def reweight(proba: np.ndarray, class_weights: Sequence[float] | None) -> np.ndarray:
    """Probabilities times per-class weights, renormalized per row (None: unchanged)."""
    if class_weights is None:
        return proba
    scaled = proba * np.asarray(class_weights, dtype=np.float64)
    return scaled / scaled.sum(axis=1, keepdims=True)


class BlendClassifier(ClassifierMixin, BaseEstimator):
    """Weighted blend of fitted pipelines' probabilities, times optional class weights, through
    an optional calibrator."""

    def __init__(
        self,
        members: dict[str, Any] | None = None,
        weights: dict[str, float] | None = None,
        class_weights: list[float] | None = None,
        calibrator: Calibrator | None = None,
    ) -> None:
        self.members = members
        self.weights = weights
        self.class_weights = class_weights
        self.calibrator = calibrator

    def fit(self, X: pd.DataFrame, y: pd.Series) -> BlendClassifier:
        """Fit every member pipeline on ``X``, ``y`` (weights stay as given)."""
        for pipeline in (self.members or {}).values():
            pipeline.fit(X, y)
        self.classes_ = self._first().classes_
        return self

    def _first(self) -> Any:
        if not self.members:
            raise ValueError("BlendClassifier has no members")
        return next(iter(self.members.values()))

    @property
    def named_steps(self) -> dict[str, Any]:
        """The first member's steps (the input guard is shared by every member)."""
        return dict(self._first().named_steps)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Blended, class-weighted, calibrated probabilities (columns in ``classes_`` order)."""
        members, weights = self.members or {}, self.weights or {}
        probas = [members[n].predict_proba(X) for n in weights]
        mixed = reweight(blend(probas, list(weights.values())), self.class_weights)
        return calibrate(mixed, getattr(self, "calibrator", None))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Most probable class per row."""
        return np.asarray(self.classes_)[np.argmax(self.predict_proba(X), axis=1)]


class BlendRegressor(RegressorMixin, BaseEstimator):
    """Weighted blend (non-negative weights summing to 1) of fitted regression pipelines."""

    def __init__(
        self, members: dict[str, Any] | None = None, weights: dict[str, float] | None = None
    ) -> None:
        self.members = members
        self.weights = weights

    def fit(self, X: pd.DataFrame, y: pd.Series) -> BlendRegressor:
        """Fit every member pipeline on ``X``, ``y`` (weights stay as given)."""
        for pipeline in (self.members or {}).values():
            pipeline.fit(X, y)
        return self

    @property
    def named_steps(self) -> dict[str, Any]:
        """The first member's steps (the input guard is shared by every member)."""
        if not self.members:
            raise ValueError("BlendRegressor has no members")
        return dict(next(iter(self.members.values())).named_steps)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The weighted mean of the members' predictions, one value per row."""
        members, weights = self.members or {}, self.weights or {}
        values = [np.asarray(members[n].predict(X), dtype=np.float64)[:, None] for n in weights]
        return blend(values, list(weights.values()))[:, 0]
