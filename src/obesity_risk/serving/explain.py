"""Per-prediction explanations: TreeSHAP contributions mapped back to the input columns.

- LightGBM, XGBoost and CatBoost use their own exact TreeSHAP (``pred_contrib`` /
  ``pred_contribs`` / ``ShapValues``), in the model's raw score space (the log-odds fed to
  the softmax): base value + contributions = the raw score of the class.
- sklearn trees (DecisionTree, RandomForest) use ``shap.TreeExplainer``, in probability space.
- A regressor has one output, the value: its contributions are in the target's units
  (``space: "target"``) and need no rescaling; a blend weights them like its values.
- Every explanation is of the **served** probability of the predicted class. A booster's
  contributions are rescaled linearly from raw-score change to probability change; a blend
  weights its members' probability contributions like the blend. Whatever maps the model's
  probabilities to the served ones afterwards (a blend's per-class weights, a calibrator) is
  applied to the base value, and the contributions are rescaled by the same linear rule, so
  ``base_value + sum(contributions) + other == value == the served probability``.

One-hot columns are summed back into their input column; engineered features (BMI...) are
reported as themselves. ``other`` is the sum of the contributions outside the top ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel

from obesity_risk.errors import ExplainError
from obesity_risk.serving.fastpath import CompiledPipeline


class Explanation(BaseModel):
    """Why one record got its predicted class: ``base_value + contributions + other = value``,
    the served probability of ``label`` (a regression: the served value of the target
    ``label``, in its units)."""

    label: str
    space: str = "probability"
    base_value: float
    value: float
    contributions: dict[str, float]  # the top input columns, largest |contribution| first
    other: float = 0.0


def source_columns(compiled: CompiledPipeline) -> list[str]:
    """The input (or engineered) column behind every column of the model's matrix."""
    names: list[str] = []
    for kind, cols, table in compiled.plan:
        if kind == "onehot":
            names += [col for col, cats in zip(cols, table, strict=True) for _ in cats]
        else:
            names += list(cols)
    return names


def _inner(compiled: CompiledPipeline) -> Any:
    wrapper = compiled.single
    inner = getattr(wrapper, "estimator_", wrapper)
    fitted = getattr(inner, "classes_", None)
    if fitted is not None and len(fitted) != len(getattr(wrapper, "classes_", [])):
        raise ExplainError("a class is missing from the training labels: no explanation")
    return inner


def _per_class(values: np.ndarray, n: int, k: int, f: int) -> np.ndarray:
    """(n, K, F+1) from a library's layout; binary models give one score, for class 1."""
    if k == 2 and values.shape == (n, f + 1):
        one = values.reshape(n, 1, f + 1)
        return np.concatenate([-one, one], axis=1)
    return values.reshape(n, k, f + 1)


def raw_contributions(compiled: CompiledPipeline, matrix: np.ndarray) -> tuple[np.ndarray, str]:
    """(n, K, F+1) contributions with the base value last, and their space (a regression:
    K = 1, in the target's units)."""
    inner = _inner(compiled)
    n, f = len(matrix), matrix.shape[1]
    k = len(compiled.classes) or 1
    raw = "target" if compiled.regression else "raw score (log-odds)"
    module = type(inner).__module__
    if module.startswith("lightgbm"):
        values = inner.booster_.predict(matrix, pred_contrib=True, num_threads=1)
        return _per_class(np.asarray(values), n, k, f), raw
    if module.startswith("xgboost"):
        import xgboost

        dmatrix = xgboost.DMatrix(matrix, missing=inner.missing)
        values = inner.get_booster().predict(dmatrix, pred_contribs=True)
        return _per_class(np.asarray(values), n, k, f), raw
    if module.startswith("catboost"):
        import catboost

        values = inner.get_feature_importance(catboost.Pool(matrix), type="ShapValues")
        return _per_class(np.asarray(values), n, k, f), raw
    import shap  # sklearn trees only; a heavy import (numba)

    explainer = compiled.cache.get("tree_explainer")
    if explainer is None:  # building it walks every tree: once per loaded model
        try:
            explainer = compiled.cache["tree_explainer"] = shap.TreeExplainer(inner)
        except Exception as exc:  # shap's own error for a model that is not a tree model
            raise ExplainError(f"no TreeSHAP for {type(inner).__name__}: {exc}") from exc
    values = np.asarray(explainer.shap_values(matrix, check_additivity=False))  # (n, F, K)
    if values.ndim == 2:  # a regressor: (n, F)
        values = values[:, :, None]
    base = np.broadcast_to(np.asarray(explainer.expected_value, dtype=float).reshape(-1), (n, k))
    space = "target" if compiled.regression else "probability"
    return np.concatenate([values.transpose(0, 2, 1), base[:, :, None]], axis=2), space


