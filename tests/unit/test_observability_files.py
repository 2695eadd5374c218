"""The Prometheus and Grafana files of the stack: promtool checks the config and the rules and
runs the rules' unit tests; the dashboards are what the code builds (nobody hand-edits the
JSON), well formed, and use only the documented metrics. (Their queries are run against a real
Prometheus in tests/integration/test_observability.py.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.paths import ROOT

PROMETHEUS = ROOT / "docker" / "prometheus"
GRAFANA = ROOT / "docker" / "grafana"
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


def _promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool is a test dependency (Debian's prometheus): make system-deps"
    return subprocess.run(
        [tool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _names(expr: str) -> set[str]:
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in re.findall(r"obesity_risk_\w+", expr)}


def _dashboards(folder: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def test_promtool_checks_the_config(tmp_path: Path) -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    token = tmp_path / "token"
    token.write_text("t")
    for job in config["scrape_configs"]:  # the token file exists only in the container
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
    config["rule_files"] = [str(PROMETHEUS / f) for f in config["rule_files"]]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = _promtool("check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert {j["job_name"] for j in config["scrape_configs"]} == {"api", "monitor"}


def test_promtool_checks_and_unit_tests_the_alert_rules() -> None:
    checked = _promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


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


def test_dashboards_are_built_from_code(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(GRAFANA / "dashboards.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    built, committed = _dashboards(tmp_path), _dashboards(GRAFANA / "dashboards")
    assert set(built) == {"service.json", "model.json", "drift.json"}
    assert built == committed, "run `make dashboards` and commit the JSON"


@pytest.mark.parametrize("name", ["service.json", "model.json", "drift.json"])
def test_dashboard_structure(name: str) -> None:
    dashboard = _dashboards(GRAFANA / "dashboards")[name]
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
