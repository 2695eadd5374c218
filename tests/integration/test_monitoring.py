"""Monitoring: reports on small frames, verdicts, sampling, atomic writes, rules -> actions,
CLI exit codes, the API 202 -> status -> HTML flow, and bad windows."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from obesity_risk.api.app import create_app
from obesity_risk.config import load_settings
from obesity_risk.config.sections import DriftRule
from obesity_risk.data import load_dataset
from obesity_risk.errors import DataValidationError
from obesity_risk.monitoring import reports
from obesity_risk.monitoring.rules import act, evaluate, lookup, post_webhook
from obesity_risk.monitoring.service import Window, run_reports
from obesity_risk.registry.publish import export_local
from obesity_risk.training.evaluation import reference_frame
from tests.helpers.cli import cli, tmp_env
from tests.helpers.models import make_card
from tests.helpers.paths import TRAIN_CSV, UCI_CSV
from tests.helpers.settings import quiet_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def frames(small_pipeline):
    settings = quiet_settings()
    train = load_dataset(TRAIN_CSV, settings.data)
    reference = reference_frame(
        small_pipeline, train.X.head(3000), train.y.head(3000), settings.data.target
    )
    same = reference_frame(
        small_pipeline, train.X.iloc[3000:4500], train.y.iloc[3000:4500], settings.data.target
    )
    shifted = same.copy()
    shifted["Weight"] = shifted["Weight"] * 1.6
    shifted["Age"] = shifted["Age"] + 25
    shifted["Height"] = shifted["Height"] - 0.25
    shifted["FAF"] = 0.0
    shifted["TUE"] = 2.0
    shifted["MTRANS"] = "Walking"
    shifted["CAEC"] = "Always"
    shifted["FAVC"] = "no"
    shifted["family_history_with_overweight"] = "no"
    shifted["prediction"] = small_pipeline.predict(
        shifted.drop(columns=["prediction", settings.data.target])
    )
    return settings, reference, same, shifted


def test_data_drift_verdicts(tmp_path: Path, frames) -> None:
    settings, reference, same, shifted = frames
    calm = reports.build_report("data-drift", reference, same, settings.data, tmp_path)
    drift = reports.build_report("data-drift", reference, shifted, settings.data, tmp_path)
    assert calm.metrics.drift_share < 0.2
    assert drift.metrics.drift_share > 0.5
    assert drift.metrics.column_drift["Weight"] > calm.metrics.column_drift["Weight"]
    rules = [DriftRule(name="dataset_drift", metric="drift_share", threshold=0.5)]
    assert not evaluate(rules, calm.metrics)["dataset_drift"].fired
    assert evaluate(rules, drift.metrics)["dataset_drift"].fired
    for result in (calm, drift):
        assert result.html.stat().st_size > 10_000 and result.latest.is_file()
        assert json.loads(result.json.read_text())["kind"] == "data-drift"
    index = (tmp_path / "index.html").read_text()
    assert index.count("data-drift") >= 2


def test_every_kind_builds(tmp_path: Path, frames) -> None:
    settings, reference, same, _ = frames
    built = {
        k: reports.build_report(k, reference, same, settings.data, tmp_path) for k in reports.KINDS
    }
    for kind, result in built.items():
        assert result.html.is_file() and (tmp_path / f"latest-{kind}.html").is_file(), kind
    assert set(built["target-drift"].metrics.column_drift) == {"prediction", "NObeyesdad"}
    assert built["performance"].metrics.metrics  # Evidently's classification numbers


def test_target_drift_reports_prediction_shift(tmp_path: Path, frames) -> None:
    settings, reference, _, shifted = frames
    result = reports.build_report("target-drift", reference, shifted, settings.data, tmp_path)
    assert result.metrics.column_drift["prediction"] > 0.1


def test_sampling_is_said(tmp_path: Path, frames) -> None:
    settings, reference, same, _ = frames
    result = reports.build_report(
        "data-quality", reference, same, settings.data, tmp_path, max_rows=500
    )
    assert result.window.to_json() == {"rows": 1500, "sampled": True, "rows_used": 500}


def test_bad_windows(tmp_path: Path, frames) -> None:
    settings, reference, same, _ = frames
    with pytest.raises(DataValidationError, match=r"current: missing column\(s\) \['Weight'\]"):
        reports.build_report(
            "data-drift", reference, same.drop(columns="Weight"), settings.data, tmp_path
        )
    with pytest.raises(DataValidationError, match="no rows"):
        reports.build_report("data-drift", reference, same.head(0), settings.data, tmp_path)
    with pytest.raises(DataValidationError, match="performance needs labels"):
        reports.build_report(
            "performance",
            reference,
            same.drop(columns=settings.data.target),
            settings.data,
            tmp_path,
        )


def test_concurrent_builds_never_leave_a_broken_file(tmp_path: Path, frames) -> None:
    settings, reference, same, _ = frames
    with ThreadPoolExecutor(3) as pool:
        results = list(
            pool.map(
                lambda _: reports.build_report(
                    "data-quality", reference, same, settings.data, tmp_path
                ),
                range(3),
            )
        )
    assert len({r.html for r in results}) == 3
    latest = (tmp_path / "latest-data-quality.html").read_text()
    assert latest.rstrip().endswith("</html>")
    # no temp files left behind (the folder's lock file stays, empty)
    assert [p.name for p in tmp_path.glob(".*")] == [".reports.lock"]
    assert (tmp_path / "index.html").read_text().count("data-quality") >= 3


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_rules_fire_actions_alert_webhook_retrain(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    settings = load_settings(
        monitoring={"actions": ["log", "alert_file", "webhook", "retrain"], "webhook_url": url}
    )
    metrics = {"kind": "data-drift", "drift_share": 0.8, "column_drift": {"Weight": 0.3}}
    decisions = evaluate(settings.monitoring.rules, metrics)
    assert decisions["dataset_drift"].fired and decisions["weight_drift"].fired
    assert decisions["accuracy_drop"].model_dump() == {
        "metric": "accuracy_drop",
        "threshold": 0.05,
        "value": None,
        "applicable": False,
        "fired": False,
    }
    calls = []
    outcome = act(
        settings.monitoring,
        metrics,
        decisions,
        tmp_path / "alerts",
        retrain=lambda b: calls.append(b) or {"started": True},
    )
    server.shutdown()
    alert = json.loads(Path(str(outcome.alert_file)).read_text())
    assert alert["fired"] == ["dataset_drift", "weight_drift"]
    assert outcome.webhook is not None and outcome.webhook.delivered is True
    assert _Hook.received[-1]["fired"] == ["dataset_drift", "weight_drift"]
    assert calls == ["default"]
    calm = evaluate(settings.monitoring.rules, {})
    assert act(settings.monitoring, metrics, calm, tmp_path).to_json() == {}


def test_dead_webhook_is_logged_not_raised() -> None:
    started = time.monotonic()
    result = post_webhook("http://127.0.0.1:9/hook", {"x": 1}, timeout=1, retries=2)
    assert result.delivered is False and result.attempts == 2
    assert time.monotonic() - started < 10


def test_lookup_paths() -> None:
    assert lookup({"a": {"b": 2}}, "a.b") == 2.0
    assert lookup({"a": {"b": "x"}}, "a.b") is None
    assert lookup({}, "a") is None


@pytest.fixture
def champion_home(tmp_path: Path, small_pipeline):
    """A project home with an exported champion and its reference."""
    settings = quiet_settings(tmp_path)
    train = load_dataset(TRAIN_CSV, settings.data)
    reference = reference_frame(
        small_pipeline, train.X.head(4000), train.y.head(4000), settings.data.target
    )
    export_local(settings, small_pipeline, train.X, make_card("9", val_accuracy=0.99), reference)
    return tmp_path, settings


def test_run_reports_on_the_uci_file(champion_home) -> None:
    tmp, settings = champion_home
    results = run_reports(settings, None, Window(csv=UCI_CSV), retrain=lambda b: {"started": False})
    assert [r.kind for r in results] == list(reports.KINDS)
    performance = json.loads(Path(results[-1].json_path).read_text())
    assert performance["reference_accuracy"] == 0.99 and 0.5 < performance["accuracy"] < 0.99
    assert "accuracy_drop" in performance["decisions"]
    assert performance["model_version"] == "9"
    index = (tmp / "reports/monitoring/index.html").read_text()
    assert index.count("<td>9</td>") == 4 and "None" not in index  # every kind names the version


def test_cli_exit_codes(champion_home) -> None:
    tmp, _ = champion_home
    env = tmp_env(tmp)
    strict = tmp / "strict.yaml"  # an accuracy-drop rule that fires on any labelled data
    strict.write_text(
        "monitoring:\n  rules:\n    - {name: accuracy_drop, metric: accuracy_drop, threshold: -1}\n"
    )
    ok = cli(
        "report", "--kind", "data-quality", "--current", str(UCI_CSV), "-c", str(strict), env=env
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    fired = cli(
        "report", "--kind", "performance", "--current", str(UCI_CSV), "-c", str(strict), env=env
    )
    assert fired.returncode == 3, fired.stderr[-2000:]
    assert "drift rules fired: accuracy_drop" in fired.stderr
    unlabeled = tmp / "unlabeled.csv"
    pd.read_csv(UCI_CSV).drop(columns="NObeyesdad").to_csv(unlabeled, index=False)
    bad = cli("report", "--kind", "performance", "--current", str(unlabeled), env=env)
    assert bad.returncode == 2 and "performance needs labels" in bad.stderr
    empty = cli("report", "--last", "10", env=env)
    assert empty.returncode == 2 and "the prediction log has no rows" in empty.stderr
    both = cli("report", "--last", "10", "--current", str(UCI_CSV), env=env)
    assert both.returncode == 2 and "exactly one of" in both.stderr


def test_api_report_flow(champion_home) -> None:
    _, settings = champion_home
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    records = uci.X.head(300).to_dict(orient="records")
    token = "monitoring-admin-token-123"
    local = settings.model_copy(
        update={
            "serving": settings.serving.model_copy(
                update={"model_source": "local", "admin_token": SecretStr(token)}
            )
        }
    )
    auth = {"Authorization": f"Bearer {token}"}

    def wait(client: TestClient, job: dict) -> dict:
        deadline = time.monotonic() + 120
        while job["status"] in {"queued", "running"} and time.monotonic() < deadline:
            time.sleep(0.3)
            job = client.get(job["status_url"]).json()
        return job

    with TestClient(create_app(local)) as client:
        assert client.post("/monitoring/reports", json={"kind": "all"}).status_code == 401
        empty = client.post("/monitoring/reports", json={"kind": "data-drift"}, headers=auth)
        assert empty.status_code == 202
        failed = wait(client, empty.json())
        assert failed["status"] == "failed"
        assert "the prediction log has no rows" in failed["error"]

        assert client.post("/predict/batch", json={"records": records}).status_code == 200
        started = client.post(
            "/monitoring/reports", json={"kind": "data-drift", "last": 200}, headers=auth
        )
        assert started.status_code == 202
        job = wait(client, started.json())
        assert job["status"] == "done", job
        window = job["reports"][0]["window"]
        assert {k: window[k] for k in ("rows", "sampled", "rows_used")} == {
            "rows": 200,
            "sampled": False,
            "rows_used": 200,
        }
        assert window["from"] <= window["to"]  # the log window as a time range
        page = client.get(job["reports"][0]["url"])
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert client.get("/monitoring/reports/latest/data-drift").status_code == 200
        assert client.get("/monitoring/reports/nope").json()["detail"] == "no report job nope"
        latest_perf = client.get("/monitoring/reports/latest/performance")
        assert latest_perf.status_code == 404
        assert latest_perf.json()["detail"] == "no performance report yet"
        assert client.get("/monitoring/files/..%2Fsecret.html").status_code == 404
        bad_kind = client.post("/monitoring/reports", json={"kind": "everything"}, headers=auth)
        assert bad_kind.status_code == 422
