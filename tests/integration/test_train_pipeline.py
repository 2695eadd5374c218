"""End to end: `train --budget smoke` into a temp MLflow store; registry parity, determinism."""

from __future__ import annotations

import json

import mlflow
import mlflow.sklearn
import numpy as np
import pytest

from obesity_risk import registry
from obesity_risk.data import load_dataset
from obesity_risk.registry.card import ModelCard, TrainingSummary
from obesity_risk.registry.integrity import manifest
from obesity_risk.training.trainer import Trainer
from tests.helpers.paths import UCI_CSV
from tests.helpers.settings import quiet_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """Two identical smoke runs into one temporary store."""
    tmp = tmp_path_factory.mktemp("train")
    settings = quiet_settings(tmp)
    first = Trainer(settings, "smoke", show_progress_bar=False)
    summary_1 = first.run()
    saved_1 = json.loads((tmp / "reports/training/summary.json").read_text())
    second = Trainer(settings, "smoke", show_progress_bar=False)
    summary_2 = second.run()
    return settings, tmp, first, summary_1, saved_1, summary_2


def test_summary_has_the_promised_fields(runs) -> None:
    settings, tmp, _, summary, saved, _ = runs
    assert TrainingSummary.model_validate(saved) == summary  # the file is the typed summary
    card = summary.champion.card
    for value in (card.metrics.cv_accuracy, card.metrics.val_accuracy, card.run_id):
        assert value is not None
    # the original rows augment the training folds: no (optimistic) external score; the
    # untouched test split is reported with calibration, slices and row counts
    assert card.metrics.external_accuracy is None
    assert summary.rows["augment"] > 2000 and summary.rows["test"] == card.rows["test"] > 2000
    assert 0.8 < card.metrics.test_accuracy < 1 and 0 <= card.metrics.test_ece < 1
    assert {s["column"] for s in card.slices} == {"Gender", "Age", "BMI"}
    assert card.family in {"dt", "rf", "xgb", "lgbm", "catboost", "ensemble"}
    assert summary.ensemble is not None and "blend + class weights" in summary.steps
    # the calibration step compared each method with none, cross-fitted on the OOF rows
    calibration = summary.ensemble["calibration"]
    assert set(calibration["log_loss"]) == {"none", "sigmoid", "isotonic"}
    kept = calibration["method"]
    assert kept is None or calibration["log_loss"][kept] < calibration["log_loss"]["none"]
    assert (f"+ calibration ({kept})" in summary.steps) == (kept is not None)
    if card.family == "ensemble":
        assert card.members and sum(card.members.values()) == pytest.approx(1.0)
        assert card.calibration == kept
    assert card.version == "1" and summary.champion.alias == "champion"
    assert summary.champion.model_uri == "models:/obesity-risk/1"
    assert set(summary.studies) == {"dt", "rf", "xgb", "lgbm", "catboost"}
    for study in summary.studies.values():
        assert study.n_trials >= 2 and study.n_complete >= 1
        assert 0.5 < study.best_value <= 1.0 and study.wall_s > 0
    assert card.metrics.cv_accuracy > 0.85  # smoke budget, 3000 rows
    # the card: data hashes and every file's hash; the export's card is the registry's with the
    # manifest of the export's own folder (same pickle, its own MLmodel, the reference added)
    assert set(card.data) == {"obesity_s4e2_train.csv", "obesity_uci_original.csv"}
    assert {"MLmodel", "model.pkl"} <= set(card.artifacts)
    assert all(len(digest) == 64 for digest in card.artifacts.values())
    exported = ModelCard.read(tmp / "models" / "champion")
    assert exported.artifacts == manifest(tmp / "models" / "champion")
    assert exported.artifacts["model.pkl"] == card.artifacts["model.pkl"]
    assert exported.reference == card.reference and "reference.parquet" in exported.artifacts
    assert _without_files(exported) == _without_files(card)
    registered = registry.Registry(settings).card_for(
        mlflow.MlflowClient(settings.tracking_uri).get_model_version("obesity-risk", "1")
    )
    assert registered == card
    # training scoped MLflow's global URI to its run: the process state is restored
    assert mlflow.get_tracking_uri() != settings.tracking_uri


