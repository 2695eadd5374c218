"""Explanations add up: for every family, TreeSHAP contributions plus the base value reproduce
the model's own score (raw log-odds for boosters, probability for sklearn trees), every served
explanation sums to the served probability of its class (single models, blends with per-class
weights and a calibrator, binary models), and one-hot parts come back as their input column."""

from __future__ import annotations

import numpy as np
import pytest

from obesity_risk.data import load_dataset, sample_stratified
from obesity_risk.estimators.blend import BlendClassifier, blend
from obesity_risk.features import build_pipeline
from obesity_risk.serving.explain import _softmax, raw_contributions
from obesity_risk.serving.predictor import Predictor
from obesity_risk.training.families import effective_family, make_estimator
from tests.helpers.models import SMALL, make_loaded
from tests.helpers.paths import TRAIN_CSV, UCI_CSV
from tests.helpers.settings import quiet_settings


@pytest.fixture(scope="module")
def data():
    settings = quiet_settings()
    train = load_dataset(TRAIN_CSV, settings.data)
    X, y = sample_stratified(train.X, train.y, 1500, 0)
    uci = load_dataset(UCI_CSV, settings.data, labelled=None).X.sample(200, random_state=0)
    return settings, X, y, uci


@pytest.fixture(scope="module")
def pipelines(data):
    settings, X, y, _ = data
    out = {}
    for name, params in SMALL.items():
        estimator = make_estimator(settings, effective_family(settings, name), params)
        out[name] = build_pipeline(settings.data, settings.features, estimator).fit(X, y)
    return out


@pytest.mark.parametrize("family", list(SMALL))
def test_contributions_reproduce_the_score(data, pipelines, family: str) -> None:
    settings, _, _, uci = data
    predictor = Predictor(make_loaded(pipelines[family], family=family), settings.data)
    matrix = predictor.compiled.transform_frame(uci)
    contrib, space = raw_contributions(predictor.compiled, matrix)
    proba = pipelines[family].predict_proba(uci)
    score = contrib.sum(axis=2)  # (rows, classes): base + contributions
    if space == "probability":
        np.testing.assert_allclose(score, proba, atol=1e-6)
    else:  # the softmax of the raw scores is the model's probability
        np.testing.assert_allclose(_softmax(score), proba, atol=1e-5)
    predictions, explained = predictor.explain_frame(uci, top=5)
    for row, item in enumerate(explained):
        assert item.label == predictions.labels[row]
        assert item.base_value + sum(item.contributions.values()) + item.other == pytest.approx(
            item.value, abs=1e-9
        )
        k = predictions.classes.index(item.label)
        assert item.space == "probability" and item.value == pytest.approx(proba[row, k], abs=1e-12)
        assert predictions.probabilities[row, k] == item.value
        assert len(item.contributions) == 5
        magnitudes = [abs(v) for v in item.contributions.values()]
        assert magnitudes == sorted(magnitudes, reverse=True)
    everything = predictor.explain_frame(uci.head(3), top=100)[1][0].contributions
    known = set(settings.data.columns) | {f.name for f in settings.features.engineered}
    assert set(everything) <= known and "MTRANS" in everything  # one-hot parts summed back
    assert all(k != "MTRANS_Walking" for k in everything)


def test_blend_contributions_reproduce_the_blended_probability(data, pipelines) -> None:
    settings, _, _, uci = data
    weights = {"lgbm": 0.5, "rf": 0.3, "catboost": 0.2}
    model = BlendClassifier({n: pipelines[n] for n in weights}, weights, None)
    model.classes_ = pipelines["lgbm"].classes_
    predictor = Predictor(make_loaded(model, family="ensemble"), settings.data)
    records = predictor.validate_records(uci.to_dict(orient="records"))
    predictions, explained = predictor.explain_records(records, top=4)
    mixed = blend([pipelines[n].predict_proba(uci) for n in weights], list(weights.values()))
    for row, item in enumerate(explained):
        k = predictions.classes.index(item.label)
        assert item.space == "probability"
        assert item.value == pytest.approx(mixed[row, k], abs=1e-6)
        total = item.base_value + sum(item.contributions.values()) + item.other
        assert total == pytest.approx(item.value, abs=1e-9)


