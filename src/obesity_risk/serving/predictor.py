"""The one inference contract: :class:`Predictor`.

The API, ``obesity-risk predict``, the monitoring service and the notebooks all score through
it, so they share one validation rule (the record model and the pandera schema are generated
from the same YAML schema: a category outside the schema is refused everywhere, with its row
and column named), one fast path (the compiled pipeline, bit-identical to the sklearn pipeline),
and one output shape (:class:`Predictions`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from loguru import logger
from pydantic import TypeAdapter, ValidationError

from obesity_risk.config import DataSchema, Settings
from obesity_risk.data import validate_frame, validate_rows
from obesity_risk.errors import DataValidationError, ExplainError
from obesity_risk.estimators.blend import BlendClassifier, BlendRegressor
from obesity_risk.estimators.encoded import output_columns, outputs
from obesity_risk.metrics import labels_of
from obesity_risk.records import record_model
from obesity_risk.registry.card import ModelCard
from obesity_risk.registry.client import LoadedModel, ModelLoadError
from obesity_risk.serving.compiled_blend import CompiledBlend
from obesity_risk.serving.explain import Explanation, explain_blend, explain_member, served
from obesity_risk.serving.fastpath import CompiledPipeline, UnsupportedPipelineError

_MAX_LISTED = 10


@dataclass(frozen=True)
class Predictions:
    """Labels and class probabilities (rows in input order, columns in ``classes`` order), or
    for a regression (no ``classes``) the predicted ``values`` and their interval."""

    classes: list[str]
    probabilities: np.ndarray  # (rows, classes); a regression: (rows, 0)
    labels: list[str]  # a regression: none
    unknown: dict[str, int] = field(default_factory=dict)
    values: np.ndarray | None = None  # regression: the predicted value per row
    lower: np.ndarray | None = None  # regression: the interval's bounds (None: no interval)
    upper: np.ndarray | None = None
    coverage: float | None = None

    @property
    def outputs(self) -> np.ndarray:
        """The model's outputs as metrics read them: probabilities, or one column of values."""
        if self.values is not None:
            return self.values.reshape(-1, 1)
        return self.probabilities

    @property
    def served(self) -> np.ndarray:
        """What each row is answered: its label, or its value."""
        if self.values is not None:
            return self.values
        return np.asarray(self.labels, dtype=object)

    def __len__(self) -> int:
        return len(self.probabilities) if self.values is None else len(self.values)

    def frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        """``prediction`` plus one ``proba_<class>`` column per class (a regression:
        ``prediction``, ``lower``, ``upper``)."""
        if self.values is not None:
            bounds = {"lower": self.lower, "upper": self.upper} if self.lower is not None else {}
            return pd.DataFrame({"prediction": self.values, **bounds}, index=index)
        out = pd.DataFrame(
            self.probabilities, columns=[f"proba_{c}" for c in self.classes], index=index
        )
        out.insert(0, "prediction", self.labels)
        return out


