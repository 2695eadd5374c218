"""Each formula on hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from obesity_risk.formulas import OPS


def run(op: str, params: dict | None = None, **cols: list) -> np.ndarray:
    return OPS[op].fn({k: np.asarray(v) for k, v in cols.items()}, params or {})


def test_bmi() -> None:
    np.testing.assert_allclose(run("bmi", weight=[80.0, 50.0], height=[2.0, 1.0]), [20.0, 50.0])


def test_bmi_zero_height_is_nan_not_inf() -> None:
    assert np.isnan(run("bmi", weight=[80.0], height=[0.0]))[0]


def test_bsa_mosteller() -> None:
    # sqrt(180 cm * 80 kg / 3600) = 2.0
    np.testing.assert_allclose(run("bsa", weight=[80.0], height=[1.8]), [2.0])


def test_ibw_devine_by_sex() -> None:
    out = run("ibw", {"male": "Male"}, height=[1.524, 1.524], sex=["Male", "Female"])
    np.testing.assert_allclose(out, [50.0, 45.5])  # 60 inches: the base value


def test_bmr_mifflin() -> None:
    out = run("bmr", {"male": "M"}, weight=[70.0], height=[1.75], age=[30.0], sex=["M"])
    np.testing.assert_allclose(out, [10 * 70 + 6.25 * 175 - 5 * 30 + 5])


def test_sex_ops_need_the_male_value() -> None:
    with pytest.raises(ValueError, match=r"params\.male"):
        run("ibw", height=[1.7], sex=["Male"])


@pytest.mark.parametrize(
    ("op", "cols", "params", "expected"),
    [
        ("ratio", {"num": [6.0, 1.0], "den": [3.0, 0.0]}, {}, [2.0, np.nan]),
        ("product", {"a": [2.0], "b": [4.0]}, {}, [8.0]),
        ("difference", {"a": [2.0], "b": [4.0]}, {}, [-2.0]),
        ("linear", {"x": [0.0, 3.0]}, {"coef": 0.175, "intercept": 1.2}, [1.2, 1.725]),
    ],
)
def test_generic_ops(op: str, cols: dict, params: dict, expected: list) -> None:
    np.testing.assert_allclose(run(op, params, **cols), expected)
