"""Vectorised formulas that engineered features (``features.engineered``) may use, by name.

Pure numpy, no imports from the package: the config validates op names against ``OPS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

Columns = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Op:
    """A vectorised formula: named inputs -> one float column."""

    inputs: tuple[str, ...]
    fn: Callable[[Columns, Mapping[str, Any]], np.ndarray]
    doc: str


def _num(cols: Columns, key: str) -> np.ndarray:
    return np.asarray(cols[key], dtype=float)


def _is_male(cols: Columns, params: Mapping[str, Any]) -> np.ndarray:
    if "male" not in params:
        raise ValueError("this op needs params.male: the value of the sex column meaning male")
    return np.asarray(cols["sex"]).astype(str) == str(params["male"])


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


OPS: dict[str, Op] = {
    "bmi": Op(
        ("weight", "height"),
        lambda c, p: _ratio(_num(c, "weight"), _num(c, "height") ** 2),
        "body-mass index, kg / m^2",
    ),
    "bsa": Op(
        ("weight", "height"),
        lambda c, p: np.sqrt(np.clip(_num(c, "height") * 100 * _num(c, "weight"), 0, None) / 3600),
        "body-surface area (Mosteller), m^2",
    ),
    "ibw": Op(
        ("height", "sex"),
        lambda c, p: (
            np.where(_is_male(c, p), 50.0, 45.5) + 2.3 * (_num(c, "height") * 100 / 2.54 - 60)
        ),
        "ideal body weight (Devine), kg",
    ),
    "bmr": Op(
        ("weight", "height", "age", "sex"),
        lambda c, p: (
            10 * _num(c, "weight")
            + 6.25 * _num(c, "height") * 100
            - 5 * _num(c, "age")
            + np.where(_is_male(c, p), 5.0, -161.0)
        ),
        "basal metabolic rate (Mifflin-St Jeor), kcal/day",
    ),
    "ratio": Op(("num", "den"), lambda c, p: _ratio(_num(c, "num"), _num(c, "den")), "num / den"),
    "product": Op(("a", "b"), lambda c, p: _num(c, "a") * _num(c, "b"), "a * b"),
    "difference": Op(("a", "b"), lambda c, p: _num(c, "a") - _num(c, "b"), "a - b"),
    "linear": Op(
        ("x",),
        lambda c, p: float(p.get("coef", 1.0)) * _num(c, "x") + float(p.get("intercept", 0.0)),
        "coef * x + intercept",
    ),
}
