"""What an ensemble champion and an explanation cost per record, in process, in one run.

    python benchmarks/bench_explain.py  # -> reports/benchmarks/explain.json

Models fitted on every S4E2 row: the serving benchmark's LightGBM (300 trees) alone, and a blend
of XGBoost and CatBoost (300 trees each) weighted like the default budget's ensemble. For each:
the median time of ``Predictor.predict_records`` and of ``Predictor.explain_records`` on one UCI
record at a time (what ``/predict`` and ``/predict?explain=true`` call), over the same records.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

RECORDS = 300
WEIGHTS = {"xgb": 0.79, "catboost": 0.21}  # the default budget's ensemble
PARAMS = {
    "lgbm": {"n_estimators": 300, "learning_rate": 0.05},
    "xgb": {"n_estimators": 300, "learning_rate": 0.05, "max_depth": 5},
    "catboost": {"iterations": 300, "learning_rate": 0.1, "depth": 6},
}


def per_record(fn, records: list[dict]) -> float:
    """Median milliseconds of ``fn([record])`` over the records (after 20 warm-up calls)."""
    for record in records[:20]:
        fn([record])
    times = []
    for record in records:
        started = time.perf_counter()
        fn([record])
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def main() -> int:
    from obesity_risk.config import load_settings
    from obesity_risk.data import load_dataset
    from obesity_risk.estimators.blend import BlendClassifier
    from obesity_risk.features import build_pipeline
    from obesity_risk.serving.predictor import Predictor
    from obesity_risk.training.families import effective_family, make_estimator

    settings = load_settings(logging={"file": False})
    data = load_dataset(settings.path(settings.data.train_file), settings.data)
    uci = load_dataset(settings.path(settings.data.external_file), settings.data, labelled=None)
    members = {}
    for name, params in PARAMS.items():
        estimator = make_estimator(settings, effective_family(settings, name), params)
        pipeline = build_pipeline(settings.data, settings.features, estimator)
        members[name] = pipeline.fit(data.X, data.y)
    blend = BlendClassifier(members, WEIGHTS, None)
    blend.classes_ = members["lgbm"].classes_
    single = Predictor.from_pipeline(members["lgbm"], settings.data, 1, source="bench")
    ensemble = Predictor.from_pipeline(blend, settings.data, 1, source="bench")
    records = single.validate_records(uci.X.head(RECORDS).to_dict(orient="records"))
    ms = {
        "single_predict": per_record(single.predict_records, records),
        "single_explain": per_record(lambda r: single.explain_records(r, 5), records),
        "ensemble_predict": per_record(ensemble.predict_records, records),
        "ensemble_explain": per_record(lambda r: ensemble.explain_records(r, 5), records),
    }
    result = {
        "benchmark": "explain",
        "command": "python benchmarks/bench_explain.py",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "records": RECORDS,
        "ms_per_record": ms,
        "ratios": {
            "ensemble_vs_single_predict": ms["ensemble_predict"] / ms["single_predict"],
            "explain_vs_predict_single": ms["single_explain"] / ms["single_predict"],
            "explain_vs_predict_ensemble": ms["ensemble_explain"] / ms["ensemble_predict"],
        },
    }
    out = Path(__file__).resolve().parents[1] / "reports/benchmarks/explain.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    sys.stdout.write(json.dumps(result["ms_per_record"] | result["ratios"]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
