"""Transformers and the pipeline builder on tiny hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from obesity_risk.config import Settings
from obesity_risk.estimators.encoded import EncodedTargetClassifier
from obesity_risk.features import (
    CategoryGuard,
    EngineeredFeatures,
    build_pipeline,
    build_preprocessor,
    model_columns,
)

SPECS = [
    {"name": "BMI", "op": "bmi", "inputs": {"weight": "w", "height": "h"}, "params": {}},
    {"name": "BMI2", "op": "product", "inputs": {"a": "BMI", "b": "BMI"}, "params": {}},
]


def frame() -> pd.DataFrame:
    return pd.DataFrame({"w": [80.0, 45.0], "h": [2.0, 1.5], "other": ["x", "y"]})


def test_engineered_features_appends_in_order() -> None:
    out = EngineeredFeatures(SPECS).fit_transform(frame())
    assert list(out.columns) == ["w", "h", "other", "BMI", "BMI2"]
    np.testing.assert_allclose(out["BMI"], [20.0, 20.0])
    np.testing.assert_allclose(out["BMI2"], [400.0, 400.0])


def test_engineered_features_fit_transform_equals_fit_then_transform() -> None:
    X = frame()
    pd.testing.assert_frame_equal(
        EngineeredFeatures(SPECS).fit_transform(X), EngineeredFeatures(SPECS).fit(X).transform(X)
    )


def test_engineered_features_does_not_mutate_input() -> None:
    X = frame()
    EngineeredFeatures(SPECS).fit_transform(X)
    assert list(X.columns) == ["w", "h", "other"]


def test_engineered_features_missing_input_at_fit() -> None:
    with pytest.raises(ValueError, match=r"BMI: missing input column\(s\) \['h'\]"):
        EngineeredFeatures(SPECS).fit(frame().drop(columns="h"))


def test_engineered_features_missing_column_at_transform() -> None:
    fitted = EngineeredFeatures(SPECS).fit(frame())
    with pytest.raises(ValueError, match=r"missing column\(s\) \['w'\]"):
        fitted.transform(frame().drop(columns="w"))


def test_engineered_features_rejects_arrays() -> None:
    with pytest.raises(TypeError, match="expects a pandas DataFrame"):
        EngineeredFeatures(SPECS).fit(np.zeros((2, 2)))


def test_engineered_features_unknown_op() -> None:
    with pytest.raises(ValueError, match="unknown op 'cube'"):
        EngineeredFeatures([{"name": "c", "op": "cube", "inputs": {"x": "w"}}]).fit(frame())


def test_engineered_feature_names_out() -> None:
    fitted = EngineeredFeatures(SPECS).fit(frame())
    assert list(fitted.get_feature_names_out()) == ["w", "h", "other", "BMI", "BMI2"]


def test_category_guard_counts_unseen_and_passes_through() -> None:
    train = pd.DataFrame({"c": ["a", "b", "a"], "n": [1, 2, 3]})
    guard = CategoryGuard(["c"]).fit(train)
    new = pd.DataFrame({"c": ["a", "z", "z", None], "n": [1, 2, 3, 4]})
    assert guard.unknown_counts(new) == {"c": 2}
    assert guard.transform(new) is new
    assert guard.unknown_counts(train) == {}


def test_preprocessor_handles_unseen_categories(
    settings: Settings, tiny_records: pd.DataFrame
) -> None:
    pre = build_preprocessor(settings.data, settings.features)
    fitted = pre.fit(
        EngineeredFeatures([f.model_dump() for f in settings.features.engineered]).fit_transform(
            tiny_records
        )
    )
    odd = tiny_records.assign(MTRANS="Teleport", CALC="Always")
    odd = EngineeredFeatures([f.model_dump() for f in settings.features.engineered]).fit_transform(
        odd
    )
    out = fitted.transform(odd)
    names = list(fitted.get_feature_names_out())
    mtrans = [i for i, n in enumerate(names) if n.startswith("MTRANS_")]
    assert out[:, mtrans].sum() == 0  # unknown nominal value: all one-hot columns zero
    assert (out[:, names.index("CALC")] == 3).all()  # "Always" keeps its declared ordinal code


def test_selected_features_restrict_model_columns(settings: Settings) -> None:
    features = settings.features.model_copy(update={"selected": ["BMI", "CALC", "Gender"]})
    assert model_columns(settings.data, features) == (["BMI"], ["CALC"], ["Gender"])


def test_pipeline_fit_predict_and_determinism(
    settings: Settings, tiny_records: pd.DataFrame
) -> None:
    y = pd.Series(["Normal_Weight", "Obesity_Type_II", "Overweight_Level_I", "Insufficient_Weight"])

    def fitted() -> np.ndarray:
        est = EncodedTargetClassifier(DecisionTreeClassifier(random_state=0), settings.data.classes)
        return build_pipeline(settings.data, settings.features, est).fit(tiny_records, y)

    first, second = fitted(), fitted()
    assert list(first.classes_) == settings.data.classes
    np.testing.assert_array_equal(first.predict(tiny_records), y)
    np.testing.assert_array_equal(
        first.predict_proba(tiny_records), second.predict_proba(tiny_records)
    )
    # extra columns (an id, say) are ignored, not an error
    np.testing.assert_array_equal(
        first.predict(tiny_records.assign(id=range(4))), first.predict(tiny_records)
    )


def test_encoded_target_classifier_declared_classes_absent_from_training() -> None:
    X = np.array([[0.0], [1.0], [0.1], [0.9]])
    clf = EncodedTargetClassifier(DecisionTreeClassifier(random_state=0), ["a", "b", "c"])
    clf.fit(X, ["a", "c", "a", "c"])
    proba = clf.predict_proba(X)
    assert proba.shape == (4, 3)
    np.testing.assert_array_equal(proba[:, 1], 0.0)
    np.testing.assert_array_equal(clf.predict(X), ["a", "c", "a", "c"])


def test_encoded_target_classifier_rejects_undeclared_labels() -> None:
    clf = EncodedTargetClassifier(DecisionTreeClassifier(), ["a", "b"])
    with pytest.raises(ValueError, match=r"labels \['zzz'\] are not among the declared classes"):
        clf.fit(np.zeros((2, 1)), ["a", "zzz"])
