"""The model families declared in ``models.yaml``: estimators and search spaces."""

from __future__ import annotations

import importlib
from typing import Any

import optuna

from obesity_risk.config import Settings
from obesity_risk.config.schema import Budget, ModelFamily, ParamSpace
from obesity_risk.errors import ConfigError
from obesity_risk.estimators.encoded import EncodedTargetClassifier, FloatTargetRegressor


def _import(path: str) -> type:
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"models.families: cannot import estimator {path!r}: {exc}") from exc


def effective_family(settings: Settings, name: str, budget: Budget | None = None) -> ModelFamily:
    """The family's config for the task (a regression: its regressor) with the budget's
    space/fixed overrides applied."""
    try:
        family = settings.models.families[name]
    except KeyError:
        known = ", ".join(settings.models.families)
        raise ConfigError(f"unknown model family {name!r}; known: {known}") from None
    if not settings.data.is_classification:  # its regressor: the variant's entries win
        variant = family.regression
        if variant is None:
            raise ConfigError(f"models.families.{name}: no regression variant")
        family = family.model_copy(
            update={
                "estimator": variant.estimator,
                "fixed": {**family.fixed, **variant.fixed},
                "space": {**family.space, **variant.space},
                "warm_start": list(variant.warm_start),
                "regression": None,
            }
        )
    budget_space = budget.space_overrides.get(name, {}) if budget else {}
    budget_fixed = budget.fixed_overrides.get(name, {}) if budget else {}
    space = {k: v for k, v in {**family.space, **budget_space}.items() if v is not None}
    return family.model_copy(update={"space": space, "fixed": {**family.fixed, **budget_fixed}})


def make_estimator(
    settings: Settings, family: ModelFamily, params: dict[str, Any] | None = None
) -> EncodedTargetClassifier | FloatTargetRegressor:
    """Instantiate ``family`` with fixed + tuned params, seed and thread count applied, behind
    the task's target wrapper."""
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
    if not settings.data.is_classification:
        return FloatTargetRegressor(estimator)
    return EncodedTargetClassifier(estimator, classes=settings.data.labels)


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
