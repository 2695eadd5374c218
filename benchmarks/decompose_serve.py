"""Where a 1-client ``/predict`` spends its time over HTTP: one server, parts switched off.

    python benchmarks/decompose_serve.py [--rounds 2] [--seconds 6]

Serves the API (production settings, the serving benchmark's LightGBM reference) with two
benchmark-only routes added by this script's factory, never by the package:

- ``/predict_lean``: the same work as ``/predict`` (validation, scoring, the durable log
  commit, metrics, the same response), with the body, ``explain`` and ``Idempotency-Key`` read
  from the request instead of through FastAPI's parameter and dependency resolution;
- ``/predict_lean?skip=log|model|log,model``: the same without the log commit, without the
  model (features + model + result: a constant prediction instead), or without both.

Each variant is driven at 1 client for ``--seconds``, variants alternating, ``--rounds`` times;
every round is printed and written to ``reports/benchmarks/serving-decomposition.json``.
Differences between variants are the cost of the part switched off, as a user sees it.
"""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import BIN, free_port, load, wait_ready

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = (
    "/predict",
    "/predict_lean",
    "/predict_lean?skip=log",
    "/predict_lean?skip=model",
    "/predict_lean?skip=log,model",
)


def create_app() -> Any:
    """The API plus the benchmark-only ``/predict_lean`` route (uvicorn factory)."""
    from fastapi import Request, Response

    from obesity_risk.api.app import create_app as create_api
    from obesity_risk.api.deps import get_serving
    from obesity_risk.api.routes import predict as routes
    from obesity_risk.records import record_model

    app = create_api()
    record = record_model(app.state.settings.data)

    async def predict_lean(request: Request) -> Response:
        body = routes.validate_body(record, await request.body())
        serving = await get_serving(request)
        skip = request.query_params.get("skip", "")
        model, settings = serving.model, serving.settings
        if "model" in skip:
            probabilities = dict.fromkeys(model.classes, 1.0 / len(model.classes))
            scored = routes._Scored("0" * 32, [body.__dict__], [model.classes[0]], [probabilities])
        else:
            scored = routes._score(model, [body.__dict__], serving.telemetry)
        out = routes._body(scored, model, settings)
        prediction = out.pop("predictions")[0]
        answer = {**out, **prediction}
        once = replay = None
        if "log" not in skip:
            key = request.headers.get("idempotency-key")
            once = routes._idempotent(key, "/predict", False, scored, answer)
            with routes._store_errors(settings, serving.store) as log:
                replay = await log.write_async(
                    scored.request_id,
                    model.version,
                    scored.records,
                    scored.labels,
                    scored.rows,
                    once,
                )
        return routes._answer(scored, answer, once, replay, serving.telemetry)

    app.post("/predict_lean")(predict_lean)
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()

    from serve_stages import exported_reference, served_env

    tmp = Path(tempfile.mkdtemp(prefix="decompose-serve-"))
    _, records = exported_reference(tmp)
    env = served_env(tmp, f"{tmp}/p.db", PYTHONPATH=str(Path(__file__).resolve().parent))
    port = free_port()
    command = [str(BIN / "uvicorn"), "--factory", "decompose_serve:create_app"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/ready", server)
        asyncio.run(load(f"{base}/predict", records, 4, 2.0))  # warm-up
        for round_ in range(args.rounds):
            for variant in VARIANTS:
                result = asyncio.run(load(base + variant, records, 1, args.seconds))
                runs[variant].append(result)
                print(
                    f"round {round_ + 1} {variant:32s} {result['rps']:7.0f} req/s"
                    f"  p50 {result['p50_ms']:.3f} ms  errors {result['errors']}",
                    flush=True,
                )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    errors = sum(r["errors"] for rs in runs.values() for r in rs)
    out = {
        "benchmark": "serving-decomposition",
        "command": "python benchmarks/decompose_serve.py",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "clients": 1,
        "seconds_per_run": args.seconds,
        "runs": runs,
        "errors": errors,
    }
    path = ROOT / "reports" / "benchmarks" / "serving-decomposition.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
