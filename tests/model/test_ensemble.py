"""The ensemble: weights from out-of-fold probabilities, one classifier served through the same
Predictor as any pipeline (compiled members equal the sklearn path), the gate's rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from obesity_risk.data import load_dataset, sample_stratified
from obesity_risk.estimators.blend import BlendClassifier, reweight
from obesity_risk.estimators.calibration import Calibrator
from obesity_risk.features import build_pipeline
from obesity_risk.serving.predictor import Predictor
from obesity_risk.training.blending import BlendFit, fit_blend, fit_weights
from obesity_risk.training.calibration import CalibrationChoice, choose_calibration
from obesity_risk.training.candidates import Candidate, choose, steps
from obesity_risk.training.evaluation import SliceMetrics, SplitMetrics
from obesity_risk.training.families import effective_family, make_estimator
from obesity_risk.training.promotion import gate_failures
from tests.helpers.models import make_loaded
from tests.helpers.paths import TRAIN_CSV, UCI_CSV
from tests.helpers.settings import quiet_settings

CLASSES = ["p", "q", "r"]


def one_hot(y: list[str], sharp: float) -> np.ndarray:
    out = np.full((len(y), 3), (1 - sharp) / 2)
    out[np.arange(len(y)), [CLASSES.index(v) for v in y]] = sharp
    return out


def test_weights_favour_the_better_member() -> None:
    rng = np.random.default_rng(0)
    y = list(rng.choice(CLASSES, 600))
    good = one_hot(y, 0.8)
    noise = rng.dirichlet(np.ones(3), 600)
    weights = fit_weights([good, noise], np.asarray(y), CLASSES)
    assert weights[0] > 0.9 and sum(weights) == pytest.approx(1.0)


def test_class_weights_fix_a_biased_model() -> None:
    rng = np.random.default_rng(1)
    y = list(rng.choice(CLASSES, 900))
    proba = one_hot(y, 0.5)
    proba[:, 0] += 0.3  # biased towards "p": argmax is "p" for most "q"/"r" rows
    proba /= proba.sum(axis=1, keepdims=True)
    fit = fit_blend({"m": proba}, pd.Series(y), CLASSES, class_weights=True, trials=200, seed=0)
    assert fit.class_weights is not None
    assert fit.weighted_accuracy > fit.blend_accuracy + 0.2
    assert np.allclose(reweight(proba, fit.class_weights).sum(axis=1), 1.0)


@pytest.fixture(scope="module")
def blend_model():
    settings = quiet_settings()
    train = load_dataset(TRAIN_CSV, settings.data)
    X, y = sample_stratified(train.X, train.y, 1500, 0)
    members = {}
    for name, params in {"lgbm": {"n_estimators": 30}, "dt": {"max_depth": 6}}.items():
        family = effective_family(settings, name)
        estimator = make_estimator(settings, family, params)
        members[name] = build_pipeline(settings.data, settings.features, estimator).fit(X, y)
    model = BlendClassifier(members, {"lgbm": 0.7, "dt": 0.3}, [1.0, 1.1, 0.9, 1.0, 1.0, 1.2, 1.0])
    model.classes_ = members["lgbm"].classes_
    return settings, model


def test_blend_served_through_the_predictor(blend_model) -> None:
    settings, model = blend_model
    uci = load_dataset(UCI_CSV, settings.data, labelled=None).X
    predictor = Predictor(make_loaded(model, family="ensemble"), settings.data)
    assert predictor.compiled is not None  # each member compiled, no sklearn fallback
    expected = model.predict_proba(uci)
    records = predictor.validate_records(uci.to_dict(orient="records"))
    np.testing.assert_allclose(
        predictor.predict_records(records).probabilities, expected, atol=1e-12
    )
    np.testing.assert_allclose(predictor.predict_frame(uci).probabilities, expected, atol=1e-12)
    assert list(model.predict(uci)) == predictor.predict_frame(uci).labels


def test_gate_refuses_a_worse_challenger() -> None:
    settings = quiet_settings(
        evaluation={"gate": {"min_accuracy": 0.9, "max_slice_drop": 0.02, "min_slice_rows": 10}}
    )
    old = [SliceMetrics(column="Gender", group="Male", rows=100, accuracy=0.92, f1_macro=0.9)]
    worse = [SliceMetrics(column="Gender", group="Male", rows=100, accuracy=0.88, f1_macro=0.9)]
    tiny = [SliceMetrics(column="Gender", group="Male", rows=5, accuracy=0.5, f1_macro=0.5)]
    good, bad = _split(0.93), _split(0.89)
    assert gate_failures(settings, good, old, old) == []
    failures = gate_failures(settings, bad, worse, old)
    assert len(failures) == 2
    assert "validation accuracy 0.8900 < gate 0.9000" in failures[0]
    assert "slice Gender=Male" in failures[1] and "0.0400 below" in failures[1]
    assert gate_failures(settings, good, tiny, old) == []  # too few rows to judge
    assert gate_failures(settings, good, worse, None) == []  # no champion: nothing to compare
    floor = quiet_settings(models={"metric": "log_loss"}, evaluation={"gate": {"min_score": 0.3}})
    assert gate_failures(floor, good, old, old) == []  # log-loss 0.2: at most 0.3 passes
    assert gate_failures(floor, good.model_copy(update={"log_loss": 0.4}), old, old) == [
        "validation log_loss 0.4000 > gate 0.3000"
    ]


def _split(accuracy: float) -> SplitMetrics:
    return SplitMetrics(rows=100, accuracy=accuracy, f1_macro=0.9, log_loss=0.2, ece=0.01)


def test_members_below_min_weight_are_dropped() -> None:
    rng = np.random.default_rng(2)
    y = list(rng.choice(CLASSES, 600))
    good, also_good = one_hot(y, 0.7), one_hot(y, 0.6)
    noise = rng.dirichlet(np.ones(3), 600)
    fit = fit_blend(
        {"a": good, "b": also_good, "noise": noise},
        pd.Series(y),
        CLASSES,
        class_weights=False,
        trials=10,
        seed=0,
        min_weight=0.1,
    )
    assert "noise" not in fit.members and sum(fit.members.values()) == pytest.approx(1.0)
    assert all(w >= 0.1 for w in fit.members.values())


def overconfident(n: int, seed: int, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities whose argmax is right about 60% of the time but that claim ~99%."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(classes), n)
    logits = rng.normal(size=(n, len(classes)))
    logits[np.arange(n), truth] += 1.0
    proba = np.exp(6 * logits)
    return proba / proba.sum(axis=1, keepdims=True), np.asarray(classes)[truth]


def test_calibration_is_kept_when_it_lowers_the_cross_fitted_log_loss() -> None:
    classes = ["r", "p", "q"]  # not sorted: the calibrator keeps the model's column order
    proba, y = overconfident(3000, 3, classes)
    choice = choose_calibration(proba, y, classes, "auto", max_accuracy_drop=0.005)
    assert choice.method in ("sigmoid", "isotonic")
    assert choice.log_loss[choice.method] < 0.5 * choice.log_loss["none"]
    assert choice.accuracy[choice.method] >= choice.accuracy["none"] - 0.005
    strict = choose_calibration(proba, y, classes, "auto")  # no accuracy may be lost
    assert strict.method is None and strict.log_loss == choice.log_loss
    calibrated = Calibrator(choice.method, classes, proba, y)(proba)
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    truth = np.array([classes.index(v) for v in y])
    # the right class keeps the higher mean probability in its own column
    assert calibrated[np.arange(len(y)), truth].mean() > 1 / len(classes) + 0.15
    assert choose_calibration(proba, y, classes, "none").method is None


def test_calibration_is_refused_when_probabilities_are_already_calibrated() -> None:
    rng = np.random.default_rng(4)
    proba = rng.dirichlet(np.ones(3) * 0.7, 4000)
    y = np.array([rng.choice(CLASSES, p=row) for row in proba])  # drawn from the claims
    choice = choose_calibration(proba, y, CLASSES, "auto", max_accuracy_drop=0.005)
    assert choice.method is None
    assert choice.log_loss["none"] <= min(choice.log_loss["sigmoid"], choice.log_loss["isotonic"])


def test_calibrated_blend_served_through_the_predictor(blend_model) -> None:
    settings, base = blend_model
    train = load_dataset(TRAIN_CSV, settings.data)
    X, y = sample_stratified(train.X, train.y, 1000, 1)
    classes = [str(c) for c in base.classes_]
    calibrator = Calibrator("isotonic", classes, base.predict_proba(X), y)
    model = BlendClassifier(base.members, base.weights, base.class_weights, calibrator)
    model.classes_ = base.classes_
    uci = load_dataset(UCI_CSV, settings.data, labelled=None).X
    expected = model.predict_proba(uci)
    assert not np.allclose(expected, base.predict_proba(uci))  # the map does something
    predictor = Predictor(make_loaded(model, family="ensemble"), settings.data)
    records = predictor.validate_records(uci.to_dict(orient="records"))
    np.testing.assert_allclose(
        predictor.predict_records(records).probabilities, expected, atol=1e-12
    )
    np.testing.assert_allclose(predictor.predict_frame(uci).probabilities, expected, atol=1e-12)


def candidate(name: str, oof: float, val: float, test: float) -> Candidate:
    def split(acc: float) -> SplitMetrics:
        return SplitMetrics(rows=100, accuracy=acc, f1_macro=acc, log_loss=0.3, ece=0.01)

    return Candidate(
        name=name,
        pipeline=None,
        oof=np.zeros((1, 3)),
        cv=split(oof),
        validation=split(val),
        test=split(test),
        params={},
        run_id="r",
        model_uri="m",
    )


def test_the_ensemble_is_chosen_on_validation_not_on_its_optimistic_oof() -> None:
    settings = quiet_settings()
    best = candidate("lgbm", oof=0.90, val=0.91, test=0.92)
    assert choose(settings, best, candidate("ensemble", 0.95, 0.912, 0.90)).name == "ensemble"
    assert choose(settings, best, candidate("ensemble", 0.95, 0.909, 0.99)).name == "lgbm"
    assert choose(settings, best, candidate("ensemble", 0.91, 0.91, 0.9)).name == "ensemble"
    assert choose(settings, best, candidate("ensemble", 0.89, 0.91, 0.9)).name == "lgbm"
    stricter = quiet_settings(ensemble={"min_gain": 0.005})
    assert choose(stricter, best, candidate("ensemble", 0.95, 0.912, 0.9)).name == "lgbm"


def test_steps_show_calibration_only_when_it_was_kept() -> None:
    best, ensemble = candidate("xgb", 0.90, 0.90, 0.91), candidate("ensemble", 0.91, 0.9, 0.92)
    choice = CalibrationChoice(
        method="isotonic",
        log_loss={"none": 0.3, "isotonic": 0.25, "sigmoid": 0.27},
        accuracy={"none": 0.91, "isotonic": 0.9095, "sigmoid": 0.905},
    )
    fit = BlendFit(
        members={"xgb": 0.7, "lgbm": 0.3},
        best_single="xgb",
        best_single_accuracy=0.90,
        blend_accuracy=0.905,
        blend_log_loss=0.3,
        weighted_accuracy=0.91,
        calibration=choice,
    )
    kept = steps(best, fit, ensemble)
    assert list(kept) == [
        "best single (xgb)",
        "blend",
        "blend + class weights",
        "+ calibration (isotonic)",
    ]
    assert kept["+ calibration (isotonic)"] == {"oof": 0.9095, "test": 0.92}
    assert kept["blend + class weights"]["test"] is None  # the test figure is the final model's
    plain = steps(best, fit.model_copy(update={"calibration": None}), ensemble)
    assert (
        list(plain)[-1] == "blend + class weights"
        and plain["blend + class weights"]["test"] == 0.92
    )
    assert list(steps(best, None, None)) == ["best single (xgb)"]
