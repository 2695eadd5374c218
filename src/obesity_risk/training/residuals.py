"""A regression's figures: RMSE, MAE, R², the conformal prediction interval (its half-width
calibrated on held-out rows with MAPIE; its coverage measured on the untouched test split),
error per slice and the residual plot."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import BaseModel

from obesity_risk.metrics import regression_score


class Interval(BaseModel):
    """A split-conformal interval: ``prediction ± half_width`` covers ``coverage`` of rows
    exchangeable with the ``rows`` it was calibrated on."""

    coverage: float
    half_width: float
    rows: int
    method: str = "split conformal, absolute residuals (MAPIE SplitConformalRegressor)"


def calibrate_interval(pipeline: Any, X: pd.DataFrame, y: pd.Series, coverage: float) -> Interval:
    """The half-width at ``coverage`` from the fitted ``pipeline``'s residuals on held-out rows
    ``X``, ``y`` (rows it was not fitted on): MAPIE's conformity-score quantile, the
    ``ceil((n + 1) * coverage) / n`` empirical quantile of ``|y - prediction|``."""
    from mapie.regression import (  # pylint: disable=import-outside-toplevel
        SplitConformalRegressor,
    )

    if len(X) < 2:
        raise ValueError("a prediction interval needs at least 2 held-out rows")
    mapie = SplitConformalRegressor(pipeline, confidence_level=coverage, prefit=True)
    with warnings.catch_warnings():  # a blend has none of the attributes MAPIE's check reads
        warnings.filterwarnings("ignore", message="Estimator does not appear fitted")
        mapie.conformalize(X, np.asarray(y, dtype=np.float64))
        point, bounds = mapie.predict_interval(X.head(1))
    half = float(np.asarray(bounds)[0, 1, 0] - np.asarray(point)[0])
    if not np.isfinite(half):  # too few rows for this coverage: MAPIE answers an infinite bound
        raise ValueError(f"{len(X)} held-out rows are too few for a {coverage:.0%} interval")
    return Interval(coverage=coverage, half_width=half, rows=len(X))


def regression_figures(
    predicted: np.ndarray, y: Any, half_width: float | None = None
) -> dict[str, float | int | None]:
    """RMSE, MAE, R² and (with an interval) the share of rows inside it and its width."""
    values = np.asarray(predicted, dtype=np.float64).reshape(-1)
    truth = np.asarray(y, dtype=np.float64)
    out: dict[str, float | int | None] = {
        "rows": len(truth),
        **{name: regression_score(name, values, truth) for name in ("rmse", "mae", "r2")},
    }
    if half_width is not None:
        inside = np.abs(truth - values) <= half_width
        out["coverage"] = float(inside.mean()) if len(truth) else None
        out["interval_width"] = 2.0 * half_width
    return out


def residual_figure(predicted: np.ndarray, y: Any, title: str, half_width: float | None) -> Figure:
    """Residuals (true - predicted) against the prediction, the interval's band shaded."""
    values = np.asarray(predicted, dtype=np.float64).reshape(-1)
    residual = np.asarray(y, dtype=np.float64) - values
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    if half_width is not None:
        ax.axhspan(-half_width, half_width, color="#aed6f1", alpha=0.5, label="interval")
    ax.scatter(values, residual, s=6, alpha=0.5, color="#2e86c1")
    ax.axhline(0, color="0.4", linewidth=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true - predicted")
    ax.set_title(title)
    if half_width is not None:
        ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def residual_bins(predicted: np.ndarray, y: Any, bins: int = 10) -> list[dict[str, float]]:
    """The residual plot's data for the card: per band of predicted value (equal-count), the
    mean prediction and the 5th, 50th and 95th percentile of true - predicted."""
    values = np.asarray(predicted, dtype=np.float64).reshape(-1)
    residual = np.asarray(y, dtype=np.float64) - values
    if values.size == 0:
        return []
    order = np.argsort(values, kind="stable")
    out = []
    for part in np.array_split(order, min(bins, len(values))):
        r = residual[part]
        out.append(
            {
                "mean_predicted": float(values[part].mean()),
                "p05": float(np.percentile(r, 5)),
                "median": float(np.median(r)),
                "p95": float(np.percentile(r, 95)),
                "rows": float(len(part)),
            }
        )
    return out
