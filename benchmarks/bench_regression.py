"""Regression training benchmark: the default budget on a 20,000-row regression dataset.

    python benchmarks/bench_regression.py   # -> reports/benchmarks/training-regression-default.json

The dataset is ``tests/helpers/datasets.make_homes`` (a home's price from its area, rooms,
district and ordered condition, plus Gaussian noise of spread 20, so an RMSE near 20 is the
floor). Its config is the one ``obesity-risk init`` writes; training goes to a throw-away MLflow
store. Reported: wall time (goal: at most 600 s on this 2-core machine), the champion's test
RMSE, MAE, R², the interval's coverage on the untouched test split and its width, and each
family's study.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from obesity_risk.config import load_settings  # noqa: E402
from obesity_risk.logs import configure_logging  # noqa: E402
from obesity_risk.scaffold import scaffold  # noqa: E402
from obesity_risk.training.trainer import Trainer  # noqa: E402
from tests.helpers.datasets import make_homes  # noqa: E402

MAX_WALL_S = 600.0
NOISE = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--budget", default="default")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "reports/benchmarks/training-regression-default.json"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-regression-") as tmp:
        data = Path(tmp) / "homes.csv"
        make_homes(args.rows, 0, noise=NOISE).to_csv(data, index=False)
        made = scaffold(data, "price", ordered={"condition": ["poor", "fair", "good"]})
        config = Path(tmp) / "homes.yaml"
        config.write_text(made.render(str(config)))
        paths = {k: f"{tmp}/{k}" for k in ("mlruns_dir", "models_dir", "reports_dir", "logs_dir")}
        settings = load_settings(config, paths=paths, logging={"file": False})
        configure_logging(settings)
        started = time.perf_counter()
        summary = Trainer(settings, args.budget, show_progress_bar=False).run()
        wall = time.perf_counter() - started
    card = summary.champion.card
    metrics = {k: v for k, v in card.metrics.model_dump().items() if v is not None}
    result = {
        "benchmark": "training-regression",
        "budget": args.budget,
        "command": "python benchmarks/bench_regression.py",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "dataset": {
            "generator": "tests/helpers/datasets.make_homes",
            "rows": args.rows,
            "noise_sd": NOISE,
        },
        "wall_s": wall,
        "rows": summary.rows,
        "champion": {"family": card.family, "members": card.members, **metrics},
        "interval": None if card.interval is None else card.interval.model_dump(),
        "studies": {
            n: {
                "best_cv_rmse": s.best_value,
                "val_rmse": s.val_score,
                "test_rmse": s.test_score,
                "n_trials": s.n_trials,
                "n_pruned": s.n_pruned,
                "wall_s": s.wall_s,
            }
            for n, s in summary.studies.items()
        },
        "steps": summary.steps,
        "goal": {"max_wall_s": MAX_WALL_S, "met": wall <= MAX_WALL_S},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("wall_s", "champion", "interval", "goal")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