def _softmax(raw: np.ndarray) -> np.ndarray:
    """Class probabilities from raw scores; two classes are a binary model's ``[-s, s]``
    layout (see :func:`_per_class`), whose probability is the sigmoid of ``s``."""
    if raw.shape[-1] == 2:
        p1 = 1.0 / (1.0 + np.exp(-raw[..., 1]))
        return np.stack([1.0 - p1, p1], axis=-1)
    shifted = np.exp(raw - raw.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def to_probability(contrib: np.ndarray, space: str) -> np.ndarray:
    """Contributions rescaled so base + sum = probability, per class (linear rescaling of the
    raw-score change between the base value and the score); a regression's are unchanged."""
    if space in ("probability", "target"):
        return contrib
    base_raw = contrib[:, :, -1]
    raw = contrib.sum(axis=2)
    p, p0 = _softmax(raw), _softmax(base_raw)
    delta = raw - base_raw
    scale = np.divide(p - p0, delta, out=np.zeros_like(delta), where=np.abs(delta) > 1e-12)
    out = contrib[:, :, :-1] * scale[:, :, None]
    return np.concatenate([out, p0[:, :, None]], axis=2)


def grouped(
    contrib: np.ndarray, sources: list[str], label_index: np.ndarray
) -> tuple[list[dict[str, float]], np.ndarray]:
    """Per row: {input column: summed contribution} for the row's class, and the base values
    of every class (n, K)."""
    rows = np.arange(len(contrib))
    chosen = contrib[rows, label_index]  # (n, F+1)
    names = sorted(set(sources), key=sources.index)
    index = {name: i for i, name in enumerate(names)}
    summed = np.zeros((len(contrib), len(names)))
    np.add.at(summed.T, [index[s] for s in sources], chosen[:, :-1].T)
    return [dict(zip(names, row, strict=True)) for row in summed], contrib[:, :, -1]


def served(
    by_column: list[dict[str, float]],
    base: np.ndarray,
    probabilities: np.ndarray,
    index: np.ndarray,
    classes: list[str],
    finish: Any,
    top: int,
    space: str = "probability",
) -> list[Explanation]:
    """Explanations of the served probabilities: ``base`` (n, K) and ``by_column`` explain the
    model's probabilities before ``finish`` (per-class weights, calibration; None: nothing);
    the base value goes through ``finish`` and the contributions are rescaled linearly onto the
    change from it to the served value. ``index``: each row's served label (a column of
    ``classes``). The ``top`` columns per row, largest |contribution| first; the rest is
    ``other``."""
    rows = np.arange(len(base))
    value = probabilities[rows, index]
    start = base if finish is None else finish(base)
    base_value = start[rows, index]
    before = base[rows, index] + np.array([sum(row.values()) for row in by_column])
    moved = before - base[rows, index]
    scale = np.divide(
        value - base_value, moved, out=np.zeros_like(moved), where=np.abs(moved) > 1e-12
    )
    base_value = np.where(np.abs(moved) > 1e-12, base_value, value)  # nothing to attribute
    out = []
    for i, row in enumerate(by_column):
        ranked = sorted(((k, v * scale[i]) for k, v in row.items()), key=lambda kv: -abs(kv[1]))
        kept = {k: float(v) for k, v in ranked[:top]}
        out.append(
            Explanation(
                label=classes[index[i]],
                space=space,
                base_value=float(base_value[i]),
                value=float(value[i]),
                contributions=kept,
                other=float(value[i] - base_value[i] - sum(kept.values())),
            )
        )
    return out


def explain_member(
    compiled: CompiledPipeline, matrix: np.ndarray, label_index: np.ndarray
) -> tuple[list[dict[str, float]], np.ndarray]:
    """One pipeline's probability contributions per input column for each row's class, and
    the base probabilities of every class (n, K)."""
    contrib, space = raw_contributions(compiled, matrix)
    return grouped(to_probability(contrib, space), source_columns(compiled), label_index)


def explain_blend(
    parts: list[tuple[CompiledPipeline, float]],
    transform: Any,
    label_index: np.ndarray,
) -> tuple[list[dict[str, float]], np.ndarray]:
    """A blend's contributions: each member's, in probability space, weighted like the blend
    (before its per-class weights and calibration); base probabilities (n, K).

    ``transform(compiled)`` gives a member's matrix for the rows being explained."""
    total: list[dict[str, float]] = [{} for _ in label_index]
    base = np.zeros((len(label_index), len(parts[0][0].classes) or 1))
    for compiled, weight in parts:
        by_column, member_base = explain_member(compiled, transform(compiled), label_index)
        base += weight * member_base
        for acc, row in zip(total, by_column, strict=True):
            for name, value in row.items():
                acc[name] = acc.get(name, 0.0) + weight * value
    return total, base


def mean_abs_contributions(items: list[Explanation]) -> dict[str, float]:
    """Global importance: mean |contribution| per input column over explained rows (each row's
    contributions for its own predicted class), largest first."""
    totals: dict[str, float] = {}
    for item in items:
        for name, value in item.contributions.items():
            totals[name] = totals.get(name, 0.0) + abs(value)
    n = max(len(items), 1)
    return dict(sorted(((k, v / n) for k, v in totals.items()), key=lambda kv: -kv[1]))
