"""Fitting the ensemble champion: weights on out-of-fold probabilities (multiclass log-loss over the
simplex), optional per-class weights tuned for ``models.metric`` (Optuna), an optional
calibration map kept only when it lowers the cross-fitted OOF log-loss."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd
from pydantic import BaseModel
from scipy.optimize import minimize
from sklearn.base import is_regressor
from sklearn.metrics import accuracy_score

from obesity_risk.estimators.blend import BlendClassifier, BlendRegressor, blend, reweight
from obesity_risk.estimators.calibration import Calibrator, calibrate
from obesity_risk.metrics import get_metric, score
from obesity_risk.training.calibration import CalibrationChoice, choose_calibration
from obesity_risk.training.evaluation import multiclass_log_loss

_EPS = 1e-15


def fit_weights(probas: Sequence[np.ndarray], y: np.ndarray, classes: list[str]) -> list[float]:
    """Simplex weights (non-negative, summing to 1; softmax parametrisation) minimising the
    blend's multiclass log-loss, or a regression's (no ``classes``) mean squared error."""
    if len(probas) == 1:
        return [1.0]
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in probas])
    index = {c: i for i, c in enumerate(classes)}
    truth = np.array([index[v] for v in y]) if classes else np.zeros(0, dtype=np.intp)
    rows = np.arange(len(truth))
    values = np.zeros(0) if classes else np.asarray(y, dtype=np.float64)

    def loss(theta: np.ndarray) -> float:
        w = np.exp(theta - theta.max())
        w /= w.sum()
        mixed = np.tensordot(w, stacked, axes=1)
        if not classes:
            return float(np.mean((mixed[:, 0] - values) ** 2))
        return float(-np.mean(np.log(np.clip(mixed[rows, truth], _EPS, 1.0))))

    found = minimize(loss, np.zeros(len(probas)), method="Nelder-Mead", options={"maxiter": 2000})
    w = np.exp(found.x - found.x.max())
    return [float(v) for v in w / w.sum()]


def fit_class_weights(
    proba: np.ndarray,
    y: np.ndarray,
    classes: list[str],
    trials: int,
    seed: int,
    metric: str = "accuracy",
) -> list[float] | None:
    """Per-class weights (in [0.5, 2]) that improve the OOF ``metric``; None when none helps."""
    chosen = get_metric(metric)

    def measured(weights: Sequence[float]) -> float:
        # a label metric needs only the argmax of the weighted rows; others the probabilities
        weighted = proba * weights if chosen.from_labels else reweight(proba, weights)
        return score(metric, weighted, y, classes)

    baseline = measured([1.0] * len(classes))

    def objective(trial: optuna.Trial) -> float:
        weights = [trial.suggest_float(f"w{i}", 0.5, 2.0, log=True) for i in range(len(classes))]
        return measured(weights)

    study = optuna.create_study(
        direction=chosen.direction, sampler=optuna.samplers.TPESampler(seed=seed)
    )
    study.enqueue_trial({f"w{i}": 1.0 for i in range(len(classes))})
    study.optimize(objective, n_trials=trials)
    if not chosen.better(study.best_value, baseline):
        return None
    return [float(study.best_params[f"w{i}"]) for i in range(len(classes))]


class BlendFit(BaseModel):
    """What blending found on out-of-fold predictions (all figures OOF; a regression has no
    accuracy, log-loss, class weights or calibration)."""

    members: dict[str, float]
    class_weights: list[float] | None = None
    best_single: str
    metric: str = "accuracy"  # models.metric, of the next two figures
    best_single_score: float | None = None
    blend_score: float | None = None
    best_single_accuracy: float | None = None
    blend_accuracy: float | None = None
    blend_log_loss: float | None = None
    weighted_accuracy: float | None = None
    calibration: CalibrationChoice | None = None


def _fit_regression_blend(
    oofs: Mapping[str, np.ndarray], y: pd.Series, metric: str, min_weight: float
) -> BlendFit:
    """A regression's blend: simplex weights on the OOF values, nothing per class."""
    names, chosen = list(oofs), get_metric(metric)
    singles = {n: score(metric, oofs[n], y, []) for n in names}
    best = max(singles, key=lambda n: chosen.gain(singles[n], 0.0))
    weights = fit_weights([oofs[n] for n in names], y.to_numpy(), [])
    while len(names) > 1 and min(weights) < min_weight:
        names.pop(int(np.argmin(weights)))
        weights = fit_weights([oofs[n] for n in names], y.to_numpy(), [])
    mixed = blend([oofs[n] for n in names], weights)
    return BlendFit(
        members=dict(zip(names, weights, strict=True)),
        best_single=best,
        metric=metric,
        best_single_score=float(singles[best]),
        blend_score=score(metric, mixed, y, []),
    )


