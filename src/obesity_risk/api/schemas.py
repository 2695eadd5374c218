"""Request/response schemas. The record schema is generated from the YAML data schema."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from obesity_risk.records import record_model
from obesity_risk.registry.card import ModelCard
from obesity_risk.serving.explain import Explanation

__all__ = ["record_model"]


class Prediction(BaseModel):
    """One prediction of a class."""

    label: str = Field(
        description="the predicted class: the most probable one, or for a binary model the"
        " positive class when its probability reaches `threshold`"
    )
    probabilities: dict[str, float] = Field(description="probability per class")
    threshold: float | None = Field(
        None, description="binary: the positive class's decision threshold (from the card)"
    )
    explanation: Explanation | None = Field(
        None, description="with ?explain=true: the top input columns behind the label"
    )


class Interval(BaseModel):
    """A prediction interval: the true value lies in ``[lower, upper]`` for ``coverage`` of
    rows like the ones it was calibrated on (split conformal)."""

    lower: float
    upper: float
    coverage: float


class ValuePrediction(BaseModel):
    """One prediction of a number (a regression)."""

    prediction: float = Field(description="the predicted value of the target")
    interval: Interval | None = Field(
        None, description="the prediction interval (absent when the model has none)"
    )
    explanation: Explanation | None = Field(
        None, description="with ?explain=true: the top input columns behind the value"
    )


class ValuePredictionResponse(ValuePrediction):
    """Answer of ``POST /predict`` (a regression)."""

    request_id: str
    model_name: str
    model_version: str | None


class ValueBatchResponse(BaseModel):
    """Answer of ``POST /predict/batch`` (a regression): one prediction per record, in order."""

    request_id: str
    model_name: str
    model_version: str | None
    predictions: list[ValuePrediction]


class PredictionResponse(Prediction):
    """Answer of ``POST /predict``."""

    request_id: str
    model_name: str
    model_version: str | None


class BatchResponse(BaseModel):
    """Answer of ``POST /predict/batch``: one prediction per record, in order."""

    request_id: str
    model_name: str
    model_version: str | None
    predictions: list[Prediction]


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether a model is loaded, and if not, why."""

    ready: bool
    model_version: str | None = None
    source: str | None = None
    reason: str | None = None


class ModelInfo(BaseModel):
    """What is being served: the model card, where it was loaded from, and when."""

    card: ModelCard
    source: str
    loaded_at: str


class VersionInfo(BaseModel):
    """Package and model versions."""

    package_version: str
    model_version: str | None


class ReloadResult(BaseModel):
    """Outcome of ``POST /model/reload``."""

    reloaded: bool
    model_version: str | None
    previous_version: str | None
    source: str | None


class ErrorBody(BaseModel):
    """Error payload (FastAPI's ``detail`` convention)."""

    detail: str | list[dict[str, Any]]


BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the body is not decodable JSON"},
    408: {"model": ErrorBody, "description": "the body not received within the body timeout"},
    413: {"model": ErrorBody, "description": "the body is over the size limit"},
    415: {"model": ErrorBody, "description": "the body is not declared as application/json"},
}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
    403: {"model": ErrorBody, "description": "control routes disabled (no admin token set)"},
}
