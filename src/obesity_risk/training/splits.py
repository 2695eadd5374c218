"""Who sees which rows: the untouched test split, the validation split, the CV folds, and the
original (external) rows used as training augmentation.

One typed object, :class:`TrainingData`, carries them from loading to every later stage:

- ``test``: stratified, seeded, cut first; only ever *reported* (no tuning, warm start,
  blending, class weighting, feature selection, gate or promotion decision reads it);
- ``validation``: promotion, the quality gate and the ensemble's check against the best single
  model;
- ``fit`` + ``folds``: the studies' cross-validation (out-of-fold predictions) and the refit;
- ``augment``: external rows (``data.external_usage: augment``) appended, ``external_repeat``
  times, to each *training* fold and to the refit; never to a validation fold, the validation
  split or the test split. Exact duplicates, and rows whose features equal a validation, test
  or fit row (a twin in a CV validation fold would inflate the OOF figures), go first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import numpy as np
import pandas as pd
from loguru import logger
from pydantic import BaseModel, ConfigDict
from sklearn.model_selection import StratifiedKFold, train_test_split

from obesity_risk.config import Settings
from obesity_risk.config.schema import Budget
from obesity_risk.data import Dataset, load_dataset, sample_stratified, strata

Fold = tuple[np.ndarray, np.ndarray]


class Labelled(BaseModel):
    """Feature rows and their labels (same index)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    X: pd.DataFrame
    y: pd.Series

    def __len__(self) -> int:
        return len(self.X)

    @classmethod
    def empty_like(cls, X: pd.DataFrame, y: pd.Series) -> Labelled:
        """No rows, same columns and dtypes."""
        return cls(X=X.iloc[:0], y=y.iloc[:0])


class TrainingData(BaseModel):
    """Every split of one training run, and the augmentation rows."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    fit: Labelled
    folds: list[Fold]
    validation: Labelled
    test: Labelled
    augment: Labelled | None = None
    external: Dataset | None = None  # the external file as loaded (``validate`` usage scores it)
    train_source: str = ""
    dropped_external: int = 0

    @classmethod
    def for_cv(cls, X: pd.DataFrame, y: pd.Series, n_folds: int, seed: int) -> TrainingData:
        """Only folds over ``X``/``y`` (tests, benchmarks, notebooks): no held-out splits."""
        return cls(
            fit=Labelled(X=X, y=y),
            folds=make_folds(y, n_folds, seed),
            validation=Labelled.empty_like(X, y),
            test=Labelled.empty_like(X, y),
        )

    def fold_frames(self) -> Iterator[tuple[Labelled, Labelled]]:
        """(training part + augmentation, validation part) per fold."""
        for train_idx, valid_idx in self.folds:
            train = Labelled(X=self.fit.X.iloc[train_idx], y=self.fit.y.iloc[train_idx])
            valid = Labelled(X=self.fit.X.iloc[valid_idx], y=self.fit.y.iloc[valid_idx])
            yield self.with_augment(train), valid

    def with_augment(self, part: Labelled) -> Labelled:
        """``part`` followed by the augmentation rows (if any)."""
        if self.augment is None or len(self.augment) == 0:
            return part
        return Labelled(
            X=pd.concat([part.X, self.augment.X], ignore_index=True),
            y=pd.concat([part.y, self.augment.y], ignore_index=True),
        )

    def refit(self) -> Labelled:
        """What a final pipeline is fitted on: every fit row plus the augmentation."""
        return self.with_augment(self.fit)

    def with_folds(self, folds: list[Fold]) -> TrainingData:
        """The same splits with other folds (notebooks, benchmarks)."""
        return self.model_copy(update={"folds": folds})

    @property
    def rows(self) -> dict[str, int]:
        """Row counts per part (the summary's ``rows``)."""
        return {
            "fit": len(self.fit),
            "validation": len(self.validation),
            "test": len(self.test),
            "augment": 0 if self.augment is None else len(self.augment),
            "external": 0 if self.external is None else len(self.external.X),
            "external_dropped": self.dropped_external,
        }


def make_folds(y: pd.Series, n_folds: int, seed: int) -> list[Fold]:
    """Seeded stratified k-fold indices (a numeric target: stratified on its deciles)."""
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), strata(y)))


def _cut(X: pd.DataFrame, y: pd.Series, size: float, seed: int) -> tuple[Labelled, Labelled]:
    """(rest, cut) with ``size`` of the rows in ``cut`` (stratified); no cut when size is 0."""
    if size <= 0:
        return Labelled(X=X, y=y), Labelled.empty_like(X, y)
    X_rest, X_cut, y_rest, y_cut = train_test_split(
        X, y, test_size=size, stratify=strata(y), random_state=seed
    )
    return Labelled(X=X_rest, y=y_rest), Labelled(X=X_cut, y=y_cut)


def _augmentation(
    external: Dataset, held_out: list[Labelled], repeat: int
) -> tuple[Labelled | None, int]:
    """External rows for training: deduplicated, none equal to a held-out row, repeated."""
    if external.y is None:
        return None, 0
    frame = external.X.assign(__y=external.y.to_numpy()).drop_duplicates()
    features = list(external.X.columns)
    held = pd.concat([part.X for part in held_out], ignore_index=True)[features]
    if len(held):
        keys = set(map(tuple, held.to_numpy().tolist()))
        leaked = np.array([tuple(row) in keys for row in frame[features].to_numpy().tolist()])
        frame = frame.loc[~leaked] if len(leaked) else frame
    dropped = len(external.X) - len(frame)
    X = pd.concat([frame[features]] * repeat, ignore_index=True)
    target = (
        frame["__y"] if pd.api.types.is_numeric_dtype(frame["__y"]) else frame["__y"].astype(str)
    )
    y = pd.concat([target] * repeat, ignore_index=True).rename(external.y.name)
    return Labelled(X=X, y=y), dropped


def load_training_data(settings: Settings, budget: Budget) -> TrainingData:
    """Load the training file (and the external file), cut test and validation, build folds."""
    s = settings
    data = load_dataset(s.path(s.data.train_file), s.data)
    rest, test = _cut(data.X, cast(pd.Series, data.y), s.data.test_size, s.seed)
    val_size = s.data.validation_size / (1.0 - s.data.test_size)
    train, validation = _cut(rest.X, rest.y, val_size, s.seed)
    X_fit, y_fit = sample_stratified(train.X, train.y, budget.sample_rows, s.seed)
    external = augment = None
    dropped = 0
    if s.data.external_file is not None and s.data.external_usage != "none":
        external = load_dataset(s.path(s.data.external_file), s.data, labelled=None)
        if s.data.external_usage == "augment":
            held = [validation, test, Labelled(X=X_fit, y=y_fit)]  # no twin in any fold
            augment, dropped = _augmentation(external, held, s.data.external_repeat)
    result = TrainingData(
        fit=Labelled(X=X_fit, y=y_fit),
        folds=make_folds(y_fit, budget.cv_folds, s.seed),
        validation=validation,
        test=test,
        augment=augment,
        external=external,
        train_source=data.source,
        dropped_external=dropped,
    )
    logger.info("data: {}", ", ".join(f"{k} {v}" for k, v in result.rows.items()))
    return result