def test_registered_champion_equals_in_memory_pipeline_on_uci(runs) -> None:
    settings, _, first, _, _, _ = runs
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    mlflow.set_tracking_uri(settings.tracking_uri)  # the test's own choice of global store
    mlflow.set_registry_uri(settings.tracking_uri)
    loaded = mlflow.sklearn.load_model(
        f"models:/{settings.tracking.registered_model}@{settings.tracking.champion_alias}"
    )
    expected = first.champion_pipeline.predict_proba(uci.X)
    # a blend may hold a 2-thread forest, which sums its trees in scheduling order: equal to
    # the last bit or two, not bit for bit (the labels are identical)
    np.testing.assert_allclose(loaded.predict_proba(uci.X), expected, rtol=0, atol=1e-12)
    exported = registry.load_exported(settings)
    np.testing.assert_allclose(exported.pipeline.predict_proba(uci.X), expected, rtol=0, atol=1e-12)
    assert exported.version == "1"
    pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.tracking.registered_model}/1")
    np.testing.assert_array_equal(pyfunc.predict(uci.X), first.champion_pipeline.predict(uci.X))


def test_registry_load_uses_the_export_only_when_it_is_the_same_run(runs, tmp_path) -> None:
    settings, tmp, first, _, _, _ = runs
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    expected = first.champion_pipeline.predict_proba(uci.X)
    same_run = registry.Registry(settings).load()
    assert same_run.loaded_from == str(tmp / "models" / "champion")
    paths = settings.paths.model_copy(update={"models_dir": tmp_path / "empty"})
    no_export = settings.model_copy(update={"paths": paths})
    downloaded = registry.Registry(no_export).load()
    assert downloaded.loaded_from == "models:/obesity-risk/1"
    for loaded in (same_run, downloaded):
        assert loaded.source == "models:/obesity-risk@champion" and loaded.version == "1"
        np.testing.assert_allclose(loaded.pipeline.predict_proba(uci.X), expected, atol=1e-12)


def test_same_config_and_seed_give_identical_cv_metrics(runs) -> None:
    _, _, _, summary_1, _, summary_2 = runs
    for family, study in summary_1.studies.items():
        other = summary_2.studies[family]
        assert study.best_params == other.best_params, family
        assert study.best_value == other.best_value, family
        assert study.val_accuracy == other.val_accuracy, family


def test_equal_model_does_not_take_the_champion_alias(runs) -> None:
    settings, _, _, _, _, summary_2 = runs
    champion = summary_2.champion
    assert champion.card.version == "2"
    assert champion.alias == "challenger" and champion.promoted is False
    assert champion.previous_champion_val_accuracy == champion.card.metrics.val_accuracy
    client = mlflow.MlflowClient(settings.tracking_uri)
    name = settings.tracking.registered_model
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "2"


