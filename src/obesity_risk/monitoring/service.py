"""Wiring for monitoring: champion + reference + current window -> reports -> rules -> actions.

The CLI (``obesity-risk report``) and the API (``/monitoring/reports``) both call
:func:`run_reports`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from obesity_risk.config import Settings
from obesity_risk.data import load_dataset
from obesity_risk.errors import DataValidationError
from obesity_risk.metrics import regression_score
from obesity_risk.monitoring import reports
from obesity_risk.monitoring.contracts import BuiltReport, ReportRun
from obesity_risk.monitoring.rules import Retrain, act, evaluate, start_retraining
from obesity_risk.monitoring.store import PredictionStore, as_utc
from obesity_risk.registry.client import load_champion, load_reference
from obesity_risk.serving.predictor import Predictor


class EmptyWindowError(DataValidationError):
    """The prediction log has no rows in the window: nothing to report on (yet)."""


@dataclass(frozen=True)
class Window:
    """Which rows are "current": a CSV, the last N logged predictions, or those since a time."""

    csv: Path | None = None
    last: int | None = None
    since: datetime | None = None

    def __post_init__(self) -> None:
        if self.since is not None:  # one time zone for the log, the label and the query
            object.__setattr__(self, "since", as_utc(self.since))

    def describe(self) -> str:
        """Human-readable source, shown in the index."""
        if self.csv is not None:
            return Path(self.csv).name
        if self.last is not None:
            return f"last {self.last} predictions"
        return f"predictions since {self.since.isoformat() if self.since else 'the start'}"


def current_frame(settings: Settings, predictor: Predictor, window: Window) -> pd.DataFrame:
    """Current rows with a ``prediction`` column (and the target when known)."""
    target = settings.data.target
    if window.csv is not None:
        data = load_dataset(window.csv, settings.data, labelled=None)
        frame = data.X.copy()
        if data.y is not None:
            frame[target] = data.y.to_numpy()
        frame[reports.PREDICTION] = predictor.predict_frame(data.X).served
        return frame
    store = PredictionStore(settings.prediction_store_url)
    try:
        frame = store.read(last=window.last, since=window.since)
    finally:
        store.close()
    if frame.empty:
        raise EmptyWindowError(f"the prediction log has no rows for {window.describe()}")
    actual = frame.pop("actual")
    if actual.notna().any():  # ground truth posted for some rows: the target where known
        frame[target] = actual
    return frame


def _accuracy(frame: pd.DataFrame, target: str, predictor: Predictor) -> dict[str, Any]:
    """Live accuracy against the card's validation figure (a regression: RMSE, and its ratio
    to the validation RMSE)."""
    if target not in frame.columns:
        return {}
    if not predictor.classes:
        truth = pd.to_numeric(frame[target])
        rmse = regression_score("rmse", pd.to_numeric(frame[reports.PREDICTION]), truth)
        out: dict[str, Any] = {"rmse": rmse}
        reference = predictor.card.metrics.val_rmse
        if reference:
            out |= {"reference_rmse": float(reference), "rmse_ratio": rmse / float(reference)}
        return out
    accuracy = float((frame[target] == frame[reports.PREDICTION]).mean())
    out = {"accuracy": accuracy}
    baseline = predictor.card.metrics.val_accuracy
    if baseline is not None:
        out |= {"reference_accuracy": float(baseline), "accuracy_drop": float(baseline) - accuracy}
    return out


def run_reports(
    settings: Settings,
    kinds: list[str] | None,
    window: Window,
    *,
    predictor: Predictor | None = None,
    retrain: Retrain = start_retraining,
    progress: Callable[[str], None] | None = None,
) -> ReportRun:
    """Build each report kind, evaluate the rules, run the actions; one entry per report.

    ``kinds=None`` means all. ``performance`` needs labels: asked for explicitly on unlabelled
    data it is an error; as part of "all" it is skipped.
    """
    explicit = kinds is not None
    kinds = list(kinds) if kinds is not None else list(reports.KINDS)
    unknown = [k for k in kinds if k not in reports.KINDS]
    if unknown:
        raise DataValidationError(
            f"unknown report kind(s) {unknown}; known: {', '.join(reports.KINDS)}"
        )
    if predictor is None:
        predictor = Predictor.configured(load_champion(settings), settings)
    reference = load_reference(settings, predictor.model)
    current = current_frame(settings, predictor, window)
    target = settings.data.target
    labelled = target in current.columns
    scored = current[current[target].notna()] if labelled else current  # rows with labels
    if labelled and len(scored) < len(current):  # partly labelled: the target only where known
        current = current.drop(columns=[target])
    if explicit and "performance" in kinds and not labelled:
        raise DataValidationError(
            f"performance needs labels: {window.describe()} has no {settings.data.target!r} column"
        )
    out_dir = settings.reports_dir / "monitoring"
    cfg = settings.monitoring
    results: list[BuiltReport] = []
    for kind in kinds:
        if kind == "performance" and not labelled:
            continue
        if progress is not None:
            progress(kind)
        meta = {
            "model_version": predictor.version,
            "model_source": predictor.model.source,
            "source": window.describe(),
        }
        if kind == "performance":
            meta |= _accuracy(scored, target, predictor) | {"labelled_rows": len(scored)}
        result = reports.build_report(
            kind,
            reference,
            scored if kind == "performance" else current,
            settings.data,
            out_dir,
            max_rows=cfg.max_rows,
            seed=settings.seed,
            column_threshold=cfg.column_drift_threshold,
            meta=meta,
        )
        decisions = evaluate(cfg.rules, result.metrics)
        outcome = act(
            cfg, result.metrics, decisions, out_dir / "alerts", retrain, html=str(result.html)
        )
        result.metrics = result.metrics.replace(actions=outcome)
        reports.record_decisions(result, decisions)
        results.append(
            BuiltReport(
                kind=kind,
                html=str(result.html),
                json=str(result.json),
                latest=str(result.latest),
                fired=[n for n, d in decisions.items() if d.fired],
                window=result.window,
            )
        )
    reports.prune_reports(out_dir, cfg.keep_reports)
    return ReportRun(results)
