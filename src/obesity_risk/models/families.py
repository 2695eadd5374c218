"""The model families declared in ``models.yaml``: estimators, search spaces, target encoding."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import optuna
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from obesity_risk.config.settings import Budget, ModelFamily, ParamSpace, Settings
from obesity_risk.errors import ConfigError


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


def _import(path: str) -> type:
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"models.families: cannot import estimator {path!r}: {exc}") from exc


def effective_family(settings: Settings, name: str, budget: Budget | None = None) -> ModelFamily:
    """The family's config with the budget's space/fixed overrides applied."""
    try:
        family = settings.models.families[name]
    except KeyError:
        known = ", ".join(settings.models.families)
        raise ConfigError(f"unknown model family {name!r}; known: {known}") from None
    if budget is None:
        return family
    return family.model_copy(
        update={
            "space": {**family.space, **budget.space_overrides.get(name, {})},
            "fixed": {**family.fixed, **budget.fixed_overrides.get(name, {})},
        }
    )


def make_estimator(
    settings: Settings, family: ModelFamily, params: dict[str, Any] | None = None
) -> EncodedTargetClassifier:
    """Instantiate ``family`` with fixed + tuned params, seed and thread count applied."""
    kwargs: dict[str, Any] = dict(family.fixed)
    if family.seed_param:
        kwargs[family.seed_param] = settings.seed
    if family.threads_param:
        kwargs[family.threads_param] = settings.models.n_jobs
    kwargs.update(params or {})
    cls = _import(family.estimator)
    try:
        estimator = cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"models.families: {family.estimator}({kwargs}): {exc}") from exc
    return EncodedTargetClassifier(estimator, classes=list(settings.data.classes))


def clip_to_space(params: dict[str, Any], space: dict[str, ParamSpace]) -> dict[str, Any]:
    """Clip numeric ``params`` into the (possibly budget-narrowed) ``space`` ranges."""
    clipped = dict(params)
    for name, spec in space.items():
        if name in clipped and spec.type != "categorical":
            value = min(max(clipped[name], spec.low), spec.high)
            clipped[name] = int(value) if spec.type == "int" else float(value)
    return clipped


def suggest(trial: optuna.Trial, space: dict[str, ParamSpace]) -> dict[str, Any]:
    """Sample one configuration from ``space``."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if spec.type == "categorical":
            params[name] = trial.suggest_categorical(name, spec.choices)
        elif spec.type == "int":
            params[name] = trial.suggest_int(
                name, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log
            )
        else:
            params[name] = trial.suggest_float(
                name, spec.low, spec.high, step=spec.step, log=spec.log
            )
    return params
