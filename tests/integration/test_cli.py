"""The console script as a user meets it: clear one-line errors, exit codes, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from tests.conftest import TRAIN_CSV, isolated_paths


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OBESITY_RISK", "MLFLOW_"))}
    base["OBESITY_RISK__LOGGING__FILE"] = "false"
    return subprocess.run(
        [sys.executable, "-m", "obesity_risk.cli", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tmp_env(tmp_path: Path) -> dict[str, str]:
    return {f"OBESITY_RISK__PATHS__{k.upper()}": v for k, v in isolated_paths(tmp_path).items()}


def test_help_lists_the_stages() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("train", "predict", "config"):
        assert command in result.stdout


def test_config_error_is_one_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  n_jobs: many\n")
    result = cli("config", "--config", str(bad))
    assert result.returncode == 2
    assert f"{bad}: models.n_jobs" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_prints_the_merged_settings(tmp_path: Path) -> None:
    result = cli("config", env={"OBESITY_RISK__SEED": "7"})
    assert result.returncode == 0
    assert "seed: 7" in result.stdout


def test_unknown_budget_and_family(tmp_path: Path) -> None:
    result = cli("train", "--budget", "huge", env=tmp_env(tmp_path))
    assert result.returncode == 2 and "unknown budget 'huge'" in result.stderr
    result = cli("train", "--budget", "smoke", "--models", "svm", env=tmp_env(tmp_path))
    assert result.returncode == 2 and "unknown model family 'svm'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_tracking_server_fails_fast_and_clearly(tmp_path: Path) -> None:
    started = time.monotonic()
    result = cli(
        "train",
        "--budget",
        "smoke",
        "--models",
        "dt",
        env={**tmp_env(tmp_path), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
    )
    assert result.returncode == 2
    assert "tracking store http://127.0.0.1:9 is unusable" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 60


def test_predict_without_any_model(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = cli("predict", "-i", str(TRAIN_CSV), "-o", str(out), env=tmp_env(tmp_path))
    assert result.returncode == 2
    assert "no exported champion" in result.stderr
    assert not out.exists()


def test_predict_rejects_bad_input_before_loading_anything(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    pd.read_csv(TRAIN_CSV, nrows=20).drop(columns=["Age"]).to_csv(bad, index=False)
    out = tmp_path / "out.csv"
    result = cli("predict", "-i", str(bad), "-o", str(out), env=tmp_env(tmp_path))
    assert result.returncode == 2
    assert f"{bad}: does not match the data schema" in result.stderr
    assert "missing column(s): Age" in result.stderr
    assert not out.exists()
