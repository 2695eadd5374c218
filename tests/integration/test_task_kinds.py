"""Another dataset with a config that names only ``data``: a three-class and an imbalanced
binary target each go through train -> predict -> the API (single, batch, explain, feedback)
-> report -> model card, on real processes, inheriting nothing of the obesity dataset."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from tests.helpers.api import AUTH, TOKEN
from tests.helpers.cli import cli, tmp_env
from tests.helpers.datasets import make_homes, make_sensors, make_stays
from tests.helpers.servers import serve

pytestmark = pytest.mark.slow

DATASETS = {  # the generator, the target, extra `init` options, the classes it must find
    "multiclass": (make_sensors, "state", [], ["busy", "fault", "idle"]),
    "binary": (make_stays, "long_stay", ["--ordered", "severity=low,medium,high"], ["no", "yes"]),
}


def _project(tmp_path: Path, task: str) -> tuple[Path, dict, pd.DataFrame]:
    """The dataset's CSV, the config `obesity-risk init` wrote for it, and fresh rows."""
    make, target, options, classes = DATASETS[task]
    train = tmp_path / f"{task}-data.csv"
    make(900, 0).to_csv(train, index=False)
    config = tmp_path / f"{task}.yaml"
    result = cli("init", str(train), "--target", target, *options, "-o", str(config))
    assert result.returncode == 0, result.stderr
    assert f"wrote {config} (validated)" in result.stderr
    schema = yaml.safe_load(config.read_text())["data"]
    assert schema["task"] == task and schema["classes"] == classes
    return config, schema, make(300, 1)


def _trained(tmp_path: Path, task: str, schema: dict, env: dict) -> float | None:
    """Train the smoke budget; check the card; the binary decision threshold."""
    result = cli("train", "--budget", "smoke", "--no-progress", env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "reports/training/summary.json").read_text())
    card = summary["champion"]["card"]
    assert card["classes"] == schema["classes"] and card["name"] == f"{task}-data"
    assert card["metrics"]["test_accuracy"] > 0.8  # the rule is learnable
    categorical = [c for c, spec in schema["columns"].items() if spec["type"] == "categorical"]
    assert {s["column"] for s in card["slices"]} == set(categorical)  # derived from the schema
    assert summary["champion"]["promoted"], summary["champion"]["reason"]  # no obesity floor
    from mlflow import MlflowClient

    tracking = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    inputs = tracking.get_run(summary["champion"]["session_run_id"]).inputs.dataset_inputs
    # what fills the Dataset column of MLflow's runs table
    contexts = {{t.key: t.value for t in i.tags}["mlflow.data.context"]: i.dataset for i in inputs}
    assert set(contexts) == {"training", "validation", "test"}
    assert contexts["test"].name == f"{task}-data-test" and contexts["test"].digest
    threshold = card["threshold"]  # binary: chosen on validation; multiclass: none
    assert (threshold is None) == (task == "multiclass")
    if threshold is not None:
        assert 0.05 <= threshold <= 0.95 and card["metrics"]["test_roc_auc"] > 0.8
        assert card["metrics"]["test_pr_auc"] > 0.5 and 0 < card["metrics"]["test_brier"] < 0.2
        curve = card["calibration_curve"]  # the positive class, test split, by bin
        assert sum(b["rows"] for b in curve) == summary["rows"]["test"]
        assert all(0 <= b["mean_predicted"] <= 1 and 0 <= b["observed"] <= 1 for b in curve)
    else:
        assert card["calibration_curve"] == []
    return threshold


