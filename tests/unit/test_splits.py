"""Leakage: no test, validation or validation-fold row is ever in the data a model is fit on;
the original (UCI) rows only ever enter training folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from obesity_risk.training.cv import cross_validate
from obesity_risk.training.splits import Labelled, TrainingData, load_training_data
from tests.helpers.settings import quiet_settings


class Spy(ClassifierMixin, BaseEstimator):
    """Remembers the row ids it was fitted on; predicts the most frequent class."""

    fitted: list[set[int]] = []  # noqa: RUF012 - shared by the clones cross_validate makes

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Spy:
        Spy.fitted.append(set(X["rid"].astype(int)))
        self.classes_ = np.asarray(sorted(set(map(str, y))), dtype=object)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.full((len(X), len(self.classes_)), 1.0 / len(self.classes_))


@pytest.fixture(scope="module")
def data() -> TrainingData:
    settings = quiet_settings(data={"external_usage": "augment", "external_repeat": 2})
    return load_training_data(settings, settings.models.budgets["smoke"])


def ids(part: Labelled) -> set:
    return set(map(int, part.X.index))


def test_parts_are_disjoint_and_sized(data: TrainingData) -> None:
    fit, val, test = ids(data.fit), ids(data.validation), ids(data.test)
    assert not fit & val and not fit & test and not val & test
    total = 20758  # S4E2 training rows
    assert abs(len(test) - 0.10 * total) <= 1 and abs(len(val) - 0.15 * total) <= 1
    assert len(fit) == 3000  # the smoke budget's sample
    # stratified: each class's share in the test split is within a row of its share overall
    everything = pd.concat([data.fit.y, data.validation.y, data.test.y])
    assert (
        data.test.y.value_counts(normalize=True) - everything.value_counts(normalize=True)
    ).abs().max() < 0.01


def test_augmentation_only_in_training_folds(data: TrainingData) -> None:
    assert data.augment is not None and data.external is not None
    unique = len(data.external.X.drop_duplicates()) - data.dropped_external
    assert len(data.augment) == 2 * (len(data.external.X) - data.dropped_external)
    assert unique <= len(data.external.X)
    held = pd.concat([data.validation.X, data.test.X, data.fit.X])  # no twin anywhere
    keys = set(map(tuple, held.to_numpy().tolist()))
    assert not any(tuple(r) in keys for r in data.augment.X.to_numpy().tolist())
    for (train, valid), (train_idx, valid_idx) in zip(data.fold_frames(), data.folds, strict=True):
        assert len(train) == len(train_idx) + len(data.augment)
        assert len(valid) == len(valid_idx)
        # validation folds hold fit rows only: never an external row
        assert set(valid.X.index) <= ids(data.fit)


def test_models_never_fit_on_held_out_rows(data: TrainingData) -> None:
    """Through cross_validate itself: a spy records every row each fold's model saw."""
    tagged = data.model_copy(
        update={
            "fit": Labelled(X=data.fit.X.assign(rid=data.fit.X.index), y=data.fit.y),
            "augment": Labelled(
                X=data.augment.X.assign(rid=-1 - np.arange(len(data.augment))), y=data.augment.y
            ),
        }
    )
    Spy.fitted = []
    scores = cross_validate(Spy(), tagged)
    assert len(Spy.fitted) == len(data.folds) and not np.isnan(scores.oof).any()
    held = ids(data.validation) | ids(data.test)
    for seen, (_, valid_idx) in zip(Spy.fitted, data.folds, strict=True):
        fold_valid = set(map(int, data.fit.X.index[valid_idx]))
        assert not seen & held and not seen & fold_valid
        assert sum(1 for r in seen if r < 0) == len(
            data.augment
        )  # every external row, training only


def test_usage_none_and_validate_add_nothing() -> None:
    for usage in ("none", "validate"):
        settings = quiet_settings(data={"external_usage": usage})
        data = load_training_data(settings, settings.models.budgets["smoke"])
        assert data.augment is None
        assert (data.external is None) == (usage == "none")
        for train, _ in data.fold_frames():
            assert set(train.X.index) <= ids(data.fit)


def test_no_test_split_when_size_zero() -> None:
    settings = quiet_settings(data={"test_size": 0.0})
    data = load_training_data(settings, settings.models.budgets["smoke"])
    assert len(data.test) == 0 and len(data.validation) > 0


def test_splits_must_leave_training_rows() -> None:
    from obesity_risk.errors import ConfigError

    with pytest.raises(ConfigError, match="must leave at least 10% of the rows for training"):
        quiet_settings(data={"test_size": 0.45, "validation_size": 0.45})
