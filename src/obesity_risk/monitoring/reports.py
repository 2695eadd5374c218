"""Evidently reports as pure functions of (reference, current, schema) -> files written.

Each build writes ``<timestamp>-<kind>.html`` and a JSON of its key metrics beside it, then
refreshes ``latest-<kind>.html`` and ``index.html``; every file is written to a temp file and
renamed, so concurrent builds never leave a half-written file. The steps that read the whole
folder (the index, pruning) hold a file lock, so builds in different processes (API workers,
the CLI, the monitor) never prune or list each other's half-recorded reports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import (
    BinaryClassification,
    DataDefinition,
    Dataset,
    MulticlassClassification,
    Regression,
    Report,
)
from evidently.metrics import ValueDrift
from evidently.presets import (
    ClassificationPreset,
    DataDriftPreset,
    DataSummaryPreset,
    RegressionPreset,
)
from filelock import FileLock

from obesity_risk.config import DataSchema
from obesity_risk.errors import DataValidationError
from obesity_risk.files import atomic_write
from obesity_risk.monitoring import KINDS, index
from obesity_risk.monitoring.contracts import ReportSummary, ReportWindow, RuleDecision

PREDICTION = "prediction"


@dataclass
class ReportResult:
    """What one build produced."""

    kind: str
    html: Path
    json: Path
    latest: Path
    metrics: ReportSummary
    window: ReportWindow | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.metrics, ReportSummary):  # a mapping of the JSON form
            self.metrics = ReportSummary.model_validate(self.metrics)


def prepare(
    frame: pd.DataFrame, schema: DataSchema, max_rows: int, seed: int, name: str
) -> tuple[pd.DataFrame, ReportWindow]:
    """Keep schema columns + target/prediction; sample to ``max_rows``; describe the window."""
    missing = [c for c in schema.columns if c not in frame.columns]
    if missing:
        raise DataValidationError(f"{name}: missing column(s) {missing} for the report")
    if frame.empty:
        raise DataValidationError(f"{name}: no rows to report on")
    keep = [c for c in (*schema.columns, schema.target, PREDICTION) if c in frame.columns]
    window: dict[str, Any] = {"rows": len(frame), "sampled": len(frame) > max_rows}
    if "created_at" in frame.columns and len(frame):  # a window of the prediction log
        stamps = pd.to_datetime(frame["created_at"], utc=True)
        window["from"] = stamps.min().isoformat(timespec="seconds")
        window["to"] = stamps.max().isoformat(timespec="seconds")
    frame = frame[keep]
    if not schema.is_classification:  # a regression's target and prediction are numbers
        numbers = [c for c in (schema.target, PREDICTION) if c in frame.columns]
        try:
            frame = frame.assign(**{c: pd.to_numeric(frame[c]) for c in numbers})
        except (TypeError, ValueError) as exc:
            raise DataValidationError(
                f"{name}: a target or prediction is not a number: {exc}"
            ) from None
    if len(frame) > max_rows:
        frame = frame.sample(max_rows, random_state=seed)
    window["rows_used"] = len(frame)
    return frame.reset_index(drop=True), ReportWindow.model_validate(window)


def _definition(schema: DataSchema, frame: pd.DataFrame) -> DataDefinition:
    labels = [c for c in (schema.target, PREDICTION) if c in frame.columns]
    both = schema.target in frame.columns and PREDICTION in frame.columns
    if not schema.is_classification:  # a regression: numeric target and prediction
        return DataDefinition(
            numerical_columns=[*schema.numeric, *labels],
            categorical_columns=schema.categorical,
            regression=[Regression(target=schema.target, prediction=PREDICTION)] if both else None,
        )
    classification = None
    if both:
        # a binary task names its positive class: Evidently's binary metrics otherwise look
        # for the label 1 (a KeyError on text labels such as "no"/"yes")
        classification = [
            BinaryClassification(
                target=schema.target, prediction_labels=PREDICTION, pos_label=schema.positive
            )
            if schema.task == "binary"
            else MulticlassClassification(target=schema.target, prediction_labels=PREDICTION)
        ]
    return DataDefinition(
        numerical_columns=schema.numeric,
        categorical_columns=[*schema.categorical, *labels],
        classification=classification,
    )


# Distances, not p-values: a score grows with drift whatever the window size (Evidently's
# default switches to p-values under 1,000 rows), so "value >= threshold" always means drift.
NUM_METHOD, CAT_METHOD = "wasserstein", "jensenshannon"


def _metrics_for(
    kind: str, schema: DataSchema, current: pd.DataFrame, column_threshold: float
) -> list:
    if kind == "data-drift":
        return [
            DataDriftPreset(
                columns=list(schema.columns),
                threshold=column_threshold,
                num_method=NUM_METHOD,
                cat_method=CAT_METHOD,
            )
        ]
    if kind == "data-quality":
        return [DataSummaryPreset()]
    if kind == "target-drift":
        columns = [c for c in (PREDICTION, schema.target) if c in current.columns]
        if not columns:
            raise DataValidationError("target-drift needs a prediction or a target column")
        method = CAT_METHOD if schema.is_classification else NUM_METHOD
        return [ValueDrift(column=c, method=method) for c in columns]
    if kind == "performance":
        if schema.target not in current.columns or PREDICTION not in current.columns:
            raise DataValidationError(
                f"performance needs labels: the current data has no {schema.target!r} column"
            )
        return [ClassificationPreset() if schema.is_classification else RegressionPreset()]
    raise ValueError(f"unknown report kind {kind!r}; known: {', '.join(KINDS)}")


def summarise(kind: str, snapshot: dict[str, Any]) -> dict[str, Any]:
    """Key numbers of a snapshot: drift share and per-column scores, accuracy, etc."""
    out: dict[str, Any] = {"metrics": {}}
    for metric in snapshot.get("metrics", []):
        name, value = metric["metric_name"], metric["value"]
        config = metric.get("config", {})
        if config.get("type", "").endswith("DriftedColumnsCount"):
            out["drifted_columns"] = value["count"]
            out["drift_share"] = value["share"]
        elif config.get("type", "").endswith("ValueDrift"):
            out.setdefault("column_drift", {})[config["column"]] = value
        elif isinstance(value, int | float) and kind == "performance":
            out["metrics"][name] = value
    return out


def build_report(
    kind: str,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    schema: DataSchema,
    out_dir: Path,
    *,
    max_rows: int = 20000,
    seed: int = 42,
    column_threshold: float = 0.1,
    meta: Mapping[str, Any] | None = None,
) -> ReportResult:
    """Build one report kind; write HTML + JSON atomically; refresh latest and the index."""
    reference, _ = prepare(reference, schema, max_rows, seed, "reference")
    current, window = prepare(current, schema, max_rows, seed, "current")
    metrics = _metrics_for(kind, schema, current, column_threshold)
    definition = _definition(schema, current)
    ref_cols = [c for c in current.columns if c in reference.columns]
    snapshot = Report(metrics, metadata={"kind": kind}).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference[ref_cols], data_definition=definition),
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    html_path = out_dir / f"{stamp}-{kind}.html"
    json_path = html_path.with_suffix(".json")
    summary = ReportSummary.model_validate(
        {
            "kind": kind,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "window": window,
            **(meta or {}),
            **summarise(kind, snapshot.dict()),
        }
    )
    atomic_write(html_path, snapshot.save_html)
    latest = out_dir / f"latest-{kind}.html"
    atomic_write(latest, snapshot.save_html)
    result = ReportResult(kind, html_path, json_path, latest, summary, window)
    record_decisions(result, {})
    return result


def _folder_lock(out_dir: Path) -> FileLock:
    """The cross-process lock of one reports folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(out_dir / ".reports.lock", timeout=120)