@pytest.mark.parametrize("task", list(DATASETS))
def test_a_data_only_config_runs_every_stage(tmp_path: Path, task: str) -> None:
    config, schema, fresh = _project(tmp_path, task)
    env = tmp_env(tmp_path) | {"OBESITY_RISK_CONFIG": str(config)}
    threshold = _trained(tmp_path, task, schema, env)

    features = fresh.drop(columns=schema["target"])
    batch_csv, out = tmp_path / "batch.csv", tmp_path / "scored.csv"
    features.to_csv(batch_csv, index=False)
    result = cli("predict", "-i", str(batch_csv), "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    scored = pd.read_csv(out)
    assert len(scored) == len(fresh) and set(scored["prediction"]) <= set(schema["classes"])
    assert [c for c in scored.columns if c.startswith("proba_")] == [
        f"proba_{c}" for c in schema["classes"]
    ]
    if threshold is not None:  # the CLI labels at the card's threshold, not at 0.5
        positive = scored["proba_yes"] >= threshold
        assert (scored["prediction"] == "yes").tolist() == positive.tolist()

    store = f"sqlite:///{tmp_path}/predictions.db"
    records = features.drop(columns=schema.get("id_column") or []).to_dict(orient="records")
    with serve(
        tmp_path, store, OBESITY_RISK_CONFIG=str(config), OBESITY_RISK__SERVING__ADMIN_TOKEN=TOKEN
    ) as base:
        one = httpx.post(f"{base}/predict?explain=true", json=records[0], timeout=30).json()
        assert one.get("threshold") == threshold  # a binary answer names its threshold
        why = one["explanation"]
        assert why["value"] == pytest.approx(one["probabilities"][one["label"]], abs=1e-12)
        total = why["base_value"] + sum(why["contributions"].values()) + why["other"]
        assert total == pytest.approx(why["value"], abs=1e-9)
        many = httpx.post(f"{base}/predict/batch", json={"records": records}, timeout=60)
        assert many.status_code == 200 and len(many.json()["predictions"]) == len(records)
        served = [p["label"] for p in many.json()["predictions"]]
        assert served == scored["prediction"].tolist()  # the API decides as the CLI does
        if threshold is not None:
            page = httpx.get(f"{base}/model/card", timeout=30).text
            assert f"&ge; {threshold:.2f}" in page and "observed rate" in page
        labels = [
            {"request_id": many.json()["request_id"], "position": i, "label": label}
            for i, label in enumerate(fresh[schema["target"]])
        ]
        feedback = httpx.post(f"{base}/feedback", json={"labels": labels}, headers=AUTH)
        assert feedback.status_code == 200 and feedback.json() == {"stored": len(labels)}
        page = httpx.get(f"{base}/model/card", timeout=30).text
        for obesity in ("NObeyesdad", "BMI", "Obesity", "clinician", "Gender"):
            assert obesity not in page, obesity  # no prose or column of the obesity dataset

    logged = env | {"OBESITY_RISK__SERVING__PREDICTION_STORE": store}
    result = cli("report", "--kind", "all", "--last", "1000", env=logged)
    assert result.returncode in (0, 3), result.stderr[-3000:]  # 3: a rule fired, said so
    assert "unexpected error" not in result.stderr
    (performance,) = sorted((tmp_path / "reports/monitoring").glob("*-performance.json"))
    measured = json.loads(performance.read_text())
    assert measured["labelled_rows"] == len(fresh) and measured["accuracy"] > 0.75
    assert measured["metrics"]  # Evidently's classification figures (binary: its binary path)
    assert (result.returncode == 3) == ("accuracy_drop" in result.stderr.split("fired:")[-1])


def test_a_regression_runs_every_stage(tmp_path: Path) -> None:
    """A numeric target with categorical columns: `init` -> train -> predict -> API (single,
    batch, explain, feedback, form, metrics) -> report -> model card, values and intervals."""
    train, config = tmp_path / "homes.csv", tmp_path / "homes.yaml"
    make_homes(900, 0).to_csv(train, index=False)
    ordered = ["--ordered", "condition=poor,fair,good"]
    result = cli("init", str(train), "--target", "price", *ordered, "-o", str(config))
    assert result.returncode == 0, result.stderr
    assert "a numeric target (regression)" in result.stderr
    schema = yaml.safe_load(config.read_text())["data"]
    assert schema["task"] == "regression" and schema["classes"] is None
    env = tmp_env(tmp_path) | {"OBESITY_RISK_CONFIG": str(config)}
    result = cli("train", "--budget", "smoke", "--no-progress", env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "reports/training/summary.json").read_text())
    card = summary["champion"]["card"]
    metrics = card["metrics"]
    assert card["task"] == "regression" and card["classes"] == [] and metrics["metric"] == "rmse"
    assert metrics["test_rmse"] < 40 and metrics["test_r2"] > 0.9  # the noise is 20
    assert card["interval"]["coverage"] == 0.9 and 0.75 < metrics["test_coverage"] <= 1.0
    assert metrics["test_interval_width"] == pytest.approx(2 * card["interval"]["half_width"])
    assert sum(b["rows"] for b in card["residuals"]) == summary["rows"]["test"]
    assert {s["column"] for s in card["slices"]} == {"district", "condition"}
    assert all(s["rmse"] > 0 and s["accuracy"] is None for s in card["slices"])
    assert summary["champion"]["promoted"], summary["champion"]["reason"]
    from mlflow import MlflowClient

    tracking = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    logged = tracking.get_logged_model(summary["champion"]["logged_model_uri"].split("/")[-1])
    assert {"val_rmse", "test_r2"} <= {m.key for m in logged.metrics}  # the Models tab's figures
    _regression_served(tmp_path, config, env, card)


def _documents_regression(base: str) -> None:
    """The OpenAPI schema documents the configured task's answers only, feedback by value."""
    spec = httpx.get(f"{base}/openapi.json", timeout=30).json()
    answer = spec["paths"]["/predict"]["post"]["responses"]["200"]["content"]
    assert answer["application/json"]["schema"]["$ref"].endswith("ValuePredictionResponse")
    assert "PredictionResponse" not in spec["components"]["schemas"]  # the task's only
    body = spec["paths"]["/feedback"]["post"]["requestBody"]["content"]["application/json"]
    truth = body["schema"]["properties"]["labels"]["items"]["properties"]["label"]
    assert truth["type"] == "number"


