"""Integer-coded targets behind class names, float targets behind a regressor: every family's
estimator is wrapped the same way, and :func:`outputs` reads any fitted model as one matrix."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_regressor
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted


class EncodedTargetClassifier(ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` on integer-coded labels; predict the original labels.

    XGBoost needs labels 0..K-1; wrapping every family the same way keeps ``classes_``
    (the class names, in a fixed order) identical across families.

    Args:
        estimator: any sklearn-compatible classifier.
        classes: the label order; learned from ``y`` (sorted) when None.
    """

    def __init__(self, estimator: Any = None, classes: list[str] | None = None) -> None:
        self.estimator = estimator
        self.classes = classes

    def fit(self, X: Any, y: Any) -> EncodedTargetClassifier:
        """Encode ``y`` and fit a clone of the estimator."""
        self.encoder_ = LabelEncoder()
        if self.classes is not None:
            unknown = sorted(set(map(str, np.unique(y))) - set(self.classes))
            if unknown:
                raise ValueError(f"labels {unknown} are not among the declared classes")
            self.encoder_.classes_ = np.asarray(self.classes, dtype=object)
            codes = self.encoder_.transform(y)
        else:
            codes = self.encoder_.fit_transform(y)
        self.classes_ = self.encoder_.classes_
        self.estimator_ = clone(self.estimator).fit(X, codes)
        self.n_features_in_ = getattr(self.estimator_, "n_features_in_", np.shape(X)[1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities with one column per entry of ``classes_``."""
        check_is_fitted(self, "estimator_")
        proba = np.asarray(self.estimator_.predict_proba(X), dtype=float)
        fitted = np.asarray(self.estimator_.classes_, dtype=int)
        if len(fitted) == len(self.classes_):
            return proba
        # a class absent from the training labels gets probability 0 (declared classes only)
        full = np.zeros((proba.shape[0], len(self.classes_)))
        full[:, fitted] = proba
        return full

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class name per row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class FloatTargetRegressor(RegressorMixin, BaseEstimator):
    """Fit ``estimator`` on a float64 target; predict float64 values (one per row).

    The regression counterpart of :class:`EncodedTargetClassifier`: every family's regressor
    sits behind the same ``estimator_`` attribute, so the compiled and native paths and the
    explanations reach the booster the same way for both task kinds.
    """

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any) -> FloatTargetRegressor:
        """Fit a clone of the estimator on ``y`` as float64."""
        self.estimator_ = clone(self.estimator).fit(X, np.asarray(y, dtype=np.float64))
        self.n_features_in_ = getattr(self.estimator_, "n_features_in_", np.shape(X)[1])
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, float64, one per row."""
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict(X), dtype=np.float64).reshape(-1)


def outputs(model: Any, X: Any) -> np.ndarray:
    """A fitted model's outputs as one matrix: class probabilities (one column per class) for
    a classifier, the predicted value (one column) for a regressor. Every stage that blends,
    scores or explains a model reads this one shape."""
    if is_regressor(model):
        return np.asarray(model.predict(X), dtype=np.float64).reshape(-1, 1)
    return np.asarray(model.predict_proba(X), dtype=np.float64)


def output_columns(model: Any) -> list[str]:
    """The classes of a classifier (its outputs' columns); empty for a regressor."""
    return [] if is_regressor(model) else [str(c) for c in model.classes_]
