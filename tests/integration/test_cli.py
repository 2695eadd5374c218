"""The console script as a user meets it: clear one-line errors, exit codes, no tracebacks."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from tests.helpers.cli import cli, tmp_env
from tests.helpers.paths import TRAIN_CSV


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


def test_unknown_command_is_a_usage_error() -> None:
    result = cli("frobnicate")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Usage: ") and "No such command 'frobnicate'" in result.stderr
    assert "unexpected error" not in result.stderr


def test_config_file_that_is_a_directory(tmp_path: Path) -> None:
    result = cli("config", "--config", str(tmp_path))
    assert result.returncode == 2
    assert f"config file is a directory: {tmp_path}" in result.stderr
    assert "unexpected error" not in result.stderr


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Malformed inputs to `predict -i`, each with the message it must give."""
    rows = pd.read_csv(TRAIN_CSV, nrows=5)
    gender = str(rows.loc[0, "Gender"])
    nul = tmp_path / "nul.csv"
    rows.assign(Gender=[f"{gender}\0x", *rows["Gender"][1:]]).to_csv(nul, index=False)
    typed = tmp_path / "typed.csv"
    rows.astype({"Age": object}).assign(Age=["old", *rows["Age"][1:]]).to_csv(typed, index=False)
    twice = tmp_path / "twice.csv"
    rows.assign(Extra=rows["Age"]).rename(columns={"Extra": "Age"}).to_csv(twice, index=False)
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    return {
        "nul": (nul, f"(e.g. {gender + chr(0) + 'x'!r}); data row(s) 1"),  # whole, not cut at NUL
        "type": (typed, "rows fail coerce_dtype('float64') (e.g. 'old')"),
        "twice": (twice, f"{twice}: column(s) named more than once in the header: Age"),
        "folder": (folder, f"{folder}: is a directory, not a CSV file"),
    }


def test_predict_input_errors_are_one_clear_message(tmp_path: Path) -> None:
    for name, (path, message) in _bad_inputs(tmp_path).items():
        out = tmp_path / f"{name}-out.csv"
        result = cli("predict", "-i", str(path), "-o", str(out), env=tmp_env(tmp_path))
        assert result.returncode == 2, (name, result.stderr)
        assert message in result.stderr, (name, result.stderr)
        assert "TypeError" not in result.stderr and "Traceback" not in result.stderr, name
        assert "file not found" not in result.stderr and not out.exists(), name
