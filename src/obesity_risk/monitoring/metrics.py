"""The latest monitoring verdicts as Prometheus metrics, read from the reports on disk.

Every process that builds reports (the CLI, an API report job, the scheduled monitor) writes
``<stamp>-<kind>.json`` beside the HTML; :class:`VerdictCollector` reads the newest of each
kind at scrape time. The values are therefore the same whichever API worker (or the monitor)
answers the scrape: nothing per-process to aggregate, and a report built anywhere shows up at
the next scrape.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from obesity_risk.monitoring import KINDS
from obesity_risk.monitoring.contracts import ContractError, ReportSummary

PREFIX = "obesity_risk_"


def newest_reports(out_dir: Path) -> list[ReportSummary]:
    """The newest report of each kind, newest kinds first. A file gone meanwhile is skipped and
    one that does not match the contract is logged (naming it): the next newest is taken."""
    found = []
    for kind in KINDS:
        for path in sorted(out_dir.glob(f"*Z-{kind}.json"), reverse=True):
            try:
                found.append(ReportSummary.read(path))
                break
            except OSError:
                continue  # pruned right now: take the next newest
            except ContractError as exc:
                logger.warning("report not scraped: {}", exc)
    return sorted(found, key=lambda r: r.created_at or "", reverse=True)


def _timestamp(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class VerdictCollector(Collector):
    """Gauges of the newest report of each kind and of each rule's latest applicable value."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def describe(self) -> list:
        """No fixed description: the families depend on the reports on disk."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Build the families from the newest reports (one directory listing per kind)."""
        latest = newest_reports(self.out_dir) if self.out_dir.is_dir() else []
        yield from _report_families(latest)
        yield from _rule_families(latest)


def _family(name: str, doc: str, labels: list[str], unit: str = "") -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, labels=labels, unit=unit)


def _report_families(latest: list[ReportSummary]) -> Iterator[GaugeMetricFamily]:
    stamp = _family("report_timestamp", "Creation time of the newest report", ["kind"], "seconds")
    rows = _family("report_rows", "Rows in the newest report's current window", ["kind"])
    share = _family("drift_share", "Share of drifted columns (newest data-drift report)", [])
    drifted = _family("drifted_columns", "Drifted columns (newest data-drift report)", [])
    column = _family("column_drift_score", "Per-column drift score", ["kind", "column"])
    accuracy = _family("accuracy", "Accuracy on labelled live traffic (newest report)", [])
    drop = _family("accuracy_drop", "Validation accuracy minus live accuracy", [])
    rmse = _family("rmse", "A regression's RMSE on labelled live traffic (newest report)", [])
    ratio = _family("rmse_ratio", "A regression's live RMSE over its validation RMSE", [])
    for report in latest:
        kind = report.kind
        if (when := _timestamp(report.created_at)) is not None:
            stamp.add_metric([kind], when)
        if report.window is not None:
            rows.add_metric([kind], float(report.window.rows))
        if kind == "data-drift":
            if (value := _number(report.drift_share)) is not None:
                share.add_metric([], value)
            if (value := _number(report.drifted_columns)) is not None:
                drifted.add_metric([], value)
        for name, score in report.column_drift.items():
            column.add_metric([kind, name], float(score))
        if (value := _number(report.accuracy)) is not None:
            accuracy.add_metric([], value)
        if (value := _number(report.accuracy_drop)) is not None:
            drop.add_metric([], value)
        if (value := _number(report.rmse)) is not None:
            rmse.add_metric([], value)
        if (value := _number(report.rmse_ratio)) is not None:
            ratio.add_metric([], value)
    yield from (stamp, rows, share, drifted, column, accuracy, drop, rmse, ratio)


def _rule_families(latest: list[ReportSummary]) -> Iterator[GaugeMetricFamily]:
    """Each rule's decision in the newest report where it applied."""
    value = _family("drift_rule_value", "Value of the rule's metric", ["rule", "metric"])
    threshold = _family("drift_rule_threshold", "Threshold at which the rule fires", ["rule"])
    fired = _family("drift_rule_fired", "1 when the rule fired on its newest report", ["rule"])
    seen: set[str] = set()
    for report in latest:  # newest first
        for rule, decision in report.decisions.items():
            if rule in seen or not decision.applicable:
                continue
            seen.add(rule)
            if decision.value is not None:
                value.add_metric([rule, decision.metric], decision.value)
            threshold.add_metric([rule], decision.threshold)
            fired.add_metric([rule], 1.0 if decision.fired else 0.0)
    yield from (value, threshold, fired)


class MonitorMetrics:
    """The scheduled monitor's own metrics (ticks, their duration and outcome) plus the
    verdicts, served on ``monitoring.metrics_port`` for Prometheus."""

    def __init__(self, out_dir: Path) -> None:
        self.registry = registry = CollectorRegistry()
        self.ticks = Counter(
            PREFIX + "monitor_ticks", "Monitor ticks by outcome", ["outcome"], registry=registry
        )
        self.duration = Histogram(
            PREFIX + "monitor_tick_duration_seconds",
            "Time of one monitor tick (reports, rules, retention)",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
            registry=registry,
        )
        self.last_tick = Gauge(
            PREFIX + "monitor_last_tick_timestamp_seconds",
            "End of the last tick",
            registry=registry,
        )
        self.last_success = Gauge(
            PREFIX + "monitor_last_success_timestamp_seconds",
            "End of the last successful tick",
            registry=registry,
        )
        for outcome in ("ok", "failed"):
            self.ticks.labels(outcome)  # both series exist from the start (rates, alerts)
        self.last_success.set_to_current_time()  # "stale" counts from the start, not from 1970
        registry.register(VerdictCollector(out_dir))

    def observe(self, ok: bool, seconds: float) -> None:
        """Record one tick."""
        self.ticks.labels("ok" if ok else "failed").inc()
        self.duration.observe(seconds)
        self.last_tick.set_to_current_time()
        if ok:
            self.last_success.set_to_current_time()

    def serve(self, port: int, host: str) -> None:
        """Answer ``GET /metrics`` on ``host:port`` from a background thread."""
        start_http_server(port, addr=host, registry=self.registry)