class Predictor:
    """A loaded, verified pipeline ready to score records or frames."""

    def __init__(self, model: LoadedModel, schema: DataSchema, n_threads: int = 2) -> None:
        self.model = model
        self.schema = schema
        self.classes = output_columns(model.pipeline)  # empty: a regression
        # binary: the positive class is predicted at this probability (None: the likeliest)
        self.threshold = model.card.threshold if len(self.classes) == 2 else None
        self.interval = None if self.classes else model.card.interval
        self.loaded_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.record = record_model(schema)
        self._records = TypeAdapter(list[self.record])  # type: ignore[name-defined]
        try:
            self.compiled: CompiledPipeline | CompiledBlend | None = (
                CompiledBlend(model.pipeline, n_threads)
                if isinstance(model.pipeline, (BlendClassifier, BlendRegressor))
                else CompiledPipeline(model.pipeline, n_threads)
            )
        except (UnsupportedPipelineError, AttributeError, KeyError) as exc:
            logger.warning("scoring through the sklearn pipeline (no compiled path: {})", exc)
            self.compiled = None

    @classmethod
    def configured(cls, model: LoadedModel, settings: Settings) -> Predictor:
        """A predictor with the configuration's schema and serving threads.

        Raises:
            ModelLoadError: the model answers another task or other classes than the
                configuration declares (a regression served under a classifier's schema).
        """
        predictor = cls(model, settings.data, settings.serving.model_threads)
        declared = settings.data.labels
        if set(predictor.classes) != set(declared):
            what = f"classes {predictor.classes}" if predictor.classes else "a regression"
            wanted = f"classes {declared}" if declared else "a regression (data.task)"
            raise ModelLoadError(f"{model.source}: the model predicts {what}, the config {wanted}")
        return predictor

    @classmethod
    def from_pipeline(
        cls, pipeline: Any, schema: DataSchema, n_threads: int = 2, source: str = "in memory"
    ) -> Predictor:
        """A predictor of a fitted pipeline that is not (yet) registered: a candidate in
        training, a notebook's experiment, a benchmark's reference model. Its card names no
        version."""
        family = (
            "ensemble" if isinstance(pipeline, (BlendClassifier, BlendRegressor)) else "pipeline"
        )
        card = ModelCard(name="unregistered", family=family)
        return cls(LoadedModel(pipeline, source, card), schema, n_threads)

    @property
    def card(self) -> ModelCard:
        """The model's card."""
        return self.model.card

    @property
    def version(self) -> str | None:
        """Registry version of the model (None for an unversioned export)."""
        return self.model.version

    # ------------------------------------------------------------------ validation
    def validate_records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Records as plain dicts after the record model's checks.

        Raises:
            DataValidationError: every failing row (1-based) and column, the first few listed.
        """
        try:
            return [r.__dict__ for r in self._records.validate_python(list(records))]
        except ValidationError as exc:
            problems = [
                f"row {e['loc'][0] + 1}, column {e['loc'][1]!r}: {e['msg']}"
                if len(e["loc"]) > 1
                else f"row {e['loc'][0] + 1}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
            more = len(problems) - _MAX_LISTED
            listed = "\n  ".join(problems[:_MAX_LISTED])
            raise DataValidationError(
                f"{len(problems)} invalid value(s) in {len(records)} record(s):\n  {listed}"
                + (f"\n  ... and {more} more" if more > 0 else "")
            ) from None

    def validate_rows(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[Any, str]]:
        """Per-row validation for file scoring: the valid rows (coerced like the API's) and
        ``{index: "column: reason; ..."}`` of the others. One schema pass when every row is
        valid, the usual case.

        Raises:
            DataValidationError: a frame-level failure (a missing column): nothing can score.
        """
        return validate_rows(frame, self.schema)

    def validate_frame(self, frame: pd.DataFrame, source: str = "<frame>") -> pd.DataFrame:
        """A frame after the schema's checks (numeric columns as float64).

        Raises:
            DataValidationError: the file, each failing column, and the failing rows.
        """
        return validate_frame(frame, self.schema, source=source, require_target=False)

    # ------------------------------------------------------------------ scoring
    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> Predictions:
        """Score validated records (dicts with every schema column)."""
        if self.compiled is not None:
            proba = self.compiled.predict_proba(records)
            unknown = self.compiled.unknown_counts(records)
        else:
            frame = pd.DataFrame.from_records(list(records), columns=list(self.schema.columns))
            proba = outputs(self.model.pipeline, frame)
            unknown = self._unknown(frame)
        return self._predictions(proba, unknown)

    def predict_each(self, records: Sequence[Mapping[str, Any]]) -> list[Predictions]:
        """One :class:`Predictions` per record from one model call (micro-batching): each
        row, and its count of unseen categories, exactly what the record gets alone."""
        if self.compiled is not None:
            proba = np.asarray(self.compiled.predict_proba(records), dtype=np.float64)
            unknown = [self.compiled.unknown_counts([r]) for r in records]
        else:
            frame = pd.DataFrame.from_records(list(records), columns=list(self.schema.columns))
            proba = outputs(self.model.pipeline, frame)
            unknown = [self._unknown(frame.iloc[[i]]) for i in range(len(frame))]
        return [self._predictions(proba[i : i + 1], unknown[i]) for i in range(len(records))]

    def predict_frame(self, frame: pd.DataFrame) -> Predictions:
        """Score a validated frame (the fast path reads its columns without copying rows)."""
        if frame.empty:
            return self._predictions(np.zeros((0, len(self.classes) or 1)), {})
        unknown = self._unknown(frame)
        if self.compiled is not None:
            proba = self.compiled.predict_frame(frame)
        else:
            proba = outputs(self.model.pipeline, frame)
        return self._predictions(proba, unknown)

    def score_frame(self, frame: pd.DataFrame, source: str = "<frame>") -> pd.DataFrame:
        """Validate and score a frame: ``prediction`` + probabilities, index kept."""
        valid = self.validate_frame(frame, source)
        return self.predict_frame(valid).frame(index=valid.index)

    # ------------------------------------------------------------------ explanations
    def explain_records(
        self, records: Sequence[Mapping[str, Any]], top: int = 5
    ) -> tuple[Predictions, list[Explanation]]:
        """Predictions and, per record, the top input columns behind its predicted class.

        Raises:
            ExplainError: the model has no compiled form (no explanation path).
        """
        predictions = self.predict_records(records)
        return predictions, self._explain(lambda c: c.transform(records), predictions, top)

    def explain_frame(
        self, frame: pd.DataFrame, top: int = 5
    ) -> tuple[Predictions, list[Explanation]]:
        """:meth:`explain_records` for a validated frame."""
        predictions = self.predict_frame(frame)
        return predictions, self._explain(lambda c: c.transform_frame(frame), predictions, top)

    def _explain(self, transform: Any, predictions: Predictions, top: int) -> list[Explanation]:
        if self.classes:
            label_index = np.array([self.classes.index(label) for label in predictions.labels])
        else:  # a regression explains its one output, the value
            label_index = np.zeros(len(predictions), dtype=np.intp)
        finish = None
        if isinstance(self.compiled, CompiledBlend):
            by_column, base = explain_blend(self.compiled.parts, transform, label_index)
            finish = self.compiled.finish
        elif isinstance(self.compiled, CompiledPipeline):
            by_column, base = explain_member(self.compiled, transform(self.compiled), label_index)
        else:
            raise ExplainError("this model has no compiled form: explanations are unavailable")
        names = self.classes or [self.schema.target]
        space = "probability" if self.classes else "target"
        return served(by_column, base, predictions.outputs, label_index, names, finish, top, space)

    def _unknown(self, frame: pd.DataFrame) -> dict[str, int]:
        guard = getattr(self.model.pipeline, "named_steps", {}).get("guard")
        return guard.unknown_counts(frame) if guard is not None else {}

    def _predictions(self, proba: np.ndarray, unknown: dict[str, int]) -> Predictions:
        proba = np.asarray(proba, dtype=np.float64)
        if not self.classes:
            values = proba.reshape(-1)
            if self.interval is None:
                return Predictions([], np.zeros((len(values), 0)), [], unknown, values)
            half = self.interval.half_width
            return Predictions(
                [],
                np.zeros((len(values), 0)),
                [],
                unknown,
                values,
                values - half,
                values + half,
                self.interval.coverage,
            )
        labels = labels_of(proba, self.classes, self.threshold).tolist()
        return Predictions(self.classes, proba, labels, unknown)


__all__ = ["ExplainError", "Predictions", "Predictor"]