def fit_blend(
    oofs: Mapping[str, np.ndarray],
    y: pd.Series,
    classes: list[str],
    *,
    class_weights: bool,
    trials: int,
    seed: int,
    min_weight: float = 0.0,
    calibration: str = "none",
    max_accuracy_drop: float = 0.0,
    metric: str = "accuracy",
) -> BlendFit:
    """Member weights, class weights and the calibration choice from each family's OOF
    probabilities; members whose weight is below ``min_weight`` are dropped one at a time
    (weights refitted each time). A regression (no ``classes``) blends values only."""
    if not classes:
        return _fit_regression_blend(oofs, y, metric, min_weight)
    names = list(oofs)
    truth = y.to_numpy().astype(str)
    labels = np.asarray(classes)
    singles = {n: accuracy_score(truth, labels[np.argmax(oofs[n], axis=1)]) for n in names}
    best = max(singles, key=lambda n: singles[n])
    weights = fit_weights([oofs[n] for n in names], truth, classes)
    while len(names) > 1 and min(weights) < min_weight:  # a member that barely counts costs
        names.pop(int(np.argmin(weights)))  # a full model call per request: drop it, refit
        weights = fit_weights([oofs[n] for n in names], truth, classes)
    mixed = blend([oofs[n] for n in names], weights)
    cw = fit_class_weights(mixed, truth, classes, trials, seed, metric) if class_weights else None
    final = reweight(mixed, cw)
    return BlendFit(
        members=dict(zip(names, weights, strict=True)),
        class_weights=cw,
        best_single=best,
        metric=metric,
        best_single_score=score(metric, oofs[best], truth, classes),
        blend_score=score(metric, final, truth, classes),
        best_single_accuracy=float(singles[best]),
        blend_accuracy=float(accuracy_score(truth, labels[np.argmax(mixed, axis=1)])),
        blend_log_loss=multiclass_log_loss(mixed, truth, classes),
        weighted_accuracy=float(accuracy_score(truth, labels[np.argmax(final, axis=1)])),
        calibration=choose_calibration(
            final, truth, classes, calibration, seed=seed, max_accuracy_drop=max_accuracy_drop
        ),
    )


def build_blend(
    fitted: BlendFit,
    pipelines: Mapping[str, Any],
    oofs: Mapping[str, np.ndarray],
    y: pd.Series,
) -> tuple[BlendClassifier | BlendRegressor, np.ndarray]:
    """The blend ``fitted`` describes, over the members' fitted pipelines (its calibrator
    fitted on the members' OOF probabilities), and its own OOF probabilities."""
    names = list(fitted.members)
    if is_regressor(pipelines[names[0]]):
        regressor = BlendRegressor(members={n: pipelines[n] for n in names}, weights=fitted.members)
        return regressor, blend([oofs[n] for n in names], list(fitted.members.values()))
    classes = [str(c) for c in pipelines[names[0]].classes_]
    oof = reweight(
        blend([oofs[n] for n in names], list(fitted.members.values())), fitted.class_weights
    )
    method = None if fitted.calibration is None else fitted.calibration.method
    calibrator = None if method is None else Calibrator(method, classes, oof, y)
    model = BlendClassifier(
        members={n: pipelines[n] for n in names},
        weights=fitted.members,
        class_weights=fitted.class_weights,
        calibrator=calibrator,
    )
    model.classes_ = np.asarray(classes, dtype=object)
    return model, calibrate(oof, calibrator)
