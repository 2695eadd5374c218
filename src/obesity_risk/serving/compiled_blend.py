"""A blend (:class:`~obesity_risk.estimators.blend.BlendClassifier` or ``BlendRegressor``) over
each member's compiled pipeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from obesity_risk.estimators.blend import BlendClassifier, BlendRegressor, blend, reweight
from obesity_risk.estimators.calibration import calibrate
from obesity_risk.serving.fastpath import CompiledPipeline


class CompiledBlend:
    """A blend over each member's :class:`CompiledPipeline` (a regression's: one output
    column, no class weights or calibrator)."""

    def __init__(self, model: BlendClassifier | BlendRegressor, n_threads: int = 2) -> None:
        weights = model.weights or {}
        members = model.members or {}
        self.parts = [(CompiledPipeline(members[n], n_threads), w) for n, w in weights.items()]
        self.class_weights = getattr(model, "class_weights", None)
        self.calibrator = getattr(model, "calibrator", None)  # absent in older pickles
        self.classes = np.asarray(getattr(model, "classes_", []))

    def unknown_counts(self, records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Rows per categorical column not seen in training (the members share the data)."""
        return self.parts[0][0].unknown_counts(records)

    def predict_proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Class probabilities of records."""
        probas = [part.predict_proba(records) for part, _ in self.parts]
        return self._finish(probas)

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities of a validated frame."""
        probas = [part.predict_frame(frame) for part, _ in self.parts]
        return self._finish(probas)

    def _finish(self, probas: list[np.ndarray]) -> np.ndarray:
        return self.finish(blend(probas, [w for _, w in self.parts]))

    def finish(self, blended: np.ndarray) -> np.ndarray:
        """Blended probabilities to served ones: per-class weights, then calibration."""
        return calibrate(reweight(blended, self.class_weights), self.calibrator)
