"""Settings: defaults, overrides, and errors that name the file and the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from obesity_risk.config import load_settings
from obesity_risk.config.loader import CONFIG_DIR
from obesity_risk.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "override.yaml"
    path.write_text(text)
    return path


def test_defaults_load_and_resolve_from_project_root() -> None:
    s = load_settings()
    assert s.root == ROOT
    assert s.path(s.data.train_file) == ROOT / "data/raw/obesity_s4e2_train.csv"
    assert s.tracking_uri == f"sqlite:///{ROOT}/mlruns/mlflow.db"
    assert s.artifact_location == (ROOT / "mlruns/artifacts").as_uri()
    assert set(s.models.families) == {"dt", "rf", "xgb", "lgbm", "catboost"}
    assert set(s.models.budgets) >= {"smoke", "default", "full"}


def test_paths_do_not_depend_on_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.models_dir == ROOT / "models"
    assert s.path(s.data.train_file).is_file()


def test_home_env_moves_the_root(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OBESITY_RISK_HOME", str(tmp_path))
    assert load_settings().models_dir == tmp_path / "models"


def test_override_file_from_env(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "seed: 7\nmodels:\n  n_jobs: 1\n")
    monkeypatch.setenv("OBESITY_RISK_CONFIG", str(path))
    s = load_settings()
    assert (s.seed, s.models.n_jobs) == (7, 1)
    assert "lgbm" in s.models.families  # deep merge keeps the rest


def test_env_var_overrides_nested_key(monkeypatch) -> None:
    monkeypatch.setenv("OBESITY_RISK__MODELS__N_JOBS", "1")
    monkeypatch.setenv("OBESITY_RISK__LOGGING__LEVEL", "DEBUG")
    s = load_settings()
    assert s.models.n_jobs == 1
    assert s.logging.level == "DEBUG"


def test_mlflow_tracking_uri_env_wins(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "tracking:\n  uri: sqlite:///from-file.db\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    s = load_settings(path)
    assert s.tracking_uri == "http://mlflow:5000"
    assert s.artifact_location is None


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "tracking:\n  experimnt: typo\n")
    with pytest.raises(ConfigError, match=rf"{path}: tracking\.experimnt: Extra inputs"):
        load_settings(path)


def test_wrong_value_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "data:\n  validation_size: 2\n")
    with pytest.raises(ConfigError, match=rf"{path}: data\.validation_size: .*less than 0\.9"):
        load_settings(path)


def test_wrong_type_in_column_schema(tmp_path: Path) -> None:
    path = write(tmp_path, "data:\n  columns:\n    Age: {type: numeric, min: old}\n")
    with pytest.raises(ConfigError, match=rf"{path}: data\.columns\.Age\.min"):
        load_settings(path)


def test_error_in_env_names_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OBESITY_RISK__MODELS__N_JOBS", "zero")
    with pytest.raises(ConfigError, match=r"environment: models\.n_jobs"):
        load_settings()


def test_error_in_packaged_default_names_that_file(tmp_path: Path) -> None:
    # an override that empties a required list is reported against the override file
    path = write(tmp_path, "models:\n  budgets:\n    smoke:\n      families: []\n")
    with pytest.raises(ConfigError, match=rf"{path}: models\.budgets\.smoke\.families"):
        load_settings(path)


def test_malformed_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "tracking: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"{path}: malformed YAML"):
        load_settings(path)


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(path)


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_unknown_feature_op(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "features:\n  engineered:\n    - {name: X, op: cube, inputs: {x: Age}}\n",
    )
    with pytest.raises(ConfigError, match=r"features\.engineered.*unknown op 'cube'"):
        load_settings(path)


def test_feature_input_must_exist(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "features:\n  engineered:\n    - {name: X, op: linear, inputs: {x: Nope}}\n",
    )
    with pytest.raises(ConfigError, match=r"inputs \['Nope'\] are neither"):
        load_settings(path)


def test_budget_naming_unknown_family(tmp_path: Path) -> None:
    path = write(tmp_path, "models:\n  budgets:\n    smoke:\n      families: [svm]\n")
    with pytest.raises(ConfigError, match=r"budget 'smoke' names unknown families \['svm'\]"):
        load_settings(path)


def test_packaged_yaml_files_are_shipped() -> None:
    names = {p.name for p in CONFIG_DIR.glob("*.yaml")}
    assert names == {
        "evaluation.yaml",
        "features.yaml",
        "logging.yaml",
        "models.yaml",
        "monitoring.yaml",
        "serving.yaml",
        "settings.yaml",
        "tracking.yaml",
    }
    assert os.access(CONFIG_DIR / "datasets" / "obesity.yaml", os.R_OK)


OTHER = """
data:
  train_file: data/raw/sensors.csv
  target: state
  classes: [idle, busy, fault]
  columns:
    load: {type: numeric, min: 0}
    site: {type: categorical, categories: [a, b, c]}
    serial: {type: categorical, categories: [%s]}
