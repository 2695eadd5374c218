"""Distributed tuning benchmark: one Optuna study on a real PostgreSQL, 1 vs 2 worker processes.

    python benchmarks/bench_tuning.py          # -> reports/benchmarks/tuning.json

Same total budget (``--trials`` LightGBM trials, 3-fold CV on 3,000 S4E2 rows, one model
thread per trial, pruning off so every trial does the same work). Reported: wall time of the
slowest worker's ``study.optimize`` with 1 and with 2 workers (processes started together), and
the per-trial storage overhead of PostgreSQL vs Optuna's in-memory storage (1 worker each).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORKER = textwrap.dedent(
    """
    import json, sys, time
    from obesity_risk.config import load_settings
    from obesity_risk.config.schema import ParamSpace
    from obesity_risk.data import load_dataset, sample_stratified
    from obesity_risk.training.families import effective_family
    from obesity_risk.training.splits import TrainingData
    from obesity_risk.training.tune import run_study

    storage, n_trials = (None if sys.argv[1] == "memory" else sys.argv[1]), int(sys.argv[2])
    settings = load_settings(logging={"file": False, "level": "WARNING"}, models={
        "n_jobs": 1, "pruner": {"n_startup_trials": 100000, "n_warmup_steps": 0}})
    budget = settings.models.budgets["smoke"].model_copy(update={
        "n_trials": {"lgbm": n_trials}, "warm_start": False,
        "space_overrides": {"lgbm": {"n_estimators": ParamSpace(type="int", low=60, high=60)}}})
    data = load_dataset(settings.path(settings.data.train_file), settings.data)
    X, y = sample_stratified(data.X, data.y, 3000, 0)
    family = effective_family(settings, "lgbm", budget)
    started = time.perf_counter()
    result = run_study(settings, "lgbm", family, budget, TrainingData.for_cv(X, y, 3, 0),
                       storage=storage, show_progress_bar=False)
    print(json.dumps({"optimize_s": time.perf_counter() - started, "trials": n_trials}))
    """
)


def run_workers(script: Path, storage: str, budgets: list[int]) -> dict:
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), storage, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in budgets
    ]
    outputs = [p.communicate(timeout=1800) for p in processes]
    wall = time.perf_counter() - started
    for process, (_, err) in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise RuntimeError(err[-2000:])
    optimize = [json.loads(out.strip().splitlines()[-1])["optimize_s"] for out, _ in outputs]
    return {
        "workers": len(budgets),
        "trials": sum(budgets),
        "process_wall_s": wall,
        "optimize_wall_s": max(optimize),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "reports/benchmarks/tuning.json")
    args = parser.parse_args()
    from tests.integration.pg import PostgresServer

    server = PostgresServer().start()
    try:
        script = server.dir / "worker.py"
        script.write_text(WORKER)
        os.chmod(server.dir, 0o777)
        memory = run_workers(script, "memory", [args.trials])
        one = run_workers(script, server.create_database("bench_one"), [args.trials])
        two = run_workers(script, server.create_database("bench_two"), [args.trials // 2] * 2)
    finally:
        server.stop()
    result = {
        "benchmark": "tuning",
        "command": f"python benchmarks/bench_tuning.py --trials {args.trials}",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": sys.version.split()[0], "cpus": os.cpu_count()},
        "in_memory_1_worker": memory,
        "postgres_1_worker": one,
        "postgres_2_workers": two,
        "ratios": {
            # judged on whole-process wall time (start-up and imports included: what users wait)
            "two_vs_one_worker_wall": two["process_wall_s"] / one["process_wall_s"],
            "two_vs_one_worker_optimize_wall": two["optimize_wall_s"] / one["optimize_wall_s"],
            "postgres_vs_memory_per_trial": one["optimize_wall_s"] / memory["optimize_wall_s"],
        },
        "per_trial_storage_overhead_ms": 1000
        * (one["optimize_wall_s"] - memory["optimize_wall_s"])
        / args.trials,
        "targets": {"two_vs_one_worker_wall": "<= 0.6"},
    }
    result["passed"] = {"two_vs_one_worker_wall": result["ratios"]["two_vs_one_worker_wall"] <= 0.6}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    sys.stdout.write(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
