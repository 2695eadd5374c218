"""Slice and calibration numbers against hand computations on tiny data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss

from obesity_risk.config.stages import Slice
from obesity_risk.training.evaluation import (
    expected_calibration_error,
    multiclass_log_loss,
    reliability,
    slice_groups,
    slice_metrics,
    split_metrics,
)
from tests.helpers.settings import quiet_settings

CLASSES = ["b", "a"]  # deliberately not sorted: columns follow this order
PROBA = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]])
TRUTH = ["b", "a", "a", "b"]


def test_ece_by_hand() -> None:
    # confidences 0.9, 0.6, 0.8, 0.7; correct: yes, no, yes, no
    # 2 bins ([0, .5], (.5, 1]): everything in bin 2 -> |0.5 - 0.75| = 0.25
    assert expected_calibration_error(PROBA, TRUTH, CLASSES, 2) == pytest.approx(0.25)
    # 10 bins: (.5,.6]: 0.6 wrong -> .6 ; (.6,.7]: .7 wrong -> .7 ; (.7,.8]: .8 right -> .2 ;
    # (.8,.9]: .9 right -> .1 ; mean over 4 rows = (0.6 + 0.7 + 0.2 + 0.1) / 4
    assert expected_calibration_error(PROBA, TRUTH, CLASSES, 10) == pytest.approx(0.4)


def test_log_loss_follows_the_given_class_order() -> None:
    expected = -np.mean(np.log([0.9, 0.4, 0.8, 0.3]))
    assert multiclass_log_loss(PROBA, TRUTH, CLASSES) == pytest.approx(expected)
    # sklearn agrees once its columns are in sorted order
    assert log_loss(TRUTH, PROBA[:, ::-1], labels=["a", "b"]) == pytest.approx(expected)
    metrics = split_metrics(PROBA, TRUTH, CLASSES, 2)
    assert metrics.accuracy == 0.5 and metrics.rows == 4


def test_reliability_bins_by_hand() -> None:
    curves = reliability(PROBA, TRUTH, CLASSES, 2)
    # class "b": p = .9 .6 .2 .3 ; hits 1 0 0 1 -> low bin (.2, .3): 1 hit of 2; high: 1 of 2
    low, high = curves["b"]
    assert (low.mean_predicted, low.observed, low.rows) == (pytest.approx(0.25), 0.5, 2)
    assert (high.mean_predicted, high.observed, high.rows) == (pytest.approx(0.75), 0.5, 2)


def test_slices_by_hand() -> None:
    settings = quiet_settings(
        evaluation={"slices": [{"column": "Gender"}, {"column": "BMI", "bins": [0, 25, 100]}]}
    )
    X = pd.DataFrame(
        {
            "Gender": ["Female", "Male", "Male", "Female"],
            "Height": [1.6, 1.8, 1.7, 1.5],
            "Weight": [50.0, 100.0, 60.0, 80.0],
            "Age": [30.0, 30.0, 30.0, 30.0],
        }
    )
    # BMI: 19.5, 30.9, 20.8, 35.6
    y = pd.Series(["x", "y", "x", "y"])
    predicted = np.array(["x", "x", "x", "x"])
    got = {(m.column, m.group): m for m in slice_metrics(X, y, predicted, settings)}
    assert got[("Gender", "Female")].accuracy == 0.5 and got[("Gender", "Male")].accuracy == 0.5
    assert got[("BMI", "[0.0, 25.0)")].accuracy == 1.0 and got[("BMI", "[0.0, 25.0)")].rows == 2
    assert got[("BMI", "[25.0, 100.0)")].accuracy == 0.0
    bands = slice_groups(
        X.assign(Age=[10.0, 20.0, 30.0, 200.0]), Slice(column="Age", bins=[0, 18, 99]), settings
    )
    assert list(bands) == ["[0.0, 18.0)", "[18.0, 99.0)", "[18.0, 99.0)", "out of bins"]


def test_unknown_slice_column_is_a_config_error() -> None:
    from obesity_risk.errors import ConfigError

    with pytest.raises(ConfigError, match=r"evaluation\.slices: unknown column 'Nope'"):
        quiet_settings(evaluation={"slices": [{"column": "Nope"}]})
