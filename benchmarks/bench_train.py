"""Training benchmark: one budget end to end vs a plain-LightGBM peer, in the same run.

    python benchmarks/bench_train.py --budget default  # -> reports/benchmarks/training-default.json

The budget runs in a throw-away MLflow store (the project's store is left alone). The peer is
the data README's reference model (LightGBM, 300 trees, lr 0.05, raw columns + BMI) scored by
5-fold CV on the same rows and folds, so the accuracy ratio is machine-independent and the
time ratio tells how much the search costs over one plain model.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from obesity_risk.config import load_settings
from obesity_risk.data import load_dataset, sample_stratified, split
from obesity_risk.features import build_pipeline
from obesity_risk.logs import configure_logging
from obesity_risk.models.families import make_estimator
from obesity_risk.models.train import Trainer, make_folds
from obesity_risk.models.tune import cross_validate

TARGETS = {  # issue #2: champion CV accuracy and wall-time limits per budget
    "smoke": {"max_wall_s": 90.0},
    "default": {"min_cv_accuracy": 0.905, "max_wall_s": 600.0},
    "full": {"min_cv_accuracy": 0.909},
}


def peer_cv(settings, budget) -> dict[str, float]:
    """Plain LightGBM on raw columns + BMI, same rows and folds as the budget's studies."""
    data = load_dataset(settings.path(settings.data.train_file), settings.data)
    X_train, _, y_train, _ = split(data, settings.data.validation_size, settings.seed)
    X, y = sample_stratified(X_train, y_train, budget.sample_rows, settings.seed)
    folds = make_folds(y, budget.cv_folds, settings.seed)
    features = settings.features.model_copy(
        update={
            "engineered": [f for f in settings.features.engineered if f.name == "BMI"],
            "selected": None,
        }
    )
    family = settings.models.families["lgbm"]
    estimator = make_estimator(settings, family, {"n_estimators": 300, "learning_rate": 0.05})
    started = time.perf_counter()
    scores = cross_validate(build_pipeline(settings.data, features, estimator), X, y, folds)
    return {
        "cv_accuracy": float(np.mean(scores["accuracy"])),
        "wall_s": time.perf_counter() - started,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="default")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        paths = {k: f"{tmp}/{k}" for k in ("mlruns_dir", "models_dir", "reports_dir", "logs_dir")}
        settings = load_settings(paths=paths, logging={"file": False})
        configure_logging(settings)
        budget = settings.models.budgets[args.budget]
        started = time.perf_counter()
        summary = Trainer(settings, args.budget, show_progress_bar=False).run()
        wall = time.perf_counter() - started
        peer = peer_cv(settings, budget)

    champion = summary["champion"]
    target = TARGETS.get(args.budget, {})
    checks = {}
    if "min_cv_accuracy" in target:
        checks["cv_accuracy"] = champion["cv_accuracy"] >= target["min_cv_accuracy"]
    if "max_wall_s" in target:
        checks["wall_s"] = wall <= target["max_wall_s"]
    result = {
        "benchmark": "training",
        "budget": args.budget,
        "command": f"python benchmarks/bench_train.py --budget {args.budget}",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "wall_s": wall,
        "champion": {
            k: champion[k]
            for k in (
                "family",
                "cv_accuracy",
                "cv_f1_macro",
                "val_accuracy",
                "external_accuracy",
                "params",
            )
        },
        "studies": {
            name: {
                k: s[k] for k in ("best_value", "val_accuracy", "n_trials", "n_pruned", "wall_s")
            }
            for name, s in summary["studies"].items()
        },
        "peer_plain_lgbm": peer,
        "ratios": {
            "cv_accuracy_vs_peer": champion["cv_accuracy"] / peer["cv_accuracy"],
            "wall_vs_peer": wall / peer["wall_s"],
        },
        "targets": target,
        "passed": checks,
    }
    out = (
        args.out
        or Path(__file__).resolve().parents[1] / f"reports/benchmarks/training-{args.budget}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    sys.stdout.write(json.dumps({"out": str(out), **result["ratios"], "passed": checks}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
