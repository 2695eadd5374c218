"""One inference contract: the Predictor's fast path equals the sklearn pipeline bit for bit,
for every model family and every feature option; one validation rule for records and frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from obesity_risk.data import load_dataset, sample_stratified
from obesity_risk.errors import DataValidationError
from obesity_risk.features import build_pipeline
from obesity_risk.serving.predictor import Predictor
from obesity_risk.training.families import effective_family, make_estimator
from tests.helpers.models import SMALL, make_loaded
from tests.helpers.paths import TRAIN_CSV, UCI_CSV
from tests.helpers.settings import quiet_settings

OPTIONS = {
    "default": {},
    "no-scaler": {"numeric_scaler": "none"},
    "ordinal": {"nominal_encoder": "ordinal"},
    "all-engineered": {"selected": None},
    "no-engineered": {"engineered": [], "selected": None},
}


@pytest.fixture(scope="module")
def data():
    settings = quiet_settings()
    train = load_dataset(TRAIN_CSV, settings.data)
    X, y = sample_stratified(train.X, train.y, 1500, 0)
    uci = load_dataset(UCI_CSV, settings.data, labelled=None).X
    return X, y, uci


def fitted(family: str, option: dict, data) -> tuple[object, object]:
    X, y, _ = data
    # one thread: a multi-threaded forest sums its trees in scheduling order, so the pipeline
    # itself is not bit-reproducible across calls at 2 threads (checked to 1e-12 below)
    settings = quiet_settings(features=option, models={"n_jobs": 1}, evaluation={"slices": []})
    fam = effective_family(settings, family)
    estimator = make_estimator(settings, fam, SMALL[family])
    return settings, build_pipeline(settings.data, settings.features, estimator).fit(X, y)


def assert_parity(predictor: Predictor, pipeline, frame: pd.DataFrame) -> None:
    expected = pipeline.predict_proba(frame)
    assert predictor.compiled is not None
    np.testing.assert_array_equal(predictor.predict_frame(frame).probabilities, expected)
    records = frame.to_dict(orient="records")
    np.testing.assert_array_equal(predictor.predict_records(records).probabilities, expected)
    for i in range(0, len(records), 211):  # single rows: the one-thread estimator copy
        np.testing.assert_array_equal(
            predictor.predict_records([records[i]]).probabilities, expected[[i]]
        )
    assert predictor.predict_frame(frame).labels == list(pipeline.predict(frame))


@pytest.mark.parametrize("family", list(SMALL))
def test_every_family_is_bit_identical(family: str, data) -> None:
    settings, pipeline = fitted(family, {}, data)
    assert_parity(Predictor(make_loaded(pipeline), settings.data, n_threads=1), pipeline, data[2])
    two_threads = Predictor(make_loaded(pipeline), settings.data, n_threads=2)
    np.testing.assert_allclose(
        two_threads.predict_frame(data[2]).probabilities,
        pipeline.predict_proba(data[2]),
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize("option", list(OPTIONS))
def test_every_feature_option_is_bit_identical(option: str, data) -> None:
    settings, pipeline = fitted("lgbm", OPTIONS[option], data)
    assert_parity(Predictor(make_loaded(pipeline), settings.data, n_threads=1), pipeline, data[2])


def test_second_dataset_config_is_bit_identical(tmp_path) -> None:
    from tests.helpers.datasets import loans_schema, make_loans

    loans = make_loans(1200, 1)
    schema = loans_schema(tmp_path / "loans.csv")
    features = {
        "engineered": [{"name": "dti", "op": "ratio", "inputs": {"num": "debt", "den": "income"}}],
        "selected": None,
    }
    settings = quiet_settings(
        data=schema, features=features, models={"n_jobs": 1}, evaluation={"slices": []}
    )
    X = loans.drop(columns=["loan_id", "defaulted"])
    for family, params in SMALL.items():
        estimator = make_estimator(settings, effective_family(settings, family), params)
        pipeline = build_pipeline(settings.data, settings.features, estimator).fit(
            X, loans["defaulted"]
        )
        assert_parity(Predictor(make_loaded(pipeline), settings.data, n_threads=1), pipeline, X)


def test_one_rule_for_categories_outside_the_schema(small_pipeline, data) -> None:
    settings = quiet_settings()
    predictor = Predictor(make_loaded(small_pipeline), settings.data)
    frame = data[2].head(5).reset_index(drop=True)
    frame.loc[3, "MTRANS"] = "Teleport"
    with pytest.raises(DataValidationError, match=r"column 'MTRANS'.*data row\(s\) 4"):
        predictor.validate_frame(frame)
    records = frame.to_dict(orient="records")
    with pytest.raises(DataValidationError, match=r"row 4, column 'MTRANS'"):
        predictor.validate_records(records)
    # declared but unseen in training: accepted everywhere, and counted
    frame.loc[3, "MTRANS"] = "Bike"
    assert len(predictor.validate_records(frame.to_dict(orient="records"))) == 5