def _regression_scored(tmp_path: Path, env: dict, fresh: pd.DataFrame, half: float) -> pd.DataFrame:
    """`obesity-risk predict` (pandas, then Dask) on fresh rows: values, interval, id, rejects."""
    features = fresh.drop(columns="price")
    batch_csv, out = tmp_path / "batch.csv", tmp_path / "scored.csv"
    features.to_csv(batch_csv, index=False)
    result = cli("predict", "-i", str(batch_csv), "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["home", "prediction", "lower", "upper", "model_version"]
    assert scored["home"].tolist() == fresh["home"].tolist()
    assert (scored["upper"] - scored["prediction"]).to_numpy() == pytest.approx(half)
    # Dask batch scoring: the same columns, the id kept, a bad row rejected (never dropped)
    features.assign(area=features["area"].where(features.index != 7, -5.0)).to_csv(
        batch_csv, index=False
    )
    parts = tmp_path / "parts"
    result = cli("predict", "-i", str(batch_csv), "-o", str(parts), "--engine", "dask", env=env)
    assert result.returncode == 4, result.stderr[-3000:]  # 4: scored, with rejects (said so)
    assert "1 row(s) rejected" in result.stderr
    dask = pd.concat([pd.read_parquet(p) for p in sorted(parts.glob("part-*.parquet"))])
    assert list(dask.columns) == ["home", "prediction", "lower", "upper", "model_version"]
    assert dask["home"].tolist() == [h for i, h in enumerate(fresh["home"]) if i != 7]
    kept = scored.drop(index=7)
    assert dask["prediction"].to_numpy() == pytest.approx(kept["prediction"].to_numpy(), abs=1e-9)
    rejects = pd.read_csv(parts / "rejects.csv")
    assert rejects["home"].tolist() == [fresh["home"][7]] and "area" in rejects["problems"][0]
    return scored


def _regression_served(tmp_path: Path, config: Path, env: dict, card: dict) -> None:
    """The trained regression through the CLI, the API and the reports."""
    metrics, half = card["metrics"], card["interval"]["half_width"]
    fresh = make_homes(300, 1)
    features = fresh.drop(columns="price")
    scored = _regression_scored(tmp_path, env, fresh, half)

    store = f"sqlite:///{tmp_path}/predictions.db"
    records = features.drop(columns="home").to_dict(orient="records")
    with serve(
        tmp_path, store, OBESITY_RISK_CONFIG=str(config), OBESITY_RISK__SERVING__ADMIN_TOKEN=TOKEN
    ) as base:
        one = httpx.post(f"{base}/predict?explain=true", json=records[0], timeout=30).json()
        assert one["prediction"] == pytest.approx(scored["prediction"][0], abs=1e-9)
        assert one["interval"] == {
            "lower": pytest.approx(one["prediction"] - half),
            "upper": pytest.approx(one["prediction"] + half),
            "coverage": 0.9,
        }
        why = one["explanation"]
        assert why["space"] == "target" and why["value"] == one["prediction"]
        total = why["base_value"] + sum(why["contributions"].values()) + why["other"]
        assert total == pytest.approx(why["value"], abs=1e-9)
        many = httpx.post(f"{base}/predict/batch", json={"records": records}, timeout=60)
        assert many.status_code == 200
        served = [p["prediction"] for p in many.json()["predictions"]]
        assert served == pytest.approx(scored["prediction"].tolist(), abs=1e-9)
        _documents_regression(base)
        labels = [
            {"request_id": many.json()["request_id"], "position": i, "label": float(v)}
            for i, v in enumerate(fresh["price"])
        ]
        wrong = [{**labels[0], "label": "expensive"}]
        assert (
            httpx.post(f"{base}/feedback", json={"labels": wrong}, headers=AUTH).status_code == 422
        )
        feedback = httpx.post(f"{base}/feedback", json={"labels": labels}, headers=AUTH)
        assert feedback.status_code == 200 and feedback.json() == {"stored": len(labels)}
        exposed = httpx.get(f"{base}/metrics", timeout=30).text
        counted = [
            line
            for line in exposed.splitlines()
            if line.startswith("obesity_risk_served_values_count")
        ]
        assert counted and float(counted[0].split()[-1]) == 1 + len(records)  # single + batch
        page = httpx.get(f"{base}/model/card", timeout=30).text
        assert "RMSE" in page and 'id="residuals"' in page and "coverage achieved" in page
        assert "accuracy" not in page.split("<h2>Metrics</h2>")[1].split("<h2>Slices")[0]

    logged = env | {"OBESITY_RISK__SERVING__PREDICTION_STORE": store}
    result = cli("report", "--kind", "all", "--last", "1000", env=logged)
    assert result.returncode in (0, 3), result.stderr[-3000:]
    assert "unexpected error" not in result.stderr
    (performance,) = sorted((tmp_path / "reports/monitoring").glob("*-performance.json"))
    measured = json.loads(performance.read_text())
    assert measured["labelled_rows"] == len(fresh)
    assert measured["rmse"] == pytest.approx(metrics["test_rmse"], rel=0.5)
    assert measured["decisions"]["rmse_rise"]["applicable"]
    assert any(k.startswith("RMSE") for k in measured["metrics"])  # Evidently's regression preset
