"""Promotion: the quality gate, then the challenger against the current champion, both on the
validation split (the test split is never read here)."""

from __future__ import annotations

import numpy as np
from loguru import logger
from pydantic import BaseModel, Field

from obesity_risk import registry
from obesity_risk.config import Settings
from obesity_risk.errors import ModelNotFoundError, ObesityRiskError
from obesity_risk.metrics import get_metric, score
from obesity_risk.registry.card import IntegrityError
from obesity_risk.registry.client import LoadedModel
from obesity_risk.serving.predictor import Predictor
from obesity_risk.training.evaluation import SliceMetrics, SplitMetrics, slice_metrics
from obesity_risk.training.splits import Labelled


class Decision(BaseModel):
    """Whether the challenger becomes champion, and why (figures on the validation split)."""

    promote: bool
    reason: str
    gate_failures: list[str] = Field(default_factory=list)
    incumbent_version: str | None = None
    incumbent_val_accuracy: float | None = None
    metric: str = "accuracy"  # models.metric: what the comparison was made on
    incumbent_val_score: float | None = None


def gate_failures(
    settings: Settings,
    challenger: SplitMetrics,
    slices: list[SliceMetrics],
    incumbent_slices: list[SliceMetrics] | None,
) -> list[str]:
    """Every gate rule the challenger breaks (empty: it passes)."""
    gate, metric = settings.evaluation.gate, get_metric(settings.models.metric)
    failures = []
    accuracy = challenger.accuracy
    if gate.min_accuracy is not None and accuracy is not None and accuracy < gate.min_accuracy:
        failures.append(f"validation accuracy {accuracy:.4f} < gate {gate.min_accuracy:.4f}")
    value = challenger.value(metric.name)
    if gate.min_score is not None and not metric.passes(value, gate.min_score):
        worse = "<" if metric.higher_is_better else ">"
        failures.append(f"validation {metric.name} {value:.4f} {worse} gate {gate.min_score:.4f}")
    if gate.max_slice_drop is not None and incumbent_slices:
        before = {(s.column, s.group): s for s in incumbent_slices}
        for now in slices:
            old = before.get((now.column, now.group))
            if old is None or min(now.rows, old.rows) < gate.min_slice_rows:
                continue
            if now.rmse is not None and old.rmse is not None:  # a regression: relative rise
                rise = (now.rmse - old.rmse) / old.rmse if old.rmse > 0 else 0.0
                if rise > gate.max_slice_drop:
                    failures.append(
                        f"slice {now.column}={now.group}: RMSE {now.rmse:.4g} is {rise:.1%}"
                        f" above the champion's {old.rmse:.4g} (gate {gate.max_slice_drop:.1%})"
                    )
                continue
            if now.accuracy is None or old.accuracy is None:
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
    challenger: SplitMetrics,
    slices: list[SliceMetrics],
    validation: Labelled,
    new_version: str,
    incumbent: LoadedModel | None,
) -> Decision:
    """Gate the challenger, then compare it with ``incumbent`` (scored through the one
    inference contract) on the same validation rows, on ``models.metric`` in its direction."""
    metric = get_metric(settings.models.metric)
    value = challenger.value(metric.name)
    old_accuracy = old_value = old_slices = None
    if incumbent is not None:
        try:
            scored = Predictor.configured(incumbent, settings).predict_frame(validation.X)
            predicted = scored.served
            if scored.classes:
                old_accuracy = float(np.mean(predicted == validation.y.to_numpy()))
            old_value = score(metric.name, scored.outputs, validation.y, scored.classes)
            old_slices = slice_metrics(validation.X, validation.y, predicted, settings)
        except (ValueError, KeyError, TypeError, ObesityRiskError) as exc:
            logger.warning("current champion cannot score this validation data ({})", exc)
    failures = gate_failures(settings, challenger, slices, old_slices)
    version = None if incumbent is None else incumbent.version
    name = "" if metric.name == "accuracy" else f"{metric.name} "
    if failures:
        reason = "quality gate: " + "; ".join(failures)
        promote = False
    elif old_value is None:
        reason, promote = "no comparable champion", True
    elif metric.better(value, old_value):
        reason = f"validation {name}{value:.4f} better than champion v{version} {old_value:.4f}"
        promote = True
    else:
        reason = f"validation {name}{value:.4f} not better than champion v{version} {old_value:.4f}"
        promote = False
    logger.info("promotion of v{}: {} ({})", new_version, "yes" if promote else "no", reason)
    return Decision(
        promote=promote,
        reason=reason,
        gate_failures=failures,
        incumbent_version=version,
        incumbent_val_accuracy=old_accuracy,
        metric=metric.name,
        incumbent_val_score=old_value,
    )
