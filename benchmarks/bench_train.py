"""Training benchmark: one budget end to end, what each step added, and a plain-LightGBM peer.

    python benchmarks/bench_train.py --budget default  # -> reports/benchmarks/training-default.json
    python benchmarks/bench_train.py --budget default --ablation  # + a run without augmentation

Every run goes to a throw-away MLflow store (the project's store is left alone). Figures:

- ``oof``: out-of-fold accuracy on the training folds (what the studies select on; the blend's
  class weights are tuned on it too, so its last step is optimistic);
- ``test``: the untouched test split (nothing was selected on it): the honest figure;
- the peer: the data README's reference model (LightGBM, 300 trees, lr 0.05, raw columns +
  BMI) on the same fit rows and folds, without augmentation, and on the same test split.

With ``--ablation`` the budget runs a second time with ``data.external_usage: none``, so the
table shows what adding the original UCI rows to the training folds did.
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
from typing import Any

from obesity_risk.config import load_settings
from obesity_risk.features import build_pipeline
from obesity_risk.logs import configure_logging
from obesity_risk.training.cv import cross_validate
from obesity_risk.training.families import make_estimator
from obesity_risk.training.splits import TrainingData, load_training_data
from obesity_risk.training.trainer import Trainer

TARGETS = {  # issue #12: champion OOF accuracy and wall-time limits per budget
    "smoke": {"max_wall_s": 90.0},
    "default": {"min_cv_accuracy": 0.910, "max_wall_s": 600.0},
    "full": {"min_cv_accuracy": 0.9115},
}


def peer(settings: Any, budget: Any) -> dict[str, float]:
    """Plain LightGBM on raw columns + BMI: same fit rows and folds, no augmentation."""
    data = load_training_data(settings.model_copy(deep=True), budget)
    features = settings.features.model_copy(
        update={
            "engineered": [f for f in settings.features.engineered if f.name == "BMI"],
            "selected": None,
        }
    )
    family = settings.models.families["lgbm"]
    estimator = make_estimator(settings, family, {"n_estimators": 300, "learning_rate": 0.05})
    pipeline = build_pipeline(settings.data, features, estimator)
    started = time.perf_counter()
    plain = TrainingData.for_cv(data.fit.X, data.fit.y, budget.cv_folds, settings.seed)
    oof = cross_validate(pipeline, plain).mean("accuracy")
    fitted = pipeline.fit(data.fit.X, data.fit.y)
    test = float((fitted.predict(data.test.X) == data.test.y.to_numpy()).mean())
    return {"oof": oof, "test": test, "wall_s": time.perf_counter() - started}


def run_budget(budget: str, usage: str | None = None) -> dict[str, Any]:
    """One training run in a temporary store; its summary as plain data plus the wall time."""
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        paths = {k: f"{tmp}/{k}" for k in ("mlruns_dir", "models_dir", "reports_dir", "logs_dir")}
        overrides: dict[str, Any] = {"paths": paths, "logging": {"file": False}}
        if usage is not None:
            overrides["data"] = {"external_usage": usage}
        settings = load_settings(**overrides)
        configure_logging(settings)
        started = time.perf_counter()
        summary = Trainer(settings, budget, show_progress_bar=False).run()
        wall = time.perf_counter() - started
    return {"summary": summary.model_dump(mode="json"), "wall_s": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="default")
    parser.add_argument("--ablation", action="store_true", help="also run without augmentation")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    main_run = run_budget(args.budget)
    summary, wall = main_run["summary"], main_run["wall_s"]
    card = summary["champion"]["card"]
    steps: dict[str, Any] = {}
    if args.ablation:
        plain = run_budget(args.budget, "none")["summary"]
        best = next(iter(plain["steps"].items()))
        steps[f"without augmentation: {best[0]}"] = best[1]
    steps.update(summary["steps"])
    settings = load_settings(logging={"file": False})
    reference = peer(settings, settings.models.budgets[args.budget])
    target = TARGETS.get(args.budget, {})
    checks = {}
    if "min_cv_accuracy" in target:
        checks["cv_accuracy"] = card["metrics"]["cv_accuracy"] >= target["min_cv_accuracy"]
    if "max_wall_s" in target:
        checks["wall_s"] = wall <= target["max_wall_s"]
    result = {
        "benchmark": "training",
        "budget": args.budget,
        "command": f"python benchmarks/bench_train.py --budget {args.budget}"
        + (" --ablation" if args.ablation else ""),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "wall_s": wall,
        "rows": summary["rows"],
        "champion": {
            "family": card["family"],
            "members": card["members"],
            **{k: v for k, v in card["metrics"].items() if v is not None},
        },
        "steps": steps,
        "calibration": (summary.get("ensemble") or {}).get("calibration"),  # cross-fitted OOF
        "studies": {
            name: {
                k: s[k]
                for k in ("best_value", "val_accuracy", "test_accuracy", "n_trials", "wall_s")
            }
            for name, s in summary["studies"].items()
        },
        "peer_plain_lgbm": reference,
        "targets": target,
        "passed": checks,
    }
    out = (
        args.out
        or Path(__file__).resolve().parents[1] / f"reports/benchmarks/training-{args.budget}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    sys.stdout.write(json.dumps({"out": str(out), "steps": steps, "passed": checks}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