"""


def test_another_dataset_inherits_nothing_of_obesity(tmp_path: Path) -> None:
    """A config that names only ``data`` validates: no obesity slice, feature, rule, gate floor
    or name is inherited; slices come from the schema (categoricals of at most 10 values)."""
    serials = ", ".join(f"s{i}" for i in range(11))
    settings = load_settings(write(tmp_path, OTHER % serials))
    assert settings.data.task == "multiclass" and settings.data.example is None
    assert settings.data.external_file is None and settings.data.id_column is None
    assert settings.features.engineered == [] and settings.features.selected is None
    assert [s.column for s in settings.slices] == ["site"]  # serial has 11 categories
    assert settings.evaluation.gate.min_accuracy is None
    assert "weight_drift" not in {r.name for r in settings.monitoring.rules}
    assert (settings.tracking.experiment, settings.tracking.registered_model) == ("sensors",) * 2
    default = load_settings()  # the obesity dataset itself keeps all of it
    assert [s.column for s in default.slices] == ["Gender", "Age", "BMI"]
    assert default.evaluation.gate.min_accuracy == 0.85 and default.features.engineered
    assert default.tracking.experiment == "obesity-risk" and default.data.task == "multiclass"


@pytest.mark.parametrize(
    ("data", "task"),
    [
        ({"classes": ["no", "yes"]}, "binary"),
        ({"classes": ["a", "b", "c"]}, "multiclass"),
        ({}, "regression"),
    ],
)
def test_the_task_is_inferred_from_the_classes(tmp_path: Path, data: dict, task: str) -> None:
    base = {"train_file": "t.csv", "target": "y", "columns": {"x": {"type": "numeric"}}}
    settings = load_settings(data=base | data)
    assert settings.data.task == task
    assert load_settings(data=base | data | {"task": task}).data.task == task
    # an unset models.metric is the task's default, in its direction
    assert settings.models.metric == ("rmse" if task == "regression" else "accuracy")


@pytest.mark.parametrize(
    ("task", "metric", "message"),
    [
        ("regression", "accuracy", "models.metric: accuracy does not measure a regression task"),
        ("multiclass", "rmse", "models.metric: rmse does not measure a multiclass task"),
        ("multiclass", "roc_auc", "use one of accuracy, balanced_accuracy, f1_macro, log_loss"),
    ],
)
def test_a_metric_of_another_task_is_refused(task: str, metric: str, message: str) -> None:
    data = {"train_file": "t.csv", "target": "y", "columns": {"x": {"type": "numeric"}}}
    if task != "regression":
        data["classes"] = ["a", "b", "c"]
    with pytest.raises(ConfigError, match=message):
        load_settings(data=data, models={"metric": metric})


def test_a_regression_needs_every_family_to_have_a_regressor() -> None:
    data = {"train_file": "t.csv", "target": "y", "columns": {"x": {"type": "numeric"}}}
    families = {"svm": {"estimator": "sklearn.svm.SVC"}}
    with pytest.raises(ConfigError, match="svm have no regression variant"):
        load_settings(data=data, models={"families": families})
    bounded = load_settings(data=data | {"target_min": 0, "target_max": 10})
    assert (bounded.data.target_min, bounded.data.target_max) == (0, 10)
    with pytest.raises(ConfigError, match="target_min must not exceed target_max"):
        load_settings(data=data | {"target_min": 10, "target_max": 0})
    with pytest.raises(ConfigError, match="a regression only"):
        load_settings(data=data | {"classes": ["a", "b"], "target_min": 0})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"task": "binary", "classes": ["a", "b", "c"]}, "task is binary but classes lists 3"),
        ({"task": "multiclass", "classes": ["a", "b"]}, "task is multiclass but classes lists 2"),
        ({"task": "multiclass"}, "task is multiclass: classes must list the target's classes"),
        ({"task": "regression", "classes": ["a", "b"]}, "task is regression but classes lists 2"),
        ({"task": "ranking", "classes": ["a", "b"]}, "data.task: Input should be 'multiclass'"),
    ],
)
def test_a_task_that_contradicts_the_classes_is_one_clear_error(
    tmp_path: Path, data: dict, message: str
) -> None:
    body = {"train_file": "t.csv", "target": "y", "columns": {"x": {"type": "numeric"}}} | data
    path = write(tmp_path, yaml.safe_dump({"data": body}))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert f"{path}: data" in str(caught.value) and message in str(caught.value)


@pytest.mark.parametrize(
    "token",
    [
        "Th1sIsMyRealToken #2024-rotation",
        "#starts-with-a-hash-0123456789",
        "abcdefghijklmnop #x",
        'quote\'s "and" key: value 0123',
        "  spaced around  0123456789  ",
        "[not, a, list] {nor: a map} 12",
    ],
)
def test_secrets_from_the_environment_are_read_literally(monkeypatch, token: str) -> None:
    monkeypatch.setenv("OBESITY_RISK__SERVING__ADMIN_TOKEN", token)
    dsn = f"postgresql://api:{token.strip()}@db:5432/log"
    monkeypatch.setenv("OBESITY_RISK__SERVING__PREDICTION_STORE", dsn)
    monkeypatch.setenv("OBESITY_RISK__MONITORING__WEBHOOK_URL", f"https://hooks.test/x#{token}")
    s = load_settings()
    assert s.serving.admin_token.get_secret_value() == token
    assert s.serving.prediction_store == dsn
    assert s.monitoring.webhook_url == f"https://hooks.test/x#{token}"


def test_non_text_settings_from_the_environment_are_still_parsed(monkeypatch) -> None:
    monkeypatch.setenv("OBESITY_RISK__SERVING__WORKERS", "3")
    monkeypatch.setenv("OBESITY_RISK__LOGGING__FILE", "false")
    monkeypatch.setenv("OBESITY_RISK__MONITORING__ACTIONS", "[log]")
    monkeypatch.setenv("OBESITY_RISK__SERVING__PREDICTION_STORE", "")
    s = load_settings()
    assert s.serving.workers == 3 and s.logging.file is False
    assert s.monitoring.actions == ["log"] and s.serving.prediction_store is None


def test_a_signing_key_starting_with_a_hash_is_refused_not_dropped(monkeypatch) -> None:
    """YAML read ``#...`` as a comment, i.e. no key, i.e. signing off: now it is an error."""
    monkeypatch.setenv(
        "OBESITY_RISK__TRACKING__SIGNING_KEY", "#hG5pYmJsZXMtYW5kLWJpdHMtMDEyMzQ1Njc4OQ=="
    )
    with pytest.raises(ConfigError, match=r"environment: tracking\.signing_key: .*not base64"):
        load_settings()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "S is not set"),
        ("change-me-postgres", "S is a placeholder"),
        ("short", "S is shorter than 16"),
        ("#abcdefghijklmnopq", "read differently"),
        ("abcdefghijklmnop #x", "read differently"),
        ("abcdefgh: ijklmnop", "read differently"),
        ("'abcdefghijklmnop'", "read differently"),
        (" abcdefghijklmnop", "read differently"),
        ("1234567890123456", "read differently"),  # YAML reads a number
        ("abcdefghijklmnop\x01", "read differently"),
        ("Rz8-3kQ_x7PmW2vN9sLc", None),
    ],
)
def test_preflight_refuses_secrets_that_would_change(monkeypatch, value, message) -> None:
    from obesity_risk.preflight import main, problem

    assert (problem("S", value) is None) == (message is None)
    if message is not None:
        assert message in problem("S", value)
        if value is not None:
            monkeypatch.setenv("S", value)
            assert main(["S"]) == 1
