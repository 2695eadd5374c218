"""A pandas-free view of a fitted pipeline for serving small batches of records.

``CompiledPipeline`` reads the fitted parameters of each step once (engineered-feature specs,
scaler means/scales, encoder category tables, the fitted estimator) and then turns records
(dicts) into the exact float64 matrix the ``ColumnTransformer`` would produce, without building
DataFrames. The estimator is the pipeline's own fitted object, so probabilities are the
pipeline's; ``tests/model/test_fastpath.py`` checks equality on the whole UCI file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_regressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

from obesity_risk.formulas import OPS
from obesity_risk.serving.native import estimator_threads, native_proba, with_threads

SMALL_BATCH = 256  # below this many rows the single-threaded estimator copy is used


class UnsupportedPipelineError(TypeError):
    """The pipeline contains a step the compiled path does not know; use the pipeline."""


def needed_features(specs: list[dict[str, Any]], used: set[str]) -> list[dict[str, Any]]:
    """The engineered features the model's columns need, directly or through another feature
    (in their order). The pipeline computes them all; the others never reach the model."""
    needed, kept = set(used), []
    for spec in reversed(specs):
        if spec["name"] in needed:
            kept.append(spec)
            needed |= set(spec["inputs"].values())
    return kept[::-1]


class CompiledPipeline:
    """Equivalent of ``pipeline.predict_proba`` on a list of record dicts."""

    def __init__(self, pipeline: Pipeline, n_threads: int = 2) -> None:
        steps = dict(pipeline.steps)
        try:
            guard, features, preprocess, model = (
                steps["guard"],
                steps["features"],
                steps["preprocess"],
                steps["model"],
            )
        except KeyError as exc:
            raise UnsupportedPipelineError(f"pipeline has no step {exc}") from None
        self.seen: dict[str, set[str]] = {c: set(v) for c, v in guard.seen_.items()}
        self.plan: list[tuple[str, list[str], Any]] = []
        for name, transformer, columns in preprocess.transformers_:
            if name == "remainder" or transformer == "drop":
                continue
            self.plan.append(self._compile_step(transformer, list(columns)))
        self.engineered = needed_features(
            features.features or [], {c for _, cs, _ in self.plan for c in cs}
        )
        self.engineered_names = {f["name"] for f in self.engineered}
        self.n_outputs = sum(
            len(cols) if kind != "onehot" else sum(len(t) for t in table)
            for kind, cols, table in self.plan
        )
        self.regression = is_regressor(model)  # outputs: one column, the value
        self.classes = np.asarray(getattr(model, "classes_", []))
        self.single = with_threads(model, 1)
        self.multi = (
            model if estimator_threads(model) == n_threads else with_threads(model, n_threads)
        )
        self._native_single = native_proba(self.single)
        self.cache: dict[str, Any] = {}  # built on first use by optional paths (explanations)
        self._row_plan = self._compile_row()
        self.input_columns = sorted(
            {c for _, cols, _ in self.plan for c in cols} - self.engineered_names
            | {c for f in self.engineered for c in f["inputs"].values()} - self.engineered_names
        )

    @staticmethod
    def _compile_step(transformer: Any, columns: list[str]) -> tuple[str, list[str], Any]:
        identity = isinstance(transformer, FunctionTransformer) and transformer.func is None
        if identity or (isinstance(transformer, str) and transformer == "passthrough"):
            return "numeric", columns, (np.zeros(len(columns)), np.ones(len(columns)))
        if isinstance(transformer, StandardScaler):
            mean = transformer.mean_ if transformer.with_mean else np.zeros(len(columns))
            scale = transformer.scale_ if transformer.with_std else np.ones(len(columns))
            return "numeric", columns, (np.asarray(mean, float), np.asarray(scale, float))
        if isinstance(transformer, OrdinalEncoder):
            if transformer.handle_unknown != "use_encoded_value":
                raise UnsupportedPipelineError(
                    "OrdinalEncoder must use handle_unknown='use_encoded_value'"
                )
            tables = [
                {str(v): float(i) for i, v in enumerate(cats)} for cats in transformer.categories_
            ]
            return "ordinal", columns, (tables, float(transformer.unknown_value))
        if isinstance(transformer, OneHotEncoder):
            if transformer.drop is not None or transformer.handle_unknown != "ignore":
                raise UnsupportedPipelineError(
                    "OneHotEncoder must use drop=None, handle_unknown='ignore'"
                )
            return "onehot", columns, [list(map(str, cats)) for cats in transformer.categories_]
        raise UnsupportedPipelineError(f"no compiled form for {type(transformer).__name__}")

    def unknown_counts(self, records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Rows per categorical column whose value was not seen in training."""
        counts: dict[str, int] = {}
        for column, seen in self.seen.items():
            n_unknown = sum(
                1 for r in records if r.get(column) is not None and r[column] not in seen
            )
            if n_unknown:
                counts[column] = n_unknown
        return counts

    def transform(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The ColumnTransformer's output for ``records``, as float64 (one record: the
        one-row path, no per-column arrays)."""
        if len(records) == 1:
            return self.transform_one(records[0])
        return self._transform(
            len(records), lambda name: np.array([r[name] for r in records], dtype=object)
        )

    def _compile_row(self) -> list[tuple[str, int, list[str], Any]]:
        """The one-row plan, built once: each step's columns with its output offset, numeric
        means and scales as arrays, one-hot categories as absolute output positions."""
        plan, at = [], 0
        for kind, cols, table in self.plan:
            if kind == "onehot":
                positions = []
                for cats in table:
                    positions.append({c: at + i for i, c in enumerate(cats)})
                    at += len(cats)
                plan.append((kind, 0, cols, positions))
            else:
                plan.append((kind, at, cols, table))
                at += len(cols)
        return plan

    def transform_one(self, record: Mapping[str, Any]) -> np.ndarray:
        """One record's row (shape (1, F)), the same float64 values as :meth:`_transform`
        computes for it (the same operations, element for element) at a fraction of the cost:
        engineered features on one-element arrays, then plain lookups into the row."""
        values: Mapping[str, Any] = record
        if self.engineered:
            values = dict(record)
            for spec in self.engineered:
                source = {
                    role: np.array([values[col]], dtype=object)
                    for role, col in spec["inputs"].items()
                }
                values[spec["name"]] = OPS[spec["op"]].fn(source, spec.get("params") or {})[0]
        out = np.zeros((1, self.n_outputs), dtype=np.float64)
        row = out[0]
        for kind, at, cols, table in self._row_plan:
            if kind == "numeric":
                mean, scale = table
                block = np.array([values[c] for c in cols], dtype=object).astype(np.float64)
                row[at : at + len(cols)] = (block - mean) / scale
            elif kind == "ordinal":
                tables, unknown = table
                for j, col in enumerate(cols):
                    row[at + j] = tables[j].get(values[col], unknown)
            else:
                for col, positions in zip(cols, table, strict=True):
                    position = positions.get(values[col])
                    if position is not None:  # an unknown category: all zeros
                        row[position] = 1.0
        return out

    def transform_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """The ColumnTransformer's output for a validated frame (its columns as arrays)."""
        return self._transform(len(frame), lambda name: frame[name].to_numpy())

    def _transform(self, n: int, read: Callable[[str], np.ndarray]) -> np.ndarray:
        columns: dict[str, np.ndarray] = {}

        def column(name: str) -> np.ndarray:
            if name not in columns:
                columns[name] = read(name)
            return columns[name]

        for spec in self.engineered:
            source = {role: column(col) for role, col in spec["inputs"].items()}
            columns[spec["name"]] = OPS[spec["op"]].fn(source, spec.get("params") or {})
        out = np.empty((n, self.n_outputs), dtype=np.float64)
        at = 0
        for kind, cols, table in self.plan:
            if kind == "numeric":
                mean, scale = table
                block = np.column_stack([np.asarray(column(c), dtype=np.float64) for c in cols])
                out[:, at : at + len(cols)] = (block - mean) / scale
                at += len(cols)
            elif kind == "ordinal":
                tables, unknown = table
                for j, col in enumerate(cols):
                    out[:, at + j] = [tables[j].get(v, unknown) for v in column(col)]
                at += len(cols)
            else:
                for j, col in enumerate(cols):
                    cats = table[j]
                    block = out[:, at : at + len(cats)]
                    block[:] = 0.0
                    index = {c: i for i, c in enumerate(cats)}
                    codes = np.fromiter((index.get(v, -1) for v in column(col)), np.intp, n)
                    rows = np.flatnonzero(codes >= 0)  # unknown categories: all zeros
                    block[rows, codes[rows]] = 1.0
                    at += len(cats)
        return out

    def predict_proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Class probabilities, columns in ``classes`` order."""
        return self.predict_matrix(self.transform(records))

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities of a validated frame."""
        return self.predict_matrix(self.transform_frame(frame))

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Class probabilities (a regression: one column of values) of prepared rows (the
        one-thread estimator copy for small batches)."""
        if len(matrix) < SMALL_BATCH and self._native_single is not None:
            return self._native_single(matrix)
        estimator = self.multi if len(matrix) >= SMALL_BATCH else self.single
        if self.regression:
            return np.asarray(estimator.predict(matrix), dtype=np.float64).reshape(-1, 1)
        return estimator.predict_proba(matrix)
