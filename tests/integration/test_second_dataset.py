"""The schema and features are configuration: another CSV, another target, no code change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers.cli import cli, tmp_env
from tests.helpers.datasets import make_loans

pytestmark = pytest.mark.slow

OVERRIDE = """
data:
  train_file: {train}
  external_file: null
  id_column: loan_id
  target: defaulted
  classes: ["no", "yes"]
  validation_size: 0.2
  columns:
    income: {{type: numeric, min: 0}}
    debt: {{type: numeric, min: 0}}
    region: {{type: categorical, categories: [north, south, east]}}
    grade: {{type: categorical, categories: [A, B, C], ordered: true}}
features:
  engineered:
    - {{name: debt_to_income, op: ratio, inputs: {{num: debt, den: income}}}}
  selected: null
evaluation:
  slices:
    - {{column: region}}
    - {{column: debt_to_income, bins: [0, 0.3, 0.6, 100]}}
  gate: {{min_accuracy: 0.8, max_slice_drop: 0.05}}
models:
  budgets:
    tiny:
      families: [dt, lgbm]
      n_trials: {{dt: 3, lgbm: 2}}
      cv_folds: 3
      warm_start: false
      space_overrides:
        lgbm: {{n_estimators: {{type: int, low: 10, high: 30}}}}
"""


def test_binary_dataset_runs_the_whole_pipeline(tmp_path: Path) -> None:
    train = tmp_path / "loans.csv"
    make_loans(800, 0).to_csv(train, index=False)
    config = tmp_path / "loans.yaml"
    config.write_text(OVERRIDE.format(train=train))
    env = tmp_env(tmp_path)

    result = cli("train", "--budget", "tiny", "--config", str(config), "--no-progress", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "reports/training/summary.json").read_text())
    card = summary["champion"]["card"]
    assert card["classes"] == ["no", "yes"]
    assert card["metrics"]["cv_accuracy"] > 0.85  # the rule is learnable
    assert card["metrics"]["external_accuracy"] is None
    assert "debt_to_income" in card["features"]["numeric"]
    assert set(summary["studies"]) == {"dt", "lgbm"}
    assert summary["rows"]["test"] == 80 and card["metrics"]["test_accuracy"] > 0.8
    assert {s["column"] for s in card["slices"]} == {"region", "debt_to_income"}
    assert summary["ensemble"] is not None  # two families: a blend was fitted and compared

    batch = make_loans(50, 1).drop(columns="defaulted")
    batch_csv = tmp_path / "batch.csv"
    batch.assign(region=["west", *batch["region"][1:]]).to_csv(batch_csv, index=False)
    out = tmp_path / "scored.csv"
    # a category outside the schema: refused like the API refuses it, row and column named
    result = cli("predict", "-i", str(batch_csv), "-o", str(out), "--config", str(config), env=env)
    assert result.returncode == 2 and not out.exists()
    assert "column 'region': 1 of 50 rows fail isin" in result.stderr
    assert "data row(s) 1" in result.stderr
    batch.to_csv(batch_csv, index=False)
    result = cli("predict", "-i", str(batch_csv), "-o", str(out), "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    scored = pd.read_csv(out)
    assert len(scored) == 50
    assert scored["loan_id"].tolist() == batch["loan_id"].tolist()
    assert set(scored["prediction"]) <= {"no", "yes"}
    np.testing.assert_allclose(scored[["proba_no", "proba_yes"]].sum(axis=1), 1.0)
    explained = tmp_path / "explained.csv"
    result = cli(
        "predict",
        "-i",
        str(batch_csv),
        "-o",
        str(explained),
        "--explain",
        "--config",
        str(config),
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    why = pd.read_csv(explained)
    assert why["prediction"].tolist() == scored["prediction"].tolist()
    first = json.loads(why["explanation"][0])
    assert "(other)" in first and set(first) - {"(other)"} <= {
        "income",
        "debt",
        "region",
        "grade",
        "debt_to_income",
    }


def test_a_family_whose_trials_all_fail_is_skipped_not_fatal(tmp_path: Path) -> None:
    train = tmp_path / "loans.csv"
    make_loans(600, 2).to_csv(train, index=False)
    config = tmp_path / "loans.yaml"
    config.write_text(
        OVERRIDE.format(train=train)
        + "  families:\n    dt:\n      fixed: {splitter: not-a-splitter}\n"
    )
    result = cli(
        "train", "--budget", "tiny", "--config", str(config), "--no-progress", env=tmp_env(tmp_path)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "reports/training/summary.json").read_text())
    assert set(summary["skipped_families"]) == {"dt"}
    assert "no trial completed" in summary["skipped_families"]["dt"]
    assert summary["champion"]["card"]["family"] == "lgbm"