def record_decisions(
    result: ReportResult, decisions: Mapping[str, RuleDecision | Mapping[str, Any]]
) -> None:
    """(Re)write the report's JSON with the rule decisions, then the index."""
    result.metrics = result.metrics.replace(decisions=dict(decisions))
    with _folder_lock(result.html.parent):
        atomic_write(result.json, json.dumps(result.metrics.to_json(), indent=2))
        _write_index(result.html.parent)


def _write_index(out_dir: Path) -> Path:
    return index.write_index(out_dir, atomic_write)


def write_index(out_dir: Path) -> Path:
    """``index.html`` (see :mod:`obesity_risk.monitoring.index`), written atomically."""
    with _folder_lock(out_dir):
        return _write_index(out_dir)


def prune_reports(out_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` reports (HTML + JSON) of each kind, then rewrite the
    index so it lists only what is on disk; return the deleted files."""
    deleted: list[Path] = []
    if not out_dir.is_dir():
        return deleted
    with _folder_lock(out_dir):
        for kind in KINDS:
            stems = {p.stem for p in out_dir.glob(f"*Z-{kind}.html")}
            stems |= {p.stem for p in out_dir.glob(f"*Z-{kind}.json")}
            for stem in sorted(stems, reverse=True)[keep:]:
                for path in (out_dir / f"{stem}.html", out_dir / f"{stem}.json"):
                    if path.exists():
                        path.unlink(missing_ok=True)
                        deleted.append(path)
        _write_index(out_dir)
    return deleted


def as_dict(result: ReportResult) -> dict[str, Any]:
    """JSON-friendly view of a result."""
    return {
        "kind": result.kind,
        **{k: str(getattr(result, k)) for k in ("html", "json", "latest")},
        "metrics": result.metrics.to_json(),
        "window": result.window.to_json() if result.window is not None else {},
    }
