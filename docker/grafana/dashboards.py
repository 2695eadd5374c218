"""Build the Grafana dashboards from code (grafana-foundation-sdk); never edit the JSON.

    python docker/grafana/dashboards.py [--out docker/grafana/dashboards]   # make dashboards

Three dashboards over the service's Prometheus metrics: service, model, drift. The verdict
gauges are exported by every API worker and by the monitor (same values), hence ``max by``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
OUT = Path(__file__).resolve().parent / "dashboards"
P = "obesity_risk_"
WINDOW = "[5m]"


def _query(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref)


def series(title: str, unit: str, *queries: tuple[str, str], width: int = 12):
    """A time-series panel with one target per (expr, legend)."""
    panel = timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE).height(8).span(width)
    for i, (expr, legend) in enumerate(queries):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + i)))
    return panel


def single(title: str, unit: str, expr: str, legend: str = "", width: int = 6):
    """A stat panel (the latest value)."""
    panel = stat.Panel().title(title).unit(unit).datasource(DATASOURCE).height(4).span(width)
    return panel.with_target(_query(expr, legend).instant())


def _dashboard(uid: str, title: str, panels: list) -> dashboard.Dashboard:
    built = (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(["obesity-risk"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("utc")
    )
    for panel in panels:
        built = built.with_panel(panel)
    return built.build()


def service() -> dashboard.Dashboard:
    """Traffic, errors, latency, the prediction log, the model served."""
    requests = f"{P}http_requests_total"
    latency = f"{P}http_request_duration_seconds_bucket"
    commit = f"{P}prediction_log_commit_duration_seconds_bucket"
    return _dashboard(
        "obesity-risk-service",
        "obesity-risk / service",
        [
            single("Model ready", "bool", f"min({P}model_ready)"),
            single("Model version", "none", f"max by (version) ({P}model_info) == 1",
                   "{{version}}"),
            single("Load failures (1h)", "short",
                   f"sum(increase({P}model_load_failures_total[1h]))"),
            single("Log queue depth", "short", f"max({P}prediction_log_queue_depth)"),
            series("Requests per second by route", "reqps",
                   (f"sum by (route) (rate({requests}{WINDOW}))", "{{route}}")),
            series("Error ratio (5xx)", "percentunit",
                   (f'(sum(rate({requests}{{status=~"5.."}}{WINDOW})) or vector(0))'
                    f" / clamp_min(sum(rate({requests}{WINDOW})), 1e-9)", "5xx share")),
            series("Latency p50 / p99 by route", "s",
                   (f"histogram_quantile(0.5, sum by (le, route) (rate({latency}{WINDOW})))",
                    "p50 {{route}}"),
                   (f"histogram_quantile(0.99, sum by (le, route) (rate({latency}{WINDOW})))",
                    "p99 {{route}}")),
            series("Prediction log: queue and commit p99", "s",
                   (f"histogram_quantile(0.99, sum by (le) (rate({commit}{WINDOW})))",
                    "commit p99"),
                   (f"max({P}prediction_log_queue_depth) / max({P}prediction_log_queue_capacity)",
                    "queue fill (ratio)")),
        ],
    )  # fmt: skip


def model() -> dashboard.Dashboard:
    """What the model says, on what inputs, and how right it is once labels arrive."""
    return _dashboard(
        "obesity-risk-model",
        "obesity-risk / model",
        [
            series("Predictions per class (per second)", "reqps",
                   (f"sum by (label) (rate({P}predictions_total{WINDOW}))", "{{label}}")),
            series("Unseen categories per column (per second)", "short",
                   (f"sum by (column) (rate({P}unknown_categories_total{WINDOW}))", "{{column}}")),
            series("Ground-truth labels received (per second)", "short",
                   (f"sum(rate({P}feedback_labels_total{WINDOW}))", "labels")),
            series("Accuracy on labelled traffic (newest performance report)", "percentunit",
                   (f"max({P}accuracy)", "accuracy"), (f"max({P}accuracy_drop)", "drop")),
        ],
    )  # fmt: skip


def drift() -> dashboard.Dashboard:
    """Drift over time: share, per-rule values against thresholds, firings, report ages."""
    return _dashboard(
        "obesity-risk-drift",
        "obesity-risk / drift",
        [
            series("Share of drifted columns", "percentunit",
                   (f"max({P}drift_share)", "drift share")),
            series("Rule values and thresholds", "none",
                   (f"max by (rule) ({P}drift_rule_value)", "{{rule}}"),
                   (f"max by (rule) ({P}drift_rule_threshold)", "{{rule}} threshold")),
            series("Rules fired (1 = fired on the newest report)", "bool",
                   (f"max by (rule) ({P}drift_rule_fired)", "{{rule}}")),
            series("Per-column drift score", "none",
                   (f"max by (column) ({P}column_drift_score)", "{{column}}")),
            series("Age of the newest report per kind", "s",
                   (f"time() - max by (kind) ({P}report_timestamp_seconds)", "{{kind}}")),
            series("Monitor ticks (per hour)", "short",
                   (f"sum by (outcome) (increase({P}monitor_ticks_total[1h]))", "{{outcome}}")),
        ],
    )  # fmt: skip


BUILDERS = {"service": service, "model": model, "drift": drift}


def write(out: Path) -> list[Path]:
    """Write every dashboard as ``<out>/<name>.json``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in BUILDERS.items():
        path = out / f"{name}.json"
        text = json.dumps(build(), cls=JSONEncoder, indent=2, sort_keys=True)
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    """CLI: write the dashboards."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    for path in write(parser.parse_args().out):
        sys.stdout.write(f"{path}\n")


if __name__ == "__main__":
    main()
