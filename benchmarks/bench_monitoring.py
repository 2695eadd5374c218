"""Monitoring benchmark: report build time and size, and /predict latency while reports build.

    python benchmarks/bench_monitoring.py        # -> reports/benchmarks/monitoring.json

1. reference = the 20,758 S4E2 rows with a LightGBM pipeline's predictions, current = the 2,111
   UCI rows (labels + predictions); each report kind is built through the package
   (``build_report``: Evidently + HTML + JSON + index) and timed, its HTML size recorded; the
   peer is Evidently alone (``Report([DataDriftPreset(), DataSummaryPreset()]).run`` +
   ``save_html``) on the same frames, so the ratio tells what the package adds;
2. the API is started on that model (local export), 3,000 predictions are logged, and one
   client measures /predict p99 for a fixed time while idle, then while a build of all four
   reports over the prediction log runs (POST /monitoring/reports).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def p99_for(client: httpx.Client, url: str, bodies: list[dict], seconds: float, until=None) -> dict:
    latencies = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        if until is not None and i % 20 == 0 and until():
            break
        started = time.perf_counter()
        client.post(url, json=bodies[i % len(bodies)]).raise_for_status()
        latencies.append(time.perf_counter() - started)
        i += 1
    lat = np.array(latencies) * 1000
    return {
        "requests": len(lat),
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
    }


def main() -> int:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports/benchmarks/monitoring.json")
    args = parser.parse_args()

    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset, DataSummaryPreset

    from obesity_risk.config import load_settings
    from obesity_risk.data import load_dataset
    from obesity_risk.features import build_pipeline
    from obesity_risk.monitoring import KINDS, reports
    from obesity_risk.registry.card import CardMetrics, ModelCard
    from obesity_risk.registry.publish import export_local
    from obesity_risk.training.evaluation import evaluate, reference_frame
    from obesity_risk.training.families import effective_family, make_estimator

    tmp = Path(tempfile.mkdtemp(prefix="bench-monitoring-"))
    paths = {k: str(tmp / k) for k in ("mlruns_dir", "models_dir", "reports_dir", "logs_dir")}
    settings = load_settings(paths=paths, logging={"file": False})
    train = load_dataset(settings.path(settings.data.train_file), settings.data)
    uci = load_dataset(settings.path(settings.data.external_file), settings.data, labelled=None)
    family = effective_family(settings, "lgbm")
    estimator = make_estimator(settings, family, {"n_estimators": 300, "learning_rate": 0.05})
    pipeline = build_pipeline(settings.data, settings.features, estimator).fit(train.X, train.y)
    reference = reference_frame(pipeline, train.X, train.y, settings.data.target)
    current = reference_frame(pipeline, uci.X, uci.y, settings.data.target)
    out_dir = tmp / "reports"

    builds = {}
    for kind in KINDS:
        started = time.perf_counter()
        result = reports.build_report(kind, reference, current, settings.data, out_dir)
        builds[kind] = {
            "seconds": time.perf_counter() - started,
            "html_mb": result.html.stat().st_size / 1e6,
            "verdict": {k: getattr(result.metrics, k) for k in ("drift_share", "drifted_columns")},
        }

    definition = reports._definition(settings.data, current)
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset(), DataSummaryPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    snapshot.save_html(str(tmp / "peer.html"))
    peer = {
        "seconds": time.perf_counter() - started,
        "html_mb": (tmp / "peer.html").stat().st_size / 1e6,
    }

    # /predict latency while a report build runs in the API's report process
    external = evaluate(pipeline, uci.X, uci.y)
    card = ModelCard(
        name=settings.tracking.registered_model,
        family="lgbm",
        version="1",
        classes=list(settings.data.classes),
        metrics=CardMetrics(
            external_accuracy=external["accuracy"], external_f1_macro=external["f1_macro"]
        ),
    )
    export_local(settings, pipeline, train.X, card, reference)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBESITY_RISK", "MLFLOW_"))}
    env.update({f"OBESITY_RISK__PATHS__{k.upper()}": v for k, v in paths.items()})
    env.update(
        {
            "OBESITY_RISK__SERVING__MODEL_SOURCE": "local",
            "OBESITY_RISK__SERVING__PREDICTION_STORE": f"sqlite:///{tmp}/predictions.db",
            "OBESITY_RISK__LOGGING__LEVEL": "WARNING",
        }
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "obesity_risk.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=60) as client:
            for _ in range(600):
                try:
                    if client.get(f"{base}/ready").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            records = uci.X.to_dict(orient="records")
            client.post(
                f"{base}/predict/batch", json={"records": records + records[:889]}
            ).raise_for_status()
            idle = p99_for(client, f"{base}/predict", records, 10.0)
            job = client.post(f"{base}/monitoring/reports", json={"kind": "all"}).json()
            state = {"job": job}

            def done() -> bool:
                state["job"] = client.get(f"{base}{job['status_url']}").json()
                return state["job"]["status"] != "running"

            started = time.perf_counter()
            busy = p99_for(client, f"{base}/predict", records, 120.0, until=done)
            build_wall = time.perf_counter() - started
            while state["job"]["status"] == "running":
                time.sleep(0.5)
                done()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)

    result = {
        "benchmark": "monitoring",
        "command": "python benchmarks/bench_monitoring.py",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": sys.version.split()[0], "cpus": os.cpu_count()},
        "rows": {"reference": len(reference), "current": len(current)},
        "builds": builds,
        "peer_evidently_drift_plus_summary": peer,
        "predict_latency": {
            "idle": idle,
            "during_report_build": busy,
            "build_wall_s": build_wall,
            "job_status": state["job"]["status"],
        },
        "ratios": {
            "drift_plus_quality_vs_evidently_alone": (
                builds["data-drift"]["seconds"] + builds["data-quality"]["seconds"]
            )
            / peer["seconds"],
            "p99_busy_vs_idle": busy["p99_ms"] / idle["p99_ms"],
        },
        "targets": {"data_drift_s": "<= 5", "html_mb_each": "<= 6", "p99_busy_vs_idle": "<= 1.5"},
    }
    result["passed"] = {
        "data_drift_s": builds["data-drift"]["seconds"] <= 5,
        "html_mb_each": all(b["html_mb"] <= 6 for b in builds.values()),
        "p99_busy_vs_idle": result["ratios"]["p99_busy_vs_idle"] <= 1.5,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    sys.stdout.write(
        json.dumps(
            {
                "out": str(args.out),
                "builds": builds,
                **result["ratios"],
                "passed": result["passed"],
            },
            indent=1,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
