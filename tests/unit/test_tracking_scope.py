"""tracking_scope leaves MLflow's process-global state as it found it (tracking and registry
URIs kept apart, environment variables included)."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow

from obesity_risk.registry.publish import tracking_scope
from tests.helpers.settings import quiet_settings


def _settings(tmp_path: Path):
    return quiet_settings(tracking={"uri": f"sqlite:///{tmp_path}/m.db"})


def test_an_unset_state_is_unset_again(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    with tracking_scope(_settings(tmp_path)) as uri:
        assert mlflow.get_tracking_uri() == uri == mlflow.get_registry_uri()
    assert not mlflow.is_tracking_uri_set()
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ


def test_separate_tracking_and_registry_uris_come_back_as_they_were(
    tmp_path: Path, monkeypatch
) -> None:
    tracking, registry = f"sqlite:///{tmp_path}/t.db", f"sqlite:///{tmp_path}/r.db"
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)
    try:
        with tracking_scope(_settings(tmp_path)):
            pass
        assert mlflow.get_tracking_uri() == tracking
        assert mlflow.get_registry_uri() == registry  # not the old tracking URI
        assert os.environ["MLFLOW_TRACKING_URI"] == tracking
        assert os.environ["MLFLOW_REGISTRY_URI"] == registry
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)


def test_tuning_leaves_optuna_logging_to_the_entry_point() -> None:
    """Library code sets no logging level; configure_logging (entry points) quiets Optuna."""
    import logging
    import re

    from obesity_risk.logs import configure_logging

    source = (Path(__file__).resolve().parents[2] / "src/obesity_risk/training/tune.py").read_text()
    assert not re.search(r"set_verbosity|setLevel", source)
    optuna_logger = logging.getLogger("optuna")
    before = optuna_logger.level
    try:
        configure_logging(quiet_settings())
        assert optuna_logger.level == logging.WARNING
    finally:
        optuna_logger.setLevel(before)
