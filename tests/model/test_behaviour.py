"""Behavioural tests of a trained pipeline: directional, invariance, robustness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from obesity_risk.data import load_dataset, sample_stratified
from obesity_risk.features import build_pipeline
from obesity_risk.training.families import effective_family, make_estimator
from tests.helpers.paths import TRAIN_CSV, UCI_CSV
from tests.helpers.settings import quiet_settings

OBESE = ["Obesity_Type_I", "Obesity_Type_II", "Obesity_Type_III"]


@pytest.fixture(scope="module")
def fitted():
    settings = quiet_settings()
    data = load_dataset(TRAIN_CSV, settings.data)
    X, y = sample_stratified(data.X, data.y, 6000, 0)
    family = effective_family(settings, "lgbm")
    pipeline = build_pipeline(
        settings.data,
        settings.features,
        make_estimator(settings, family, family.warm_start[0] | {"n_estimators": 150}),
    ).fit(X, y)
    holdout = data.X.drop(index=X.index).sample(500, random_state=1)
    return pipeline, holdout


def obese_mass(pipeline, X: pd.DataFrame) -> np.ndarray:
    proba = pd.DataFrame(pipeline.predict_proba(X), columns=pipeline.classes_)
    return proba[OBESE].sum(axis=1).to_numpy()


def test_directional_more_weight_same_height_raises_obesity_mass(fitted) -> None:
    pipeline, X = fitted
    before = obese_mass(pipeline, X)
    after = obese_mass(pipeline, X.assign(Weight=X["Weight"] + 15))
    assert after.mean() > before.mean() + 0.1
    assert (after >= before - 0.02).mean() > 0.97


def test_directional_bmi_bands_at_the_extremes(fitted) -> None:
    pipeline, X = fitted
    row = X.iloc[[0]].assign(Height=1.75, Gender="Male", Age=30.0)
    assert pipeline.predict(row.assign(Weight=50.0))[0] == "Insufficient_Weight"
    assert pipeline.predict(row.assign(Weight=150.0))[0] in {"Obesity_Type_II", "Obesity_Type_III"}


def test_invariance_to_row_order_and_batch_size(fitted) -> None:
    pipeline, X = fitted
    full = pipeline.predict_proba(X)
    shuffled = X.sample(frac=1.0, random_state=3)
    np.testing.assert_allclose(
        pd.DataFrame(pipeline.predict_proba(shuffled), index=shuffled.index).loc[X.index], full
    )
    one_by_one = np.vstack([pipeline.predict_proba(X.iloc[[i]]) for i in range(20)])
    np.testing.assert_allclose(one_by_one, full[:20], rtol=0, atol=1e-12)


def test_invariance_to_extra_columns(fitted) -> None:
    pipeline, X = fitted
    np.testing.assert_array_equal(
        pipeline.predict_proba(X.assign(id=1, note="x")), pipeline.predict_proba(X)
    )


def test_unseen_categories_give_valid_probabilities(fitted) -> None:
    pipeline, X = fitted
    proba = pipeline.predict_proba(X.head(10).assign(MTRANS="Scooter", CALC="Always"))
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_external_uci_accuracy_is_far_above_chance(fitted) -> None:
    pipeline, _ = fitted
    settings = quiet_settings()
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    accuracy = (pipeline.predict(uci.X) == uci.y.to_numpy()).mean()
    assert accuracy > 0.8  # chance is 1/7
