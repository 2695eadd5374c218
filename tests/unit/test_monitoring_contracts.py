"""Typed monitoring contracts: round trips with the on-disk shape, malformed JSON naming its
file, and the index, the Prometheus collector and the rules working on typed objects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from loguru import logger

from obesity_risk.config import load_settings
from obesity_risk.contract import ContractError
from obesity_risk.datastore import DataManifest
from obesity_risk.monitoring import index, metrics
from obesity_risk.monitoring.contracts import (
    ActionOutcome,
    BuiltReport,
    ReportRun,
    ReportSummary,
    ReportWindow,
    RuleDecision,
    WebhookDelivery,
)
from obesity_risk.monitoring.jobs import ReportJob, ReportLink
from obesity_risk.monitoring.rules import act, evaluate

DRIFT = {
    "kind": "data-drift",
    "created_at": "2026-11-23T10:00:00+00:00",
    "window": {
        "rows": 1500,
        "sampled": True,
        "from": "2026-11-22T10:00:00+00:00",
        "to": "2026-11-23T09:59:00+00:00",
        "rows_used": 500,
    },
    "model_version": None,
    "model_source": "models/champion",
    "source": "predictions since 2026-11-22T10:00:00+00:00",
    "metrics": {},
    "drifted_columns": 3,
    "drift_share": 0.6,
    "column_drift": {"Weight": 0.31, "Age": 0.02},
    "decisions": {
        "dataset_drift": {
            "metric": "drift_share",
            "threshold": 0.5,
            "value": 0.6,
            "applicable": True,
            "fired": True,
        },
        "accuracy_drop": {
            "metric": "accuracy_drop",
            "threshold": 0.05,
            "value": None,
            "applicable": False,
            "fired": False,
        },
    },
    "actions": {"log": True, "webhook": {"delivered": False, "error": "HTTP 500", "attempts": 3}},
}


def _write(folder: Path, stamp: str, kind: str, document: dict | str) -> Path:
    path = folder / f"{stamp}-{kind}.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_report_summary_round_trip_keeps_the_json_shape(tmp_path: Path) -> None:
    summary = ReportSummary.read(_write(tmp_path, "20261123T100000000000Z", "data-drift", DRIFT))
    assert summary.to_json() == DRIFT  # a null stays null, an absent key stays absent
    assert list(summary.to_json()) == list(DRIFT)  # and the keys keep their order
    assert ReportSummary.parse(json.dumps(summary.to_json()), "again") == summary
    assert isinstance(summary.decisions["dataset_drift"], RuleDecision)
    assert summary.window is not None and summary.window.from_ == DRIFT["window"]["from"]
    assert summary.fired() == ["dataset_drift"]
    assert summary.column_drift["Weight"] == 0.31 and summary.accuracy is None
    assert not hasattr(summary, "__getitem__")  # attributes only: no dict-style access
    minimal = ReportSummary(kind="data-quality")
    assert minimal.to_json() == {"kind": "data-quality"}
    assert minimal.replace(decisions={}).to_json() == {"kind": "data-quality", "decisions": {}}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (json.dumps({**DRIFT, "drift_shares": 0.6}), "drift_shares: Extra inputs"),
        (json.dumps({**DRIFT, "window": {"rows": "many", "sampled": False}}), "window.rows"),
        (json.dumps({k: v for k, v in DRIFT.items() if k != "kind"}), "kind: Field required"),
        ('{"kind": "data-drift", ', "Invalid JSON"),
    ],
)
def test_a_malformed_report_names_its_file(tmp_path: Path, text: str, problem: str) -> None:
    path = _write(tmp_path, "20261123T100000000000Z", "data-drift", text)
    with pytest.raises(ContractError) as caught:
        ReportSummary.read(path)
    assert str(path) in str(caught.value) and "not a valid ReportSummary" in str(caught.value)
    assert problem in str(caught.value)


@pytest.fixture
def logged():
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    yield lines
    logger.remove(sink)


def test_index_reads_typed_reports_and_names_a_bad_one(tmp_path: Path, logged) -> None:
    _write(tmp_path, "20261123T100000000000Z", "data-drift", DRIFT)
    bad = _write(tmp_path, "20261123T110000000000Z", "data-drift", {"kind": "x", "shar": 1})
    found = index.read_reports(tmp_path)
    assert [listed.json_name for listed in found] == ["20261123T100000000000Z-data-drift.json"]
    assert isinstance(found[0].summary, ReportSummary)
    assert any(str(bad) in line and "shar" in line for line in logged)
    assert index.window_text(found[0].summary) == (
        "2026-11-22 10:00 → 2026-11-23 09:59 UTC · 1,500 rows (sampled to 500)"
    )
    page = index.write_index(tmp_path, lambda path, text: path.write_text(text))
    html = page.read_text()
    assert "DRIFT: dataset_drift" in html and "unversioned export" in html
    assert 'data-rule="dataset_drift"' in html and 'data-rule="accuracy_drop"' not in html


def test_metrics_read_typed_reports(tmp_path: Path, logged) -> None:
    _write(tmp_path, "20261123T100000000000Z", "data-drift", DRIFT)
    _write(tmp_path, "20261123T110000000000Z", "data-drift", {"kind": "data-drift", "oops": 1})
    latest = metrics.newest_reports(tmp_path)  # the bad newest one is logged, the next taken
    assert [type(r) for r in latest] == [ReportSummary] and latest[0].drift_share == 0.6
    assert any("oops" in line for line in logged)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in metrics.VerdictCollector(tmp_path).collect()
        for s in family.samples
    }
    assert samples[("obesity_risk_drift_share", ())] == 0.6
    assert samples[("obesity_risk_report_rows", (("kind", "data-drift"),))] == 1500
    rule = (("metric", "drift_share"), ("rule", "dataset_drift"))
    assert samples[("obesity_risk_drift_rule_value", rule)] == 0.6
    assert samples[("obesity_risk_drift_rule_fired", (("rule", "dataset_drift"),))] == 1.0
    assert not any(name == "obesity_risk_drift_rule_fired" and "accuracy" in str(labels)
                   for name, labels in samples)  # fmt: skip


def test_rules_produce_typed_decisions_and_outcomes(tmp_path: Path) -> None:
    settings = load_settings(monitoring={"actions": ["log", "alert_file", "webhook"]})
    summary = ReportSummary.model_validate(DRIFT)
    decisions = evaluate(settings.monitoring.rules, summary)
    assert all(isinstance(d, RuleDecision) for d in decisions.values())
    assert decisions["dataset_drift"].fired and not decisions["accuracy_drop"].applicable
    outcome = act(settings.monitoring, summary, decisions, tmp_path, html="r.html")
    assert isinstance(outcome, ActionOutcome) and outcome.log is True
    assert outcome.webhook == WebhookDelivery(
        delivered=False, error="monitoring.webhook_url is not set"
    )
    assert outcome.to_json()["webhook"] == {
        "delivered": False,
        "error": "monitoring.webhook_url is not set",
    }
    alert = json.loads(Path(str(outcome.alert_file)).read_text())
    assert alert["report"] == "r.html" and alert["window"] == DRIFT["window"]
    calm = summary.replace(drift_share=0.1, column_drift={})
    assert act(settings.monitoring, calm, evaluate([], calm), tmp_path) == ActionOutcome()


def test_report_run_and_the_api_link() -> None:
    window = ReportWindow(rows=10, sampled=False, rows_used=10)
    built = BuiltReport(
        kind="data-drift", html="/r/a.html", json="/r/a.json", latest="/r/l.html",
        fired=["b", "a"], window=window,
    )  # fmt: skip
    run = ReportRun([built, built.replace(kind="target-drift", fired=["a"])])
    assert run.fired == ["a", "b"] and len(run) == 2 and [r.kind for r in run][1] == "target-drift"
    assert run[0].json_path == "/r/a.json" and run[0].to_json()["json"] == "/r/a.json"
    assert built.to_json()["window"] == {"rows": 10, "sampled": False, "rows_used": 10}
    link = ReportLink(kind="k", html="h", json_path="j", url="u", window=window)
    assert link.model_dump(by_alias=True)["window"] == built.to_json()["window"]
    schema = ReportJob.model_json_schema(mode="serialization")
    assert set(schema["$defs"]["ReportWindow"]["properties"]) >= {"rows", "from", "to"}


def test_data_manifest_round_trip() -> None:
    body = {"created_at": "2026-11-23T10:00:00+00:00", "files": {}, "uploaded": []}
    body["files"] = {"train.csv": {"sha256": "ab" * 32, "size": 12}}
    manifest = DataManifest.parse(json.dumps(body), "s3://b/raw/manifests/latest.json")
    assert manifest.to_json() == body and manifest.files["train.csv"].size == 12
    pushed = manifest.replace(version="20261123T100000+0000")
    assert pushed.version == "20261123T100000+0000" and pushed.files["train.csv"].size == 12
    with pytest.raises(ContractError, match=r"s3://b/raw/manifests/x.json: .*files\.a\.size"):
        DataManifest.parse(
            '{"files": {"a": {"sha256": "x", "size": -1}}}', "s3://b/raw/manifests/x.json"
        )
