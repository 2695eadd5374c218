"""Regression through the one design: every family's regressor and the blend score the same
through the compiled and native paths as through the pipeline (bit for bit), explanations sum to
the served value, and the conformal interval covers what it says on untouched rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from obesity_risk.data import strata
from obesity_risk.estimators.blend import BlendRegressor
from obesity_risk.features import build_pipeline
from obesity_risk.registry.card import CardInterval, ModelCard
from obesity_risk.registry.client import LoadedModel
from obesity_risk.serving.fastpath import SMALL_BATCH
from obesity_risk.serving.predictor import Predictor
from obesity_risk.training.blending import fit_weights
from obesity_risk.training.families import effective_family, make_estimator
from obesity_risk.training.residuals import calibrate_interval
from tests.helpers.datasets import make_homes
from tests.helpers.settings import homes_settings, quiet_settings

FAMILIES = ["dt", "rf", "xgb", "lgbm", "catboost"]
SMALL = {  # each family's regressor, small enough for a unit test
    "dt": {"max_depth": 8, "min_samples_leaf": 5},
    "rf": {"n_estimators": 30, "max_depth": 10},
    "xgb": {"n_estimators": 40, "max_depth": 4},
    "lgbm": {"n_estimators": 40, "num_leaves": 15},
    "catboost": {"iterations": 40, "depth": 4},
}


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("homes")
    settings = homes_settings(tmp)
    frame = make_homes(1200, 3)
    X, y = frame.drop(columns=["home", "price"]), frame["price"].astype(float)
    pipelines = {}
    for name in FAMILIES:
        family = effective_family(settings, name)
        estimator = make_estimator(settings, family, SMALL[name])
        pipelines[name] = build_pipeline(settings.data, settings.features, estimator).fit(X, y)
    return settings, X, y, pipelines


def _predictor(settings, pipeline) -> Predictor:
    card = ModelCard(name="homes", family="test", task="regression")
    card = card.model_copy(
        update={"interval": CardInterval(coverage=0.9, half_width=12.5, rows=100)}
    )
    return Predictor(LoadedModel(pipeline, "test", card), settings.data)


@pytest.mark.parametrize("name", [*FAMILIES, "blend"])
def test_served_values_equal_the_pipeline_bit_for_bit(homes, name: str) -> None:
    settings, X, _, pipelines = homes
    pipeline = pipelines.get(name) or BlendRegressor(
        members={n: pipelines[n] for n in ("xgb", "lgbm", "catboost")},
        weights={"xgb": 0.2, "lgbm": 0.5, "catboost": 0.3},
    )
    predictor = _predictor(settings, pipeline)
    assert predictor.compiled is not None  # the fast path, not the pipeline fallback
    expected = np.asarray(pipeline.predict(X), dtype=np.float64)
    records = X.to_dict(orient="records")
    assert len(records) >= SMALL_BATCH  # the many-row estimator copy
    # a random forest on 2 threads sums its trees in the order the threads finish (sklearn's
    # lock-guarded accumulation): the pipeline itself differs from call to call in the last
    # bit, so the forest is held to 1e-12 relative; every other family is exact
    same = (
        np.testing.assert_array_equal
        if name != "rf"
        else lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    )
    same(predictor.predict_records(records).values, expected)
    same(predictor.predict_frame(X).values, expected)
    for i in range(0, len(records), 101):  # one row: the native single-row path
        one = predictor.predict_records([records[i]])
        same(one.values, expected[[i]])
        assert one.lower.tolist() == [one.values[0] - 12.5]
        assert one.upper.tolist() == [one.values[0] + 12.5]
        assert one.coverage == 0.9
    scored = predictor.predict_frame(X.head(3)).frame()
    assert list(scored.columns) == ["prediction", "lower", "upper"]


@pytest.mark.parametrize("name", [*FAMILIES, "blend"])
def test_explanations_sum_to_the_served_value_in_target_units(homes, name: str) -> None:
    settings, X, _, pipelines = homes
    pipeline = pipelines.get(name) or BlendRegressor(
        members={n: pipelines[n] for n in ("dt", "lgbm")}, weights={"dt": 0.4, "lgbm": 0.6}
    )
    predictor = _predictor(settings, pipeline)
    rows = X.head(20).to_dict(orient="records")
    predictions, items = predictor.explain_records(rows, top=2)
    for value, item in zip(predictions.values, items, strict=True):
        assert item.space == "target" and item.label == "price"
        assert item.value == value  # the served value itself
        total = item.base_value + sum(item.contributions.values()) + item.other
        assert total == pytest.approx(value, abs=1e-6)
        assert len(item.contributions) == 2 and set(item.contributions) <= set(X.columns)


def test_blend_weights_are_non_negative_and_sum_to_one() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    good, noisy, wrong = y + rng.normal(0, 0.1, 500), y + rng.normal(0, 1, 500), -y
    weights = fit_weights([c[:, None] for c in (good, noisy, wrong)], y, [])
    assert min(weights) >= 0 and sum(weights) == pytest.approx(1.0)
    assert weights[0] > 0.8 and weights[2] < 0.01  # the anti-correlated member gets nothing


def test_the_90_percent_interval_covers_88_to_92_percent_of_untouched_rows(tmp_path) -> None:
    """A synthetic regression with known Gaussian noise: fit, calibrate on held-out rows, then
    count how many never-seen test rows the interval holds."""
    settings = homes_settings(tmp_path)
    frame = make_homes(12_000, 11, noise=20.0)
    X, y = frame.drop(columns=["home", "price"]), frame["price"].astype(float)
    assert strata(y).nunique() == 10  # splits stratify on the target's deciles
    fit, calibrate, test = np.split(np.arange(len(X)), [5000, 8000])
    family = effective_family(settings, "lgbm")
    estimator = make_estimator(settings, family, {"n_estimators": 200, "num_leaves": 15})
    pipeline = build_pipeline(settings.data, settings.features, estimator)
    pipeline.fit(X.iloc[fit], y.iloc[fit])
    interval = calibrate_interval(pipeline, X.iloc[calibrate], y.iloc[calibrate], 0.9)
    assert interval.rows == 3000 and 1.5 * 20 < interval.half_width < 2.0 * 20  # z(0.95)=1.645
    predicted = pipeline.predict(X.iloc[test])
    covered = np.abs(y.iloc[test].to_numpy() - predicted) <= interval.half_width
    assert 0.88 <= covered.mean() <= 0.92, covered.mean()


def test_regression_targets_are_numbers_in_the_declared_range(tmp_path) -> None:
    from obesity_risk.data import load_dataset
    from obesity_risk.errors import DataValidationError

    settings = homes_settings(tmp_path)
    path = tmp_path / "homes.csv"
    frame = make_homes(50, 0)
    frame.to_csv(path, index=False)
    loaded = load_dataset(path, settings.data)
    assert loaded.y is not None and loaded.y.dtype == np.float64
    bounded = settings.data.model_copy(update={"target_max": 100.0})
    with pytest.raises(DataValidationError, match="price"):
        load_dataset(path, bounded)
    frame.assign(price=["cheap"] * 50).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="price"):
        load_dataset(path, settings.data)
    assert isinstance(strata(pd.Series(["a", "b"])).iloc[0], str)  # labels stratify as they are


def test_a_model_of_another_task_is_refused_at_load(homes) -> None:
    """A regressor served under the obesity classifier's config fails to load with one line
    (the API stays up, not ready, with that reason) instead of answering the wrong shape."""
    from obesity_risk.registry.client import ModelLoadError

    _, _, _, pipelines = homes
    card = ModelCard(name="homes", family="lgbm", task="regression")
    with pytest.raises(ModelLoadError, match="predicts a regression, the config classes"):
        Predictor.configured(LoadedModel(pipelines["lgbm"], "homes-export", card), quiet_settings())
