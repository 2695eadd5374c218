"""Serving benchmark of a regression, over HTTP, in one run: the API vs the no-model FastAPI
ceiling vs `mlflow models serve`, with the load generator (``wrk``) and settings of
``bench_serve.py``.

    python benchmarks/bench_serve_regression.py  # -> reports/benchmarks/serving-regression.json

The model: a LightGBM regressor (300 trees, lr 0.05) in the package's pipeline, fitted on
20,000 rows of ``tests/helpers/datasets.make_homes`` (its config is what ``obesity-risk init``
writes), with its 90% split-conformal interval calibrated on 3,000 held-out rows, registered as
the champion of a throw-away MLflow store. One worker each; 1 and 16 clients, one record per
request. The ratios are the classifier's (``serving.json``), judged the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_serve import BIN, free_port, serve, server_specs, stop  # noqa: E402
from wrk_load import ensure_wrk, wrk_load  # noqa: E402
from wrk_load import version as wrk_version  # noqa: E402


def champion(tmp: Path):
    """Train, calibrate and register the regression champion; (settings, records, uri)."""
    import mlflow

    from obesity_risk import registry
    from obesity_risk.config import load_settings
    from obesity_risk.features import build_pipeline
    from obesity_risk.registry.card import CardInterval, ModelCard
    from obesity_risk.scaffold import scaffold
    from obesity_risk.training.families import effective_family, make_estimator
    from obesity_risk.training.residuals import calibrate_interval
    from tests.helpers.datasets import make_homes

    data = tmp / "homes.csv"
    frame = make_homes(23_000, 0)
    frame.to_csv(data, index=False)
    made = scaffold(data, "price", ordered={"condition": ["poor", "fair", "good"]})
    config = tmp / "homes.yaml"
    config.write_text(made.render(str(config)))
    paths = {"mlruns_dir": str(tmp / "mlruns"), "models_dir": str(tmp / "models")}
    settings = load_settings(config, paths=paths, logging={"file": False})
    X, y = frame.drop(columns=["home", "price"]), frame["price"]
    family = effective_family(settings, "lgbm")
    estimator = make_estimator(settings, family, {"n_estimators": 300, "learning_rate": 0.05})
    pipeline = build_pipeline(settings.data, settings.features, estimator)
    pipeline.fit(X.iloc[:20_000], y.iloc[:20_000])
    interval = calibrate_interval(pipeline, X.iloc[20_000:], y.iloc[20_000:], 0.9)
    reg = registry.Registry(settings)
    with registry.tracking_scope(settings):
        with mlflow.start_run(run_name="bench", experiment_id=registry.experiment_id(settings)):
            info = registry.log_pipeline(pipeline, X)
        card = ModelCard(
            name=reg.name,
            family="lgbm",
            budget="bench",
            task="regression",
            interval=CardInterval(**interval.model_dump()),
        )
        version = reg.register(info.model_uri, card)
    reg.set_alias("champion", version)
    return settings, config, X.head(500).to_dict(orient="records"), registry.champion_uri(settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="load duration per level")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "reports/benchmarks/serving-regression.json"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-regression-"))
    settings, config, records, uri = champion(tmp)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OBESITY_RISK", "MLFLOW_"))}
    env = {
        **base,
        "OBESITY_RISK_CONFIG": str(config),
        "OBESITY_RISK__PATHS__MLRUNS_DIR": str(tmp / "mlruns"),
        "OBESITY_RISK__PATHS__MODELS_DIR": str(tmp / "models"),
        "OBESITY_RISK__PATHS__LOGS_DIR": str(tmp / "logs"),
        "OBESITY_RISK__LOGGING__LEVEL": "WARNING",
        "OBESITY_RISK__SERVING__PREDICTION_STORE": f"sqlite:///{tmp}/predictions.db",
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "PYTHONPATH": str(ROOT),
        "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}",
    }
    port = free_port()
    servers = server_specs(port, 1, uri, records)
    http = {}
    for name, (command, ready_url, url, bodies) in servers.items():
        process, _ = serve(command, env, ready_url)
        try:
            wrk_load(url, bodies, 4, 2.0)  # warm-up
            http[name] = {str(c): wrk_load(url, bodies, c, args.seconds) for c in (1, 16)}
        finally:
            stop(process)
    ratios = {}
    for c in ("1", "16"):
        ratios[f"api_vs_ceiling_rps_{c}c"] = http["api"][c]["rps"] / http["ceiling"][c]["rps"]
        ratios[f"api_vs_mlflow_rps_{c}c"] = http["api"][c]["rps"] / http["mlflow_serve"][c]["rps"]
    ratios["api_p99_vs_ceiling_p99_16c"] = (
        http["api"]["16"]["p99_ms"] / http["ceiling"]["16"]["p99_ms"]
    )
    result = {
        "benchmark": "serving-regression",
        "command": "python benchmarks/bench_serve_regression.py",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": sys.version.split()[0], "cpus": os.cpu_count()},
        "model": "package pipeline + LightGBM regressor 300 trees (make_homes, 20,000 rows)"
        " with a 90% conformal interval",
        "api_settings": "prediction log on (SQLite), metrics on, one worker",
        "load_generator": f"{wrk_version(ensure_wrk())}: one thread, a connection per client",
        "valid": http["ceiling"]["16"]["rps"] >= http["ceiling"]["1"]["rps"],
        "load_seconds_per_level": args.seconds,
        "http": http,
        "ratios": ratios,
        "errors": sum(r["errors"] for s in http.values() for r in s.values()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps({"ratios": ratios, "http": http}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
