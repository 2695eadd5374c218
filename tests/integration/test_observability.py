"""The watched loop with the real pieces: the API (2 workers) and the scheduled monitor, scraped
by a real Prometheus (Debian's package) loaded with the repository's config and alert rules,
driven by ``obesity-risk simulate`` (calm traffic, then drifted traffic with labels posted
later). Every dashboard panel's query must return data from that Prometheus, the drift must
show in the next report's verdict and in the metrics, and the drift alert must fire.

The drift panel's data (range queries against this Prometheus) is drawn to ``drift-panel.png``
under the test's temp dir; ``make figures`` copies it to ``reports/figures/`` for the README.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from obesity_risk.data import load_dataset
from obesity_risk.registry.publish import export_local
from obesity_risk.training.evaluation import reference_frame
from tests.helpers.figures import figure_path, publish_figure
from tests.helpers.models import make_card
from tests.helpers.net import free_port, wait_http_ok
from tests.helpers.paths import ROOT, TRAIN_CSV, isolated_paths
from tests.helpers.settings import quiet_settings

pytestmark = pytest.mark.slow
TOKEN = "observability-admin-token-0123"
SCRAPE_TOKEN = "observability-scrape-token-0123"  # what Prometheus holds: reads /metrics only
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROMETHEUS_DIR = ROOT / "docker" / "prometheus"
DASHBOARDS = ROOT / "docker" / "grafana" / "dashboards"
DRIFT = "Weight*1.15,FAVC=yes:0.3,CALC=Always:0.05"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBESITY_RISK", "MLFLOW_"))}
    env.update(
        {f"OBESITY_RISK__PATHS__{k.upper()}": v for k, v in isolated_paths(tmp_path).items()}
    )
    env.update(
        {
            "OBESITY_RISK__SERVING__PREDICTION_STORE": f"sqlite:///{tmp_path}/predictions.db",
            "OBESITY_RISK__SERVING__MODEL_SOURCE": "local",
            "OBESITY_RISK__SERVING__ADMIN_TOKEN": TOKEN,
            "OBESITY_RISK__SERVING__METRICS_AUTH": "true",  # Prometheus scrapes with the token
            "OBESITY_RISK__SERVING__METRICS_TOKEN": SCRAPE_TOKEN,
            "OBESITY_RISK__LOGGING__FILE": "false",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        }
    )
    return env


@contextmanager
def _process(argv: list[str], env: dict[str, str], ready_url: str, **wait) -> Iterator[None]:
    process = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_http_ok(
            ready_url,
            90,
            lambda: None if process.poll() is None else process.stderr.read().decode()[-2000:],
            **wait,
        )
        yield
        assert process.poll() is None, f"{argv[0]} died"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _prometheus_config(tmp_path: Path, api: int, monitor: int) -> Path:
    """The repository's config with this test's targets, 1 s scrapes and the token file."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    token = tmp_path / "api_metrics_token"
    token.write_text(SCRAPE_TOKEN)
    ports = {"api": api, "monitor": monitor}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _simulate(env: dict[str, str], base: str, *extra: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "obesity_risk.cli",
            "simulate",
            "--url",
            base,
            "--no-progress",
            *extra,
        ],
        env=env | {"OBESITY_RISK_API_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def _report(base: str, since: str) -> dict:
    """Build all report kinds over the log since ``since`` through the API; the finished job."""
    started = httpx.post(
        f"{base}/monitoring/reports", json={"kind": "all", "since": since}, headers=AUTH, timeout=30
    )
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = httpx.get(f"{base}{started.json()['status_url']}", timeout=10).json()
        if job["status"] in ("done", "failed"):
            assert job["status"] == "done", job
            return job
        time.sleep(1)
    raise AssertionError("report job did not finish")


def _query(prom: str, expr: str) -> list[dict]:
    body = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]


