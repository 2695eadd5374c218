"""How good a fitted model is, overall, per slice, and how far its probabilities can be trusted.

Everything works from class probabilities (one ``predict_proba`` per split), so the blend, a
single pipeline and out-of-fold predictions are measured the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import BaseModel
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    average_precision_score,
    f1_score,
)

from obesity_risk.config import Settings
from obesity_risk.config.stages import Slice
from obesity_risk.features import EngineeredFeatures
from obesity_risk.metrics import labels_of, regression_score, score, truth_index
from obesity_risk.metrics import log_loss as multiclass_log_loss
from obesity_risk.serving.explain import Explanation, mean_abs_contributions
from obesity_risk.serving.fastpath import needed_features
from obesity_risk.training.residuals import regression_figures


class SplitMetrics(BaseModel):
    """Every selectable metric of one split (:mod:`obesity_risk.metrics`) and the top-label
    expected calibration error."""

    rows: int
    accuracy: float | None = None  # classification: these four and balanced accuracy
    f1_macro: float | None = None
    log_loss: float | None = None
    ece: float | None = None
    rmse: float | None = None  # regression: these five (the last two with an interval)
    mae: float | None = None
    r2: float | None = None
    coverage: float | None = None  # share of rows inside the prediction interval
    interval_width: float | None = None
    balanced_accuracy: float | None = None
    roc_auc: float | None = None  # binary tasks only, as the next two
    pr_auc: float | None = None  # average precision of the positive class
    brier: float | None = None  # mean squared error of the positive class's probability
    threshold: float | None = None  # the labels' decision threshold (binary; None: argmax)

    def value(self, metric: str) -> float:
        """The figure of ``metric`` (``models.metric``) on this split."""
        found = getattr(self, metric)
        if found is None:
            raise ValueError(f"metric {metric} was not measured on this split")
        return float(found)


class SliceMetrics(BaseModel):
    """One subgroup's figures."""

    column: str
    group: str
    rows: int
    accuracy: float | None = None  # classification
    f1_macro: float | None = None
    rmse: float | None = None  # regression
    mae: float | None = None


class ReliabilityBin(BaseModel):
    """One bin of a per-class reliability diagram (one-vs-rest)."""

    mean_predicted: float
    observed: float
    rows: int


def expected_calibration_error(
    proba: np.ndarray, y: Sequence[str], classes: list[str], bins: int
) -> float:
    """Top-label ECE: the row-weighted gap between confidence and accuracy over ``bins``
    equal-width confidence bins."""
    truth = truth_index(y, classes)
    confidence = proba.max(axis=1)
    correct = (np.argmax(proba, axis=1) == truth).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total / len(truth)) if len(truth) else float("nan")


def reliability(
    proba: np.ndarray, y: Sequence[str], classes: list[str], bins: int
) -> dict[str, list[ReliabilityBin]]:
    """Per class: predicted probability vs observed frequency, in equal-width bins."""
    truth = truth_index(y, classes)
    edges = np.linspace(0.0, 1.0, bins + 1)
    out: dict[str, list[ReliabilityBin]] = {}
    for k, name in enumerate(classes):
        p = proba[:, k]
        hit = (truth == k).astype(float)
        which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
        out[name] = [
            ReliabilityBin(
                mean_predicted=float(p[which == b].mean()),
                observed=float(hit[which == b].mean()),
                rows=int((which == b).sum()),
            )
            for b in range(bins)
            if (which == b).any()
        ]
    return out


def split_metrics(
    proba: np.ndarray,
    y: Sequence[str],
    classes: list[str],
    bins: int = 10,
    threshold: float | None = None,
    half_width: float | None = None,
) -> SplitMetrics:
    """Figures of one split from its outputs: probabilities (binary labels at ``threshold``),
    or with no ``classes`` a regression's values (``half_width``: its interval's)."""
    if not classes:
        return SplitMetrics.model_validate(regression_figures(proba, y, half_width))
    labels = labels_of(proba, classes, threshold).astype(str)
    truth = np.asarray(y).astype(str)
    binary: dict[str, float | None] = {}
    if len(classes) == 2:
        positive = truth == classes[1]
        both = 0 < positive.sum() < len(positive)
        binary = {
            "roc_auc": score("roc_auc", proba, truth, classes),
            "pr_auc": float(average_precision_score(positive, proba[:, 1])) if both else None,
            "brier": float(np.mean((proba[:, 1] - positive) ** 2)),
            "threshold": threshold,
        }
    return SplitMetrics(
        rows=len(truth),
        accuracy=float(accuracy_score(truth, labels)),
        f1_macro=float(f1_score(truth, labels, average="macro")),
        log_loss=multiclass_log_loss(proba, truth, classes),
        ece=expected_calibration_error(proba, truth, classes, bins),
        balanced_accuracy=score("balanced_accuracy", proba, truth, classes, threshold),
        **binary,
    )


