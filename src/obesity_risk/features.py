"""Feature engineering as sklearn transformers, and the Pipeline builder.

Everything here is pure: transformers take a DataFrame and return one (or an array), with no
file I/O. The engineered features are declared in ``features.engineered`` and computed with the
formulas of :mod:`obesity_risk.formulas`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from loguru import logger
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from obesity_risk.formulas import OPS


class EngineeredFeatures(TransformerMixin, BaseEstimator):
    """Append the engineered columns declared in YAML to a DataFrame.

    Args:
        features: list of ``{"name", "op", "inputs": {role: column}, "params"}`` dicts,
            computed in order (a feature may use one defined before it).
    """

    def __init__(self, features: list[dict[str, Any]] | None = None) -> None:
        self.features = features

    def fit(self, X: pd.DataFrame, y: Any = None) -> EngineeredFeatures:
        """Check every input column exists; remember the input columns."""
        del y
        self._check_frame(X)
        available = set(X.columns)
        for spec in self.features or []:
            if spec["op"] not in OPS:
                raise ValueError(f"{spec['name']}: unknown op {spec['op']!r}")
            missing = sorted(set(spec["inputs"].values()) - available)
            if missing:
                raise ValueError(f"{spec['name']}: missing input column(s) {missing}")
            available.add(spec["name"])
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return a copy of ``X`` with the engineered columns appended."""
        check_is_fitted(self, "feature_names_in_")
        self._check_frame(X)
        missing = sorted(set(self.feature_names_in_) - set(X.columns))
        if missing:
            raise ValueError(f"EngineeredFeatures: missing column(s) {missing}")
        columns: dict[str, np.ndarray] = {}
        for spec in self.features or []:
            source = {
                role: columns[col] if col in columns else X[col].to_numpy()
                for role, col in spec["inputs"].items()
            }
            columns[spec["name"]] = OPS[spec["op"]].fn(source, spec.get("params") or {})
        return X.assign(**columns) if columns else X.copy()

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Input columns followed by the engineered ones."""
        del input_features
        check_is_fitted(self, "feature_names_in_")
        names = [*self.feature_names_in_, *(s["name"] for s in self.features or [])]
        return np.asarray(names, dtype=object)

    @staticmethod
    def _check_frame(X: Any) -> None:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"EngineeredFeatures expects a pandas DataFrame, got {type(X).__name__}"
            )


class CategoryGuard(TransformerMixin, BaseEstimator):
    """Pass data through unchanged; count and log categories never seen in training.

    The encoders downstream handle unseen values (one-hot: all zeros; ordinal: the declared
    order, or NaN outside it); this step makes them visible.
    """

    def __init__(self, columns: list[str] | None = None) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> CategoryGuard:
        """Remember the categories present in the training data."""
        del y
        self.seen_ = {c: sorted(map(str, X[c].dropna().unique())) for c in self.columns or []}
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def unknown_counts(self, X: pd.DataFrame) -> dict[str, int]:
        """Rows per column whose value was not seen in training (NaN not counted)."""
        check_is_fitted(self, "seen_")
        counts = {}
        for column, seen in self.seen_.items():
            values = X[column]
            n_unknown = int((~values.isin(seen) & values.notna()).sum())
            if n_unknown:
                counts[column] = n_unknown
        return counts

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Log unseen categories (a count per column) and return ``X`` as is."""
        counts = self.unknown_counts(X)
        if counts:
            logger.warning("categories unseen in training, handled by the encoders: {}", counts)
        return X

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Unchanged input names."""
        del input_features
        return self.feature_names_in_


def model_columns(schema: Any, features: Any) -> tuple[list[str], list[str], list[str]]:
    """(numeric, ordered categorical, nominal categorical) columns the model uses."""
    keep = set(features.selected) if features.selected is not None else None

    def chosen(names: list[str]) -> list[str]:
        return [n for n in names if keep is None or n in keep]

    numeric = chosen([*schema.numeric, *(f.name for f in features.engineered)])
    ordered = chosen([n for n in schema.categorical if schema.columns[n].ordered])
    nominal = chosen([n for n in schema.categorical if not schema.columns[n].ordered])
    return numeric, ordered, nominal


def build_preprocessor(schema: Any, features: Any) -> ColumnTransformer:
    """Per-type encoding/scaling; categories come from the schema, unknowns are tolerated."""
    numeric, ordered, nominal = model_columns(schema, features)
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        scaler = StandardScaler() if features.numeric_scaler == "standard" else "passthrough"
        transformers.append(("numeric", scaler, numeric))
    ordinal_cols = ordered + (nominal if features.nominal_encoder == "ordinal" else [])
    if ordinal_cols:
        transformers.append(
            (
                "ordinal",
                OrdinalEncoder(
                    categories=[schema.columns[c].categories for c in ordinal_cols],
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                ),
                ordinal_cols,
            )
        )
    if nominal and features.nominal_encoder == "onehot":
        transformers.append(
            (
                "onehot",
                OneHotEncoder(
                    categories=[schema.columns[c].categories for c in nominal],
                    handle_unknown="ignore",
                    sparse_output=False,
                ),
                nominal,
            )
        )
    if not transformers:
        raise ValueError("no model columns left: check features.selected")
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def build_pipeline(schema: Any, features: Any, estimator: BaseEstimator) -> Pipeline:
    """The unit that is tuned, logged, registered and served.

    ``guard`` (unseen-category counts) -> ``features`` (engineered columns) ->
    ``preprocess`` (ColumnTransformer) -> ``model`` (the estimator).
    """
    return Pipeline(
        [
            ("guard", CategoryGuard(columns=list(schema.categorical))),
            (
                "features",
                EngineeredFeatures([f.model_dump() for f in features.engineered]),
            ),
            ("preprocess", build_preprocessor(schema, features)),
            ("model", estimator),
        ]
    )