def test_a_weighted_calibrated_blend_explains_the_served_probability(data, pipelines) -> None:
    """Per-class weights and a calibrator change the blended probability: the explanation is
    of the served one (it used to explain the blend before the weights)."""
    from obesity_risk.estimators.calibration import Calibrator

    settings, X, y, uci = data
    weights = {"lgbm": 0.6, "xgb": 0.4}
    mixed = blend([pipelines[n].predict_proba(X) for n in weights], list(weights.values()))
    classes = list(pipelines["lgbm"].classes_)
    class_weights = [0.7, 1.3, 1.0, 0.9, 1.1, 1.2, 0.8]
    for calibrator in (None, Calibrator("sigmoid", classes, mixed, y)):
        model = BlendClassifier({n: pipelines[n] for n in weights}, weights, class_weights)
        model.calibrator, model.classes_ = calibrator, pipelines["lgbm"].classes_
        predictor = Predictor(make_loaded(model, family="ensemble"), settings.data)
        predictions, explained = predictor.explain_frame(uci, top=3)
        served = model.predict_proba(uci)
        assert not np.allclose(served, blend([pipelines[n].predict_proba(uci) for n in weights],
                                             list(weights.values())))  # fmt: skip
        for row, item in enumerate(explained):
            k = predictions.classes.index(item.label)
            assert item.value == pytest.approx(served[row, k], abs=1e-12)
            total = item.base_value + sum(item.contributions.values()) + item.other
            assert total == pytest.approx(item.value, abs=1e-12)
            assert 0.0 <= item.base_value <= 1.0


def test_binary_blend_adds_up_to_its_probability(tmp_path) -> None:
    """A binary booster has one raw score: its probability is the sigmoid of it (not a softmax
    of [-s, s]); the blend's contributions still reproduce the blended probability."""
    from tests.helpers.datasets import loans_schema, make_loans

    loans = make_loans(1200, 3)
    schema = loans_schema(tmp_path / "loans.csv")
    settings = quiet_settings(
        data=schema, features={"engineered": [], "selected": None}, evaluation={"slices": []}
    )
    X, y = loans.drop(columns=["loan_id", "defaulted"]), loans["defaulted"]
    members = {}
    for name, params in {
        "lgbm": {"n_estimators": 40},
        "xgb": {"n_estimators": 40},
        "dt": {"max_depth": 5},
    }.items():
        estimator = make_estimator(settings, effective_family(settings, name), params)
        members[name] = build_pipeline(settings.data, settings.features, estimator).fit(X, y)
    weights = {"lgbm": 0.5, "xgb": 0.3, "dt": 0.2}
    model = BlendClassifier(members, weights, None)
    model.classes_ = members["lgbm"].classes_
    predictor = Predictor(make_loaded(model, family="ensemble"), settings.data)
    predictions, explained = predictor.explain_frame(X.head(100), top=3)
    mixed = blend([members[n].predict_proba(X.head(100)) for n in weights], list(weights.values()))
    for row, item in enumerate(explained):
        k = predictions.classes.index(item.label)
        assert item.value == pytest.approx(mixed[row, k], abs=1e-6)
        total = item.base_value + sum(item.contributions.values()) + item.other
        assert total == pytest.approx(item.value, abs=1e-9)
    # a decision threshold on the card: labels follow it, each explanation is of its label
    from obesity_risk.registry.client import LoadedModel

    plain = make_loaded(model, family="ensemble")
    card = plain.card.model_copy(update={"threshold": 0.2, "classes": ["no", "yes"]})
    low = Predictor(LoadedModel(model, plain.source, card), settings.data)
    predictions, explained = low.explain_frame(X.head(100), top=3)
    p_yes = predictions.probabilities[:, 1]
    assert predictions.labels == np.where(p_yes >= 0.2, "yes", "no").tolist()
    assert any(0.2 <= p < 0.5 for p in p_yes)  # some rows are labelled differently from argmax
    for row, item in enumerate(explained):
        k = predictions.classes.index(predictions.labels[row])
        assert item.label == predictions.labels[row]
        assert item.value == pytest.approx(predictions.probabilities[row, k], abs=1e-12)