def slice_groups(X: pd.DataFrame, item: Slice, settings: Settings) -> pd.Series:
    """The group name of every row for one slice (engineered columns computed from YAML)."""
    if item.column in X.columns:
        values = X[item.column]
    else:
        every = [f.model_dump() for f in settings.features.engineered]
        specs = needed_features(every, {item.column})  # only what this column is built from
        values = EngineeredFeatures(specs).fit(X).transform(X)[item.column]
    if item.bins is None:
        return values.astype(str)
    bands = pd.cut(values.astype(float), bins=item.bins, right=False)
    return bands.astype(str).replace("nan", "out of bins")


def slice_metrics(
    X: pd.DataFrame, y: pd.Series, predicted: np.ndarray, settings: Settings
) -> list[SliceMetrics]:
    """Per group of every configured slice: accuracy and macro-F1 of the predicted labels, or
    a regression's (numeric ``y``) RMSE and MAE of the predicted values."""
    numeric = pd.api.types.is_numeric_dtype(y)
    truth = y.to_numpy() if numeric else y.to_numpy().astype(str)
    out = []
    for item in settings.slices:
        groups = slice_groups(X, item, settings).to_numpy()
        for group in sorted(set(groups)):
            mask = groups == group
            if numeric:
                figures = {
                    n: regression_score(n, predicted[mask], truth[mask]) for n in ("rmse", "mae")
                }
            else:
                figures = {
                    "accuracy": float(accuracy_score(truth[mask], predicted[mask])),
                    "f1_macro": float(f1_score(truth[mask], predicted[mask], average="macro")),
                }
            out.append(
                SliceMetrics(column=item.column, group=str(group), rows=int(mask.sum()), **figures)
            )
    return out


def confusion_figure(y: Any, predicted: Any, classes: list[str], title: str) -> Figure:
    """Confusion matrix (row-normalised) as a matplotlib Figure (no pyplot state)."""
    fig = Figure(figsize=(9, 8))
    ax = fig.add_subplot()
    ConfusionMatrixDisplay.from_predictions(
        y,
        predicted,
        labels=classes,
        normalize="true",
        values_format=".2f",
        xticks_rotation=45,
        ax=ax,
        colorbar=False,
    )
    ax.set_title(title)
    fig.tight_layout()
    return fig


def importance_figure(items: list[Explanation], top: int = 12) -> Figure:
    """Global importance (mean |contribution|) and, beside it, every row's contribution per
    column (a beeswarm-style strip plot), for the predicted classes."""
    order = list(mean_abs_contributions(items))[:top]
    means = mean_abs_contributions(items)
    fig = Figure(figsize=(11, 0.45 * len(order) + 1.5))
    left, right = fig.subplots(1, 2, sharey=True)
    left.barh(order[::-1], [means[c] for c in order[::-1]], color="#2e86c1")
    left.set_xlabel("mean |contribution|")
    rng = np.random.default_rng(0)
    for y, column in enumerate(order[::-1]):
        values = np.array([item.contributions.get(column, 0.0) for item in items])
        right.scatter(values, y + rng.uniform(-0.25, 0.25, len(values)), s=4, alpha=0.4)
    right.axvline(0, color="0.6", linewidth=1)
    right.set_xlabel(f"contribution per row ({items[0].space if items else ''})")
    fig.tight_layout()
    return fig


def families_figure(
    figures: dict[str, dict[str, float | None]], metric: str = "accuracy"
) -> Figure:
    """``metric`` per candidate (rows) and split (bars): the parent run's comparison plot."""
    names = list(figures)
    splits = ["oof", "validation", "test"]
    fig = Figure(figsize=(8, 0.5 * len(names) + 1.5))
    ax = fig.add_subplot()
    height = 0.8 / len(splits)
    for j, split in enumerate(splits):
        values = [figures[n].get(split) or 0.0 for n in names]
        ax.barh(np.arange(len(names)) + j * height, values, height, label=split)
    ax.set_yticks(np.arange(len(names)) + height, names)
    if metric in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc"):
        low = min((v for f in figures.values() for v in f.values() if v), default=0.0)
        ax.set_xlim(max(0.0, low - 0.02), 1.0)
    ax.set_xlabel(metric)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def reliability_figure(curves: dict[str, list[ReliabilityBin]], title: str) -> Figure:
    """One reliability diagram per class on a shared grid."""
    n = len(curves)
    cols = min(4, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(3.2 * cols, 3.0 * rows))
    for i, (name, bins) in enumerate(curves.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.plot([0, 1], [0, 1], color="0.7", linewidth=1)
        ax.plot([b.mean_predicted for b in bins], [b.observed for b in bins], marker="o")
        ax.set_title(name, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def evaluate(pipeline: Any, X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """Accuracy and macro-F1 of a fitted pipeline (a regression's: RMSE, MAE and R²)."""
    predicted = pipeline.predict(X)
    if pd.api.types.is_numeric_dtype(y):
        return {n: regression_score(n, predicted, y) for n in ("rmse", "mae", "r2")}
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(f1_score(y, predicted, average="macro")),
    }


def reference_frame(pipeline: Any, X: pd.DataFrame, y: pd.Series, target: str) -> pd.DataFrame:
    """Monitoring reference: the training rows, their labels and the model's predictions."""
    frame = X.assign(**{target: y.to_numpy(), "prediction": pipeline.predict(X)})
    return frame.reset_index(drop=True)
