"""LightGBM's single-row C API path gives exactly ``Booster.predict``'s numbers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import lightgbm as lgb
import numpy as np
import pytest

from obesity_risk.serving.native import LightGBMRows


def _data(classes: int, rows: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(classes)
    X = rng.normal(size=(rows, 8))
    y = (X[:, 0] * 2 + X[:, 1] + rng.normal(scale=0.5, size=rows)).argsort().argsort()
    return X, (y * classes // rows).astype(int)


@pytest.mark.parametrize("classes", [2, 5])
def test_single_rows_equal_booster_predict(classes: int) -> None:
    X, y = _data(classes)
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=15, verbose=-1, n_jobs=1).fit(X, y)
    rows = LightGBMRows(model.booster_, 1)
    for i in range(len(X)):
        one = X[i : i + 1]
        np.testing.assert_array_equal(rows(one), model.booster_.predict(one, num_threads=1))
    np.testing.assert_array_equal(rows(X[:7]), model.booster_.predict(X[:7], num_threads=1))


def test_early_stopped_model_uses_its_best_iteration() -> None:
    X, y = _data(3)
    model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.3, verbose=-1, n_jobs=1)
    model.fit(X[:400], y[:400], eval_X=X[400:], eval_y=y[400:], callbacks=[lgb.early_stopping(5)])
    assert 0 < model.booster_.best_iteration < 300
    rows = LightGBMRows(model.booster_, 1)
    for i in range(0, len(X), 7):
        np.testing.assert_array_equal(rows(X[i : i + 1]), model.predict_proba(X[i : i + 1]))


def test_concurrent_calls_borrow_separate_buffers() -> None:
    X, y = _data(4)
    model = lgb.LGBMClassifier(n_estimators=30, verbose=-1, n_jobs=1).fit(X, y)
    rows = LightGBMRows(model.booster_, 1)
    expected = model.booster_.predict(X, num_threads=1)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: rows(X[i : i + 1])[0], range(len(X))))
    np.testing.assert_array_equal(np.vstack(got), expected)
    assert 1 <= len(rows._configs) <= 4  # pylint: disable=protected-access
    with ThreadPoolExecutor(4) as pool:  # new threads reuse the pooled buffers
        list(pool.map(lambda i: rows(X[i : i + 1]), range(len(X))))
    assert len(rows._configs) <= 4  # pylint: disable=protected-access
