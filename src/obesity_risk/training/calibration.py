"""Choosing the ensemble's calibration on out-of-fold probabilities: a method is kept only when,
cross-fitted (fit on k-1 parts, scored on the held-out part), it lowers the log-loss and costs at
most ``max_accuracy_drop`` accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel
from sklearn.metrics import accuracy_score
from sklearn.model_selection import StratifiedKFold

from obesity_risk.estimators.calibration import Calibrator
from obesity_risk.training.evaluation import multiclass_log_loss

METHODS = ("sigmoid", "isotonic")


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