def _wait_for(prom: str, expr: str, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := _query(prom, expr):
            return result
        time.sleep(1)
    raise AssertionError(f"no data for {expr}")


def _dashboard_queries() -> dict[str, str]:
    """Every panel query of the provisioned dashboards: 'dashboard / panel' -> expr."""
    queries = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                name = f"{path.stem} / {panel['title']} / {target.get('refId', '')}"
                queries[name] = target["expr"]
    return queries


def _utc(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(moment))


def _draw(prom: str, start: float, end: float, marks: dict[str, float], path: Path) -> None:
    """The drift panel's data, from range queries, as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(11, 4.5))
    params = {"start": start, "end": end, "step": 1}
    series = httpx.get(
        f"{prom}/api/v1/query_range",
        params={"query": "max by (rule) (obesity_risk_drift_rule_value)", **params},
        timeout=10,
    ).json()["data"]["result"]
    for item in series:
        times = [float(t) - start for t, _ in item["values"]]
        ax.step(
            times, [float(v) for _, v in item["values"]], where="post", label=item["metric"]["rule"]
        )
    for name, moment in marks.items():
        ax.axvline(moment - start, color="grey", linestyle=":")
        ax.annotate(name, (moment - start, ax.get_ylim()[1]), fontsize=8, rotation=90, va="top")
    thresholds: dict[float, list[str]] = {}
    for item in _query(prom, "max by (rule) (obesity_risk_drift_rule_threshold)"):
        thresholds.setdefault(float(item["value"][1]), []).append(item["metric"]["rule"])
    for value, rules in sorted(thresholds.items()):
        label = f"threshold {value:g}: {', '.join(sorted(rules))}"
        ax.axhline(value, color="#b00020", linestyle="--", linewidth=1, alpha=0.6, label=label)
    ax.set(xlabel="seconds since the simulation started", ylabel="rule value (drift score)")
    ax.set_title("obesity_risk_drift_rule_value, scraped by Prometheus during the test")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def test_simulated_drift_moves_the_metrics_dashboards_and_alerts(
    tmp_path: Path, small_pipeline
) -> None:
    assert shutil.which("prometheus"), "prometheus is a test dependency: make system-deps"
    settings = quiet_settings(tmp_path)
    train = load_dataset(TRAIN_CSV, settings.data)
    reference = reference_frame(
        small_pipeline, train.X.head(3000), train.y.head(3000), settings.data.target
    )
    export_local(settings, small_pipeline, train.X, make_card("11", val_accuracy=0.9), reference)
    env = _env(tmp_path)
    api, monitor, prom_port = free_port(), free_port(), free_port()
    base, prom = f"http://127.0.0.1:{api}", f"http://127.0.0.1:{prom_port}"
    cli = [sys.executable, "-m", "obesity_risk.cli"]
    serve = [*cli, "serve", "--port", str(api), "--workers", "2"]
    watch = [*cli, "monitor", "--every", "10m", "--window", "1h", "--metrics-port", str(monitor)]
    prometheus = [
        "prometheus",
        f"--config.file={_prometheus_config(tmp_path, api, monitor)}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    with (
        _process(serve, env, f"{base}/health"),
        _process(watch, env, f"http://127.0.0.1:{monitor}/metrics"),
        _process(prometheus, os.environ.copy(), f"{prom}/-/ready"),
    ):
        up = _wait_for(prom, 'sum(up{job=~"api|monitor"}) == 2')
        assert up, "both targets scraped"
        start = time.time()
        calm = _simulate(env, base, "--rate", "50", "--duration", "6s")
        assert calm.startswith("sent 300 requests") and " 300 ok" in calm, calm
        _report(base, _utc(start - 1))
        drifted_at = time.time()
        drifted = _simulate(
            env, base, "--rate", "50", "--duration", "6s", "--drift", DRIFT,
            "--labels-after", "7s", "--seed", "7",
        )  # fmt: skip
        assert " 300 ok" in drifted and "300 labels posted" in drifted, drifted
        job = _report(base, _utc(drifted_at - 0.5))
        reported_at = time.time()
        fired = {name for report in job["reports"] for name in report["fired"]}
        assert "weight_drift" in fired, job["reports"]  # the drift is in the verdict
        # ... and in the metrics, from whichever worker answers, and from the monitor
        weight = _wait_for(prom, 'obesity_risk_drift_rule_fired{rule="weight_drift"} == 1')
        assert {s["metric"]["job"] for s in weight} == {"api", "monitor"}
        accuracy = _wait_for(prom, "max(obesity_risk_accuracy) by (job)")
        assert 0 < float(accuracy[0]["value"][1]) < 1  # labels posted later were scored
        time.sleep(3)  # a few more scrapes, so rates and ranges have their points
        empty = {
            name: expr for name, expr in _dashboard_queries().items() if not _query(prom, expr)
        }
        assert not empty, f"dashboard queries without data: {empty}"
        alerts = _wait_for(prom, 'ALERTS{alertname="ObesityRiskDriftRuleFired"}', 20)
        assert {a["metric"]["rule"] for a in alerts} >= {"weight_drift"}
        marks = {"drifted traffic": drifted_at, "report on it": reported_at}
        figure = figure_path(tmp_path, "drift-panel.png")
        _draw(prom, start, time.time(), marks, figure)
        publish_figure(figure)
