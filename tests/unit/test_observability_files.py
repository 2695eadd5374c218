"""The Prometheus and Grafana files of the stack: every alert has a firing and a quiet case,
the dashboards are well formed and use only the documented metrics. (promtool's checks and
rule tests, and the dashboards rebuilt from code, are in
tests/integration/test_observability_tools.py; the queries run against a real Prometheus in
tests/integration/test_observability.py.)"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.helpers.observability import GRAFANA, PROMETHEUS, dashboards

# the documented contract (README, "Watching it run"): every name a query may use
METRICS = {
    "obesity_risk_http_requests_total",
    "obesity_risk_http_request_duration_seconds",
    "obesity_risk_predictions_total",
    "obesity_risk_unknown_categories_total",
    "obesity_risk_feedback_labels_total",
    "obesity_risk_model_info",
    "obesity_risk_model_ready",
    "obesity_risk_model_load_failures_total",
    "obesity_risk_prediction_log_queue_depth",
    "obesity_risk_prediction_log_queue_capacity",
    "obesity_risk_prediction_log_commit_duration_seconds",
    "obesity_risk_prediction_log_rows_total",
    "obesity_risk_prediction_log_failures_total",
    "obesity_risk_report_timestamp_seconds",
    "obesity_risk_report_rows",
    "obesity_risk_drift_share",
    "obesity_risk_drifted_columns",
    "obesity_risk_column_drift_score",
    "obesity_risk_accuracy",
    "obesity_risk_accuracy_drop",
    "obesity_risk_drift_rule_value",
    "obesity_risk_drift_rule_threshold",
    "obesity_risk_drift_rule_fired",
    "obesity_risk_monitor_ticks_total",
    "obesity_risk_monitor_tick_duration_seconds",
    "obesity_risk_monitor_last_tick_timestamp_seconds",
    "obesity_risk_monitor_last_success_timestamp_seconds",
}


def _names(expr: str) -> set[str]:
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in re.findall(r"obesity_risk_\w+", expr)}


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"][0]["rules"]
    alerts = {r["alert"] for r in rules}
    assert alerts == {
        "ObesityRiskApiDown",
        "ObesityRiskHighErrorRatio",
        "ObesityRiskHighLatencyP99",
        "ObesityRiskPredictionLogSaturated",
        "ObesityRiskModelNotReady",
        "ObesityRiskDriftRuleFired",
        "ObesityRiskMonitorStale",
    }
    cases = [
        case
        for test in yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    for alert in alerts:
        outcomes = {bool(c["exp_alerts"]) for c in cases if c["alertname"] == alert}
        assert outcomes == {True, False}, alert
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert _names(rule["expr"]) - {"obesity_risk"} <= METRICS, rule["alert"]


@pytest.mark.parametrize("name", ["service.json", "model.json", "drift.json"])
def test_dashboard_structure(name: str) -> None:
    dashboard = dashboards(GRAFANA / "dashboards")[name]
    assert dashboard["uid"].startswith("obesity-risk-") and dashboard["title"]
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert len(titles) == len(set(titles)) >= 4
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])
        for target in panel["targets"]:
            assert _names(target["expr"]) <= METRICS, (panel["title"], target["expr"])


def test_grafana_provisioning_points_at_the_dashboards_and_prometheus() -> None:
    datasource = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )["datasources"][0]
    assert datasource["uid"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    assert datasource["editable"] is False
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "obesity-risk.yaml").read_text()
    )["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert provider["allowUiUpdates"] is False