def test_every_trial_is_a_child_run_of_its_study(runs) -> None:
    settings, _, _, summary, _, _ = runs
    client = mlflow.MlflowClient(settings.tracking_uri)
    exp = client.get_experiment_by_name(settings.tracking.experiment)
    study_run = summary.studies["lgbm"].run_id
    children = client.search_runs(
        [exp.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{study_run}'"
    )
    trials = [r for r in children if "optuna_trial" in r.data.tags]
    assert len(trials) == summary.studies["lgbm"].n_trials
    for run in trials:
        assert "n_estimators" in run.data.params
        assert run.data.metrics["duration_s"] > 0
        assert run.data.tags["trial_state"] in {"complete", "pruned", "failed"}
    study = client.get_run(study_run)
    assert study.data.tags["mlflow.parentRunId"] == summary.run_id
    artifacts = {a.path for a in client.list_artifacts(study_run)}
    assert {"confusion_matrix.png", "classification_report.txt", "reliability.png"} <= artifacts
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    parent = {a.path for a in client.list_artifacts(summary.run_id)}
    assert {"families.png", "shap_importance.png", "slices.json", "model-card"} <= parent
    session = client.get_run(summary.run_id)
    pooled = session.data.metrics["cv_accuracy_lgbm"]  # OOF accuracy vs the mean of folds
    assert pooled == pytest.approx(summary.studies["lgbm"].cv_accuracy, abs=2e-3)
    assert len(session.data.params["train_sha256"]) == 64
    assert "config" in {a.path for a in client.list_artifacts(summary.run_id)}


def test_feature_selection_result_is_recorded(runs) -> None:
    _, tmp, _, summary, _, _ = runs
    result = json.loads((tmp / "reports/training/feature_selection.json").read_text())
    assert set(result["kept"]) | set(result["dropped"]) == set(result["importances"])
    assert "BSA" in result["importances"]  # every engineered column is a candidate
    if result["selected"] is None:
        assert result["cv_score_kept"] <= result["cv_score_configured"]
        assert summary.features["selected"] == result["configured"]
    else:
        assert result["cv_score_kept"] > result["cv_score_configured"]
        assert summary.features["selected"] == result["kept"]


def test_api_serves_the_registered_champion_and_falls_back_to_the_export(runs) -> None:
    from fastapi.testclient import TestClient

    from obesity_risk.api.app import create_app

    settings, tmp, first, _, _, _ = runs
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    records = uci.X.head(300).to_dict(orient="records")
    expected = first.champion_pipeline.predict(uci.X.head(300))
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready").json()
        assert ready["source"] == "models:/obesity-risk@champion" and ready["model_version"] == "1"
        body = client.post("/predict/batch", json={"records": records}).json()
        assert [p["label"] for p in body["predictions"]] == list(expected)
        card = client.get("/model").json()["card"]  # loaded from the export: its own manifest
        assert _without_files(ModelCard.model_validate(card)) == _without_files(
            runs[3].champion.card
        )
        assert card["artifacts"] == manifest(tmp / "models" / "champion")
        assert "BMI" in card["features"]["numeric"]

    unreachable = quiet_settings(
        tmp,
        tracking={"uri": "http://127.0.0.1:9"},
        serving={"prediction_store": f"sqlite:///{tmp}/fallback.db"},
    )
    with TestClient(create_app(unreachable)) as client:
        ready = client.get("/ready").json()
        assert ready["source"] == str(tmp / "models" / "champion") and ready["model_version"] == "1"
        body = client.post("/predict/batch", json={"records": records}).json()
        assert [p["label"] for p in body["predictions"]] == list(expected)
        card = client.get("/model").json()["card"]
        assert card["metrics"]["cv_accuracy"] > 0.85 and card["trained_at"]


def test_gate_refuses_a_challenger_and_says_why(runs) -> None:
    settings, _, _, _, _, _ = runs
    strict = settings.model_copy(
        update={
            "evaluation": settings.evaluation.model_copy(
                update={"gate": settings.evaluation.gate.model_copy(update={"min_accuracy": 0.99})}
            )
        }
    )
    summary = Trainer(
        strict, "smoke", families=["dt"], feature_selection=False, show_progress_bar=False
    ).run()
    champion = summary.champion
    assert champion.promoted is False and champion.alias == "challenger"
    assert champion.reason.startswith("quality gate: validation accuracy")
    client = mlflow.MlflowClient(settings.tracking_uri)
    name = settings.tracking.registered_model
    assert (
        str(client.get_model_version_by_alias(name, "challenger").version) == champion.card.version
    )
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"


def _without_files(card: ModelCard) -> ModelCard:
    """The card less what differs between a folder's copy and another's (manifest, signature)."""
    return card.model_copy(update={"artifacts": {}, "signature": None})
