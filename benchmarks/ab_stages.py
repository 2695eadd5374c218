"""A/B of in-process serving stages between two trees (issue 21): run inside a tree with
``PYTHONPATH=TREE/src:TREE/benchmarks python benchmarks/ab_stages.py NAME`` (see
``ab_train.sh``); prints one JSON line: the stages of ``serve_stages.stage_timings`` and the
median per-record predict and explain times over 60 UCI records."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ["OBESITY_RISK__SERVING__MODEL_SOURCE"] = "local"
os.environ["OBESITY_RISK__LOGGING__FILE"] = "false"


def main() -> int:
    """Fit and export the reference model in this tree, then time its stages."""
    from serve_stages import exported_reference, per_call, stage_timings

    from obesity_risk.config import load_settings

    try:
        from obesity_risk.registry.client import load_champion
        from obesity_risk.serving.predictor import Predictor
    except ImportError:  # the tree before the layout change
        from obesity_risk.inference import Predictor  # type: ignore[no-redef]
        from obesity_risk.models.registry import load_champion  # type: ignore[no-redef]

    tmp = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    _, records = exported_reference(tmp, 200)
    fit = time.perf_counter() - started
    settings = load_settings(
        paths={"models_dir": str(tmp / "models")},
        logging={"file": False},
        serving={"model_source": "local"},
    )
    predictor = Predictor(load_champion(settings), settings.data, 1)
    stages = stage_timings(predictor, records[0], tmp)
    rows = records[:60]
    explain = [per_call(lambda r=r: predictor.explain_records([r], 5), 5, 2) for r in rows]
    predict = [per_call(lambda r=r: predictor.predict_records([r]), 20, 5) for r in rows]
    result = {
        "tree": sys.argv[1] if len(sys.argv) > 1 else "?",
        "fit_s": round(fit, 1),
        "explain_ms": float(np.median(explain)) * 1e3,
        "predict_ms": float(np.median(predict)) * 1e3,
        "stages_ms": stages,
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
