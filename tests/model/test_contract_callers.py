"""Callers outside the API score through the one inference contract: a bare pipeline becomes a
Predictor with ``Predictor.from_pipeline``; promotion scores the incumbent through it; file and
Dask scoring validate rows through it; the pre-layout export scores identically through it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from obesity_risk.config import load_settings
from obesity_risk.data import load_dataset
from obesity_risk.registry.client import LoadedModel, load_exported
from obesity_risk.serving.predictor import Predictor
from obesity_risk.training.evaluation import SplitMetrics
from obesity_risk.training.promotion import decide
from obesity_risk.training.splits import Labelled
from tests.helpers.settings import quiet_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def uci():
    settings = quiet_settings()
    return load_dataset(ROOT / "data/raw/obesity_uci_original.csv", settings.data)


def test_from_pipeline_scores_like_the_pipeline(small_pipeline, uci) -> None:
    settings = quiet_settings()
    predictor = Predictor.from_pipeline(small_pipeline, settings.data, 1, source="test")
    assert predictor.version is None and predictor.model.source == "test"
    assert predictor.compiled is not None  # the fast path, not the sklearn fallback
    rows = uci.X.head(200)
    out = predictor.predict_frame(rows)
    assert np.allclose(out.probabilities, small_pipeline.predict_proba(rows), rtol=0, atol=1e-12)
    assert out.labels == [str(v) for v in small_pipeline.predict(rows)]


def test_validate_rows_splits_good_and_bad_rows_with_reasons(small_pipeline, uci) -> None:
    settings = quiet_settings()
    predictor = Predictor.from_pipeline(small_pipeline, settings.data)
    frame = uci.X.head(5).copy()
    frame.loc[2, "MTRANS"] = "Teleport"
    valid, problems = predictor.validate_rows(frame)
    assert list(valid.index) == [0, 1, 3, 4] and list(problems) == [2]
    assert "MTRANS" in problems[2] and "Teleport" in problems[2]
    empty = predictor.predict_frame(valid.iloc[:0]).frame()
    assert list(empty.columns) == ["prediction", *[f"proba_{c}" for c in predictor.classes]]
    assert len(empty) == 0


def test_promotion_scores_the_incumbent_through_the_predictor(small_pipeline, uci) -> None:
    settings = quiet_settings()
    validation = Labelled(X=uci.X.head(400), y=uci.y.head(400))
    incumbent = Predictor.from_pipeline(small_pipeline, settings.data).model
    expected = float(np.mean(small_pipeline.predict(validation.X) == validation.y.to_numpy()))
    challenger = SplitMetrics(rows=400, accuracy=0.999, f1_macro=0.99, log_loss=0.1, ece=0.0)
    better = decide(settings, challenger, [], validation, "9", incumbent)
    assert better.incumbent_val_accuracy == pytest.approx(expected, abs=0)
    assert better.promote == (expected < 0.999) and better.incumbent_val_score == expected
    # on a metric where lower is better, the comparison turns round
    log_loss = quiet_settings(models={"metric": "log_loss"})
    worse = challenger.model_copy(update={"log_loss": 50.0})
    assert not decide(log_loss, worse, [], validation, "9", incumbent).promote
    assert decide(log_loss, worse.model_copy(update={"log_loss": 1e-9}), [], validation, "9",
                  incumbent).promote  # fmt: skip
    first = decide(settings, challenger, [], validation, "1", None)
    assert first.promote and first.reason == "no comparable champion"
    assert isinstance(incumbent, LoadedModel)


def test_the_pre_layout_export_scores_identically_through_the_predictor(tmp_path: Path) -> None:
    settings = load_settings(
        logging={"file": False}, paths={"models_dir": str(tmp_path / "models")}
    )
    shutil.copytree(FIXTURES / "export-v1", settings.models_dir / "champion")
    expected = json.loads((FIXTURES / "export-v1.expected.json").read_text())
    predictor = Predictor.configured(load_exported(settings), settings)
    rows = load_dataset(ROOT / "data/raw/obesity_uci_original.csv", settings.data).X.head(40)
    out = predictor.predict_frame(rows)
    assert out.labels == expected["labels"]
    assert np.allclose(out.probabilities, expected["probabilities"], rtol=0, atol=1e-12)
    assert isinstance(rows, pd.DataFrame)
