"""The fitted estimator's own booster, called without its sklearn wrapper's per-call work,
and the estimator's thread count (read, or set on a copy).

One-row predictions are the API's hot path: ``LGBMClassifier.predict_proba`` spends most of a
row in input checks, and ``Booster.predict`` still sets up a C++ predictor on every call. Here
LightGBM rows go through its single-row C API (``LGBM_BoosterPredictForMatSingleRowFast``, the
set-up done once) and XGBoost through ``inplace_predict``: the same trees and arguments, so the
same numbers (``tests/model/test_predictor.py`` checks them bit for bit on every UCI row).
"""

from __future__ import annotations

import copy
import ctypes
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

_THREAD_PARAMS = ("n_jobs", "thread_count", "nthread")


def estimator_threads(estimator: Any) -> int | None:
    """The thread count the fitted estimator (or its calibrated wrapper's) predicts with."""
    inner = getattr(estimator, "estimator_", estimator)
    params = inner.get_params() if hasattr(inner, "get_params") else {}
    return next((params[name] for name in _THREAD_PARAMS if name in params), None)


def with_threads(estimator: Any, n_threads: int) -> Any:
    """A copy predicting with ``n_threads``; the estimator itself when it cannot be changed
    after fitting (CatBoost refuses ``set_params`` on a fitted model)."""
    clone = copy.deepcopy(estimator)
    inner = getattr(clone, "estimator_", clone)
    params = inner.get_params() if hasattr(inner, "get_params") else {}
    try:
        for name in _THREAD_PARAMS:
            if name in params:
                inner.set_params(**{name: n_threads})
    except Exception:  # pylint: disable=broad-exception-caught
        return estimator
    return clone


class LightGBMRows:
    """``booster.predict(X, num_threads=n)`` with one-row calls through the single-row C API.

    The C API's config holds a scratch buffer, so a call borrows one from a pool (a new one only
    when every config is in use): as many as calls ever ran at once, freed with this object.
    Several rows at once use ``booster.predict``.
    """

    def __init__(self, booster: Any, num_threads: int = 1) -> None:
        from lightgbm.basic import _LIB, _safe_call  # pylint: disable=import-outside-toplevel

        self._lib, self._check = _LIB, _safe_call  # _safe_call raises LightGBM's own error
        self.booster = booster
        self.num_threads = num_threads
        self.n_features = booster.num_feature()
        # Booster.predict's own default: the best iteration (0, i.e. all, without early stopping)
        self.num_iteration = booster.best_iteration
        self.n_out = booster.num_model_per_iteration()
        self._lock = threading.Lock()
        self._free: list[ctypes.c_void_p] = []
        self._configs: list[ctypes.c_void_p] = []

    def _borrow(self) -> ctypes.c_void_p:
        with self._lock:
            if self._free:
                return self._free.pop()
        config = ctypes.c_void_p()
        self._check(
            self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                self.booster._handle,  # pylint: disable=protected-access
                ctypes.c_int(0),  # C_API_PREDICT_NORMAL
                ctypes.c_int(0),  # start iteration
                ctypes.c_int(self.num_iteration),
                ctypes.c_int(1),  # C_API_DTYPE_FLOAT64
                ctypes.c_int32(self.n_features),
                ctypes.c_char_p(f"num_threads={self.num_threads}".encode()),
                ctypes.byref(config),
            )
        )
        with self._lock:
            self._configs.append(config)
        return config

    def __call__(self, X: np.ndarray) -> np.ndarray:  # pylint: disable=invalid-name
        if X.shape[0] != 1:
            return self.booster.predict(X, num_threads=self.num_threads)
        row = np.ascontiguousarray(X[0], dtype=np.float64)
        out = np.empty(self.n_out, dtype=np.float64)
        written = ctypes.c_int64()
        config = self._borrow()
        try:
            self._check(
                self._lib.LGBM_BoosterPredictForMatSingleRowFast(
                    config,
                    row.ctypes.data_as(ctypes.c_void_p),
                    ctypes.byref(written),
                    out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                )
            )
        finally:
            with self._lock:
                self._free.append(config)
        return out if self.n_out == 1 else out.reshape(1, self.n_out)

    def __del__(self) -> None:
        for config in getattr(self, "_configs", []):
            self._lib.LGBM_FastConfigFree(config)


def native_proba(model: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """The model's own booster called as its sklearn wrapper calls it, minus the wrapper's
    per-call input checks (most of a one-row prediction); None for other estimators.

    Same booster, same arguments, same outputs: parity is tested bit for bit on every row.
    """
    inner = getattr(model, "estimator_", None)
    fitted = np.asarray(getattr(inner, "classes_", []))
    if inner is None or len(fitted) != len(getattr(model, "classes_", [])):
        return None  # a class missing from training: keep the wrapper's column mapping
    module = type(inner).__module__
    binary = len(fitted) == 2
    regression = fitted.size == 0  # a regressor: one output column, the value

    def expand(p: np.ndarray) -> np.ndarray:
        if regression:
            return np.asarray(p, dtype=np.float64).reshape(-1, 1)
        return np.vstack((1.0 - p, p)).transpose() if binary else p

    if module.startswith("lightgbm") and not callable(getattr(inner, "_objective", None)):
        rows = LightGBMRows(inner.booster_, estimator_threads(model) or 1)
        return lambda X: expand(rows(X))
    if module.startswith("xgboost") and inner.get_params().get("objective") != "multi:softmax":
        booster, missing = inner.get_booster(), inner.missing
        iterations = inner._get_iteration_range(None)  # pylint: disable=protected-access
        return lambda X: expand(
            booster.inplace_predict(
                X,
                iteration_range=iterations,
                predict_type="value",
                missing=missing,
                validate_features=False,
            )
        )
    return None
