"""Durability cost: the prediction log with SQLite ``synchronous=normal`` vs ``full``.

    python benchmarks/bench_store.py            # -> reports/benchmarks/store-durability.json

1. in process: the median time of one single-row ``PredictionStore.write`` (one commit each,
   nothing else queued) in each mode, alternating rounds;
2. over HTTP: ``obesity-risk serve`` (1 worker, prediction log on) on an exported LightGBM
   pipeline, once per mode per round, driven by the serving benchmark's bounded async load at 1
   and 16 clients; req/s and p50/p99 latency. Every round of every figure is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import BIN, ROOT, free_port, load, wait_ready
from serve_stages import served_env

MODES = ("normal", "full")


def commit_cost(tmp: Path, mode: str, writes: int) -> float:
    """Median seconds of one single-row write (its own commit) in ``mode``."""
    from obesity_risk.config.sections import StoreConfig
    from obesity_risk.monitoring.store import PredictionStore

    store = PredictionStore(
        f"sqlite:///{tmp}/{mode}-{time.time_ns()}.db", StoreConfig(synchronous=mode)
    )
    try:
        store.wait_connected(10)
        times = []
        for i in range(writes):
            started = time.perf_counter()
            store.write(f"r{i}", "1", [{"Age": 20.0}], ["Normal_Weight"], [{"Normal_Weight": 1.0}])
            times.append(time.perf_counter() - started)
        return float(np.median(times))
    finally:
        store.close()


def http_round(tmp: Path, mode: str, bodies: list[dict], seconds: float) -> dict:
    """Start the API in ``mode``, load it at 1 and 16 clients, stop it."""
    port = free_port()
    env = served_env(
        tmp,
        f"{tmp}/{mode}-{port}.db",
        OBESITY_RISK__PATHS__LOGS_DIR=str(tmp / "logs"),
        OBESITY_RISK__SERVING__STORE__SYNCHRONOUS=mode,
    )
    server = subprocess.Popen(
        [str(BIN / "obesity-risk"), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/ready", server)
        url = f"http://127.0.0.1:{port}/predict"
        asyncio.run(load(url, bodies, 4, 2.0))  # warm-up
        return {
            str(clients): asyncio.run(load(url, bodies, clients, seconds)) for clients in (1, 16)
        }
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args()

    from serve_stages import exported_reference

    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    _, bodies = exported_reference(tmp)

    commit: dict[str, list[float]] = {m: [] for m in MODES}
    http: dict[str, list[dict]] = {m: [] for m in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            commit[mode].append(commit_cost(tmp, mode, args.writes))
            http[mode].append(http_round(tmp, mode, bodies, args.seconds))
    med = {
        mode: {
            clients: float(np.median([r[clients]["rps"] for r in http[mode]]))
            for clients in ("1", "16")
        }
        for mode in MODES
    }
    result = {
        "benchmark": "store-durability",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_store.py",
        "commit_ms": {m: [v * 1000 for v in commit[m]] for m in MODES},
        "http": http,
        "median_rps": med,
        "ratios": {
            f"full_vs_normal_rps_{c}_clients": med["full"][c] / med["normal"][c]
            for c in ("1", "16")
        },
        "errors": sum(r[c]["errors"] for m in MODES for r in http[m] for c in ("1", "16")),
    }
    result["passed"] = result["errors"] == 0
    out = ROOT / "reports" / "benchmarks" / "store-durability.json"
    out.write_text(json.dumps(result, indent=2))
    print(
        json.dumps(
            {k: result[k] for k in ("commit_ms", "median_rps", "ratios", "errors")}, indent=2
        )
    )
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
