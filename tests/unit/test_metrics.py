"""The selectable metrics: values against scikit-learn, directions, and the config's checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from obesity_risk.config import load_settings
from obesity_risk.errors import ConfigError
from obesity_risk.metrics import CLASSIFICATION, best_threshold, get_metric, labels_of, score

CLASSES = ["low", "mid", "high"]  # deliberately not sorted: columns follow this order


def _problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(CLASSES, 400, p=[0.6, 0.3, 0.1])
    proba = rng.dirichlet([1, 1, 1], 400)
    proba[np.arange(400), [CLASSES.index(v) for v in y]] += 0.8  # informative, not perfect
    return y, proba / proba.sum(axis=1, keepdims=True)


def test_label_metrics_match_scikit_learn() -> None:
    y, proba = _problem()
    predicted = np.asarray(CLASSES)[proba.argmax(axis=1)]
    assert score("accuracy", proba, y, CLASSES) == sk.accuracy_score(y, predicted)
    assert score("balanced_accuracy", proba, y, CLASSES) == sk.balanced_accuracy_score(y, predicted)
    assert score("f1_macro", proba, y, CLASSES) == sk.f1_score(y, predicted, average="macro")


def test_log_loss_reads_columns_in_the_configured_class_order() -> None:
    y, proba = _problem(1)
    order = sorted(CLASSES)  # scikit-learn's order: its log_loss needs the columns sorted
    resorted = proba[:, [CLASSES.index(c) for c in order]]
    expected = sk.log_loss(y, resorted, labels=order)
    assert score("log_loss", proba, y, CLASSES) == pytest.approx(expected, rel=1e-12)


def test_roc_auc_is_of_the_positive_class_and_binary_only() -> None:
    rng = np.random.default_rng(2)
    y = rng.choice(["no", "yes"], 300, p=[0.85, 0.15])
    p_yes = np.clip((y == "yes") * 0.4 + rng.random(300) * 0.6, 0, 1)
    proba = np.column_stack([1 - p_yes, p_yes])
    assert score("roc_auc", proba, y, ["no", "yes"]) == sk.roc_auc_score(y == "yes", p_yes)
    assert np.isnan(score("roc_auc", proba, np.array(["no"] * 300), ["no", "yes"]))
    with pytest.raises(ValueError, match="binary tasks only"):
        score("roc_auc", *_problem()[::-1], CLASSES)


def test_directions() -> None:
    assert {m.name for m in CLASSIFICATION.values() if not m.higher_is_better} == {"log_loss"}
    loss, acc = get_metric("log_loss"), get_metric("accuracy")
    assert loss.direction == "minimize" and acc.direction == "maximize"
    assert loss.better(0.2, 0.3) and not loss.better(0.3, 0.2) and acc.better(0.9, 0.8)
    assert loss.gain(0.2, 0.3) == pytest.approx(0.1) and acc.gain(0.8, 0.9) == pytest.approx(-0.1)
    assert loss.passes(0.3, 0.3) and not loss.passes(0.31, 0.3) and acc.passes(0.9, 0.85)
    with pytest.raises(KeyError, match="unknown metric 'auc'"):
        get_metric("auc")


def test_roc_auc_on_a_multiclass_task_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"models\.metric: roc_auc does not measure a multi"):
        load_settings(models={"metric": "roc_auc"}, logging={"file": False})
    with pytest.raises(ConfigError, match=r"models\.metric: rmse does not measure a multiclass"):
        load_settings(models={"metric": "rmse"}, logging={"file": False})
    with pytest.raises(ConfigError, match=r"models\.metric: Input should be 'accuracy'"):
        load_settings(models={"metric": "mape"}, logging={"file": False})


def test_a_threshold_decides_binary_labels_and_auto_finds_the_best() -> None:
    rng = np.random.default_rng(4)
    y = rng.choice(["no", "yes"], 1000, p=[0.85, 0.15])
    p_yes = np.clip(0.25 * (y == "yes") + rng.random(1000) * 0.5, 0, 1)  # never above 0.75
    proba = np.column_stack([1 - p_yes, p_yes])
    assert (
        labels_of(proba, ["no", "yes"], 0.3).tolist()
        == np.where(p_yes >= 0.3, "yes", "no").tolist()
    )
    assert labels_of(proba, ["no", "yes"]).tolist() == np.where(p_yes > 0.5, "yes", "no").tolist()
    chosen = best_threshold("balanced_accuracy", proba, y, ["no", "yes"])
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    scores = [score("balanced_accuracy", proba, y, ["no", "yes"], t) for t in grid]
    assert score("balanced_accuracy", proba, y, ["no", "yes"], chosen) == max(scores)
    assert chosen < 0.5  # the rare class needs a lower bar here
    assert best_threshold("log_loss", proba, y, ["no", "yes"]) == 0.5  # no label involved
