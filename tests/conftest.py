"""Shared fixtures: settings isolated in a temp dir, hand-made frames, the real data."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from obesity_risk.config import Settings
from tests.helpers.datasets import tiny_frame
from tests.helpers.models import build_small_pipeline
from tests.helpers.paths import TRAIN_CSV
from tests.helpers.settings import quiet_settings


def _drop_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("OBESITY_RISK", "MLFLOW_")):
            monkeypatch.delenv(key)


@pytest.fixture(scope="module", autouse=True)
def _clean_env_module():
    """Module fixtures (a training run, say) never see the developer's overrides, nor the
    MLFLOW_TRACKING_URI that ``mlflow.set_tracking_uri`` exports in an earlier module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _drop_overrides(monkeypatch)
        yield


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's overrides."""
    _drop_overrides(monkeypatch)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings writing only under ``tmp_path``."""
    return quiet_settings(tmp_path)


@pytest.fixture(scope="session")
def train_frame() -> pd.DataFrame:
    """The S4E2 training file as read from disk."""
    return pd.read_csv(TRAIN_CSV)


@pytest.fixture
def tiny_records() -> pd.DataFrame:
    """Four hand-made valid rows (no target)."""
    return tiny_frame()


@pytest.fixture(scope="session")
def small_pipeline():
    """A real LightGBM pipeline (100 trees, 4,000 S4E2 rows), trained once per session."""
    return build_small_pipeline()
