"""A model exported before the training/serving/registry layout (tests/fixtures/export-v1: a
blend of LightGBM and a decision tree with class weights and a sigmoid calibrator, the classes
pickled by reference) still verifies, loads and predicts bit-identically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from obesity_risk.data import load_dataset
from obesity_risk.registry.client import load_champion, load_exported
from tests.helpers.paths import UCI_CSV
from tests.helpers.settings import quiet_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_an_export_made_before_the_layout_change_predicts_identically(tmp_path: Path) -> None:
    settings = quiet_settings(tmp_path)
    shutil.copytree(FIXTURES / "export-v1", settings.models_dir / "champion")
    expected = json.loads((FIXTURES / "export-v1.expected.json").read_text())
    loaded = load_exported(settings)
    assert loaded.version == "fixture-1"
    rows = load_dataset(UCI_CSV, settings.data, labelled=None).X.head(40)
    proba = loaded.pipeline.predict_proba(rows)
    assert [str(c) for c in loaded.pipeline.classes_] == expected["classes"]
    assert np.array_equal(proba, np.asarray(expected["probabilities"]))  # bit-identical
    assert [str(v) for v in loaded.pipeline.predict(rows)] == expected["labels"]
    assert isinstance(rows, pd.DataFrame)


def test_a_reader_without_a_registry_database_serves_the_export_and_creates_none(
    tmp_path: Path,
) -> None:
    """A home (or image) with an export and no registry: the champion comes from the export at
    once, and no empty registry database is created (MLflow would create one, or retry for
    minutes where the filesystem is read-only)."""
    settings = quiet_settings(tmp_path)
    shutil.copytree(FIXTURES / "export-v1", settings.models_dir / "champion")
    database = Path(settings.tracking_uri.removeprefix("sqlite:///"))
    assert settings.tracking_uri.startswith("sqlite:///") and not database.exists()
    assert load_champion(settings).version == "fixture-1"
    assert not database.exists() and not database.parent.exists()
