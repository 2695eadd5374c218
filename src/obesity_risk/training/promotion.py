"""Promotion: the quality gate, then the challenger against the current champion, both on the
validation split (the test split is never read here)."""

from __future__ import annotations

import numpy as np
from loguru import logger
from pydantic import BaseModel, Field

from obesity_risk import registry
from obesity_risk.config import Settings
from obesity_risk.errors import ModelNotFoundError, ObesityRiskError
from obesity_risk.registry.card import IntegrityError
from obesity_risk.registry.client import LoadedModel
from obesity_risk.serving.predictor import Predictor
from obesity_risk.training.evaluation import SliceMetrics, slice_metrics
from obesity_risk.training.splits import Labelled


class Decision(BaseModel):
    """Whether the challenger becomes champion, and why."""

    promote: bool
    reason: str
    gate_failures: list[str] = Field(default_factory=list)
    incumbent_version: str | None = None
    incumbent_val_accuracy: float | None = None


def gate_failures(
    settings: Settings,
    accuracy: float,
    slices: list[SliceMetrics],
    incumbent_slices: list[SliceMetrics] | None,
) -> list[str]:
    """Every gate rule the challenger breaks (empty: it passes)."""
    gate = settings.evaluation.gate
    failures = []
    if gate.min_accuracy is not None and accuracy < gate.min_accuracy:
        failures.append(f"validation accuracy {accuracy:.4f} < gate {gate.min_accuracy:.4f}")
    if gate.max_slice_drop is not None and incumbent_slices:
        before = {(s.column, s.group): s for s in incumbent_slices}
        for now in slices:
            old = before.get((now.column, now.group))
            if old is None or min(now.rows, old.rows) < gate.min_slice_rows:
                continue
            drop = old.accuracy - now.accuracy
            if drop > gate.max_slice_drop:
                failures.append(
                    f"slice {now.column}={now.group}: accuracy {now.accuracy:.4f} is"
                    f" {drop:.4f} below the champion's {old.accuracy:.4f}"
                    f" (gate {gate.max_slice_drop:.4f})"
                )
    return failures


def load_incumbent(settings: Settings, new_version: str) -> LoadedModel | None:
    """The current champion to compare with, or None (none yet, or it cannot be loaded: then
    the challenger may replace it, and the reason is logged)."""
    try:
        return registry.Registry(settings).load()
    except ModelNotFoundError:
        return None
    except (IntegrityError, registry.ModelLoadError, registry.ArtifactStoreError) as exc:
        logger.warning(
            "current champion cannot be loaded ({}); v{} may replace it", exc, new_version
        )
        return None


def decide(
    settings: Settings,
    accuracy: float,
    slices: list[SliceMetrics],
    validation: Labelled,
    new_version: str,
    incumbent: LoadedModel | None,
) -> Decision:
    """Gate the challenger, then compare it with ``incumbent`` (scored through the one
    inference contract) on the same validation rows."""
    old_accuracy = old_slices = None
    if incumbent is not None:
        try:
            predicted = np.asarray(
                Predictor.configured(incumbent, settings).predict_frame(validation.X).labels,
                dtype=object,
            )
            old_accuracy = float(np.mean(predicted == validation.y.to_numpy()))
            old_slices = slice_metrics(validation.X, validation.y, predicted, settings)
        except (ValueError, KeyError, TypeError, ObesityRiskError) as exc:
            logger.warning("current champion cannot score this validation data ({})", exc)
    failures = gate_failures(settings, accuracy, slices, old_slices)
    version = None if incumbent is None else incumbent.version
    if failures:
        reason = "quality gate: " + "; ".join(failures)
        promote = False
    elif old_accuracy is None:
        reason, promote = "no comparable champion", True
    elif accuracy > old_accuracy:
        reason = f"validation {accuracy:.4f} > champion v{version} {old_accuracy:.4f}"
        promote = True
    else:
        reason = f"validation {accuracy:.4f} <= champion v{version} {old_accuracy:.4f}"
        promote = False
    logger.info("promotion of v{}: {} ({})", new_version, "yes" if promote else "no", reason)
    return Decision(
        promote=promote,
        reason=reason,
        gate_failures=failures,
        incumbent_version=version,
        incumbent_val_accuracy=old_accuracy,
    )
