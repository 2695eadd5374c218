"""``POST /feedback``: ground-truth labels for logged predictions (admin token required).

The body is validated from its bytes in the route's worker thread (up to 10,000 labels): the
event loop never parses it, and a key repeated in an object is refused.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy.exc import SQLAlchemyError

from obesity_risk.api.bodies import request_body_schema, validate_body
from obesity_risk.api.deps import AdminDep, ModelDep, RawBodyDep, StoreDep, TelemetryDep
from obesity_risk.api.schemas import ADMIN_ERRORS, BODY_ERRORS, ErrorBody
from obesity_risk.config import DataSchema
from obesity_risk.errors import DataValidationError
from obesity_risk.monitoring.feedback import FeedbackNotFoundError, GroundTruth, save_labels

MAX_LABELS = 10_000
BYTES_PER_LABEL = 4096  # body limit of the route: MAX_LABELS x this (escaped strings fit)


def feedback_model(classes: list[str], schema: DataSchema | None = None) -> type[BaseModel]:
    """The request body, its ``label`` typed by the task: one of ``classes`` (an enum in the
    OpenAPI schema, so a client and a schema-driven fuzzer know what is valid), or for a
    regression (no classes) a finite number in the target's declared range."""
    if classes:
        label: Any = Literal[tuple(classes)]  # type: ignore[valid-type]
        field = Field(description="the true class of the prediction")
    else:
        label = float
        low = None if schema is None else schema.target_min
        high = None if schema is None else schema.target_max
        field = Field(
            description="the true value of the target", allow_inf_nan=False, ge=low, le=high
        )
    truth = create_model("GroundTruth", __base__=GroundTruth, label=(label, field))
    return create_model(
        "FeedbackRequest",
        __config__=ConfigDict(extra="forbid"),
        __doc__="True classes of logged predictions, named by request id and position.",
        labels=(list[truth], Field(min_length=1, max_length=MAX_LABELS)),  # type: ignore[valid-type]
    )


class FeedbackResult(BaseModel):
    """How many labels were stored."""

    stored: int


def build_router(classes: list[str], schema: DataSchema | None = None) -> APIRouter:
    """``POST /feedback`` for a model of ``classes`` (none: a regression of ``schema``)."""
    router = APIRouter(tags=["monitoring"])
    request = feedback_model(classes, schema)

    @router.post(
        "/feedback",
        response_model=FeedbackResult,
        dependencies=[AdminDep],
        responses={
            **BODY_ERRORS,
            **ADMIN_ERRORS,
            404: {"model": ErrorBody, "description": "a label names a prediction not in the log"},
            422: {
                "model": ErrorBody,
                "description": "a label is not one of the model's classes (a regression: not a"
                " finite number in the target's range)",
            },
            503: {"model": ErrorBody, "description": "the prediction log is off or unavailable"},
        },
        openapi_extra={"requestBody": request_body_schema(request, inline=True)},
    )
    def feedback(
        raw: RawBodyDep, model: ModelDep, store: StoreDep, telemetry: TelemetryDep
    ) -> FeedbackResult:
        """Store the labels (all or none); the next performance report scores those rows."""
        body = validate_body(request, raw)
        if store is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "the prediction log is off (serving.log_predictions): there is nothing to label",
            )
        try:
            stored = save_labels(store.engine, body.labels, model.classes)
        except FeedbackNotFoundError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        except DataValidationError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        except SQLAlchemyError as exc:
            reason = str(exc).splitlines()[0][:300]
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, f"prediction store unavailable: {reason}"
            ) from exc
        telemetry.feedback.inc(stored)
        return FeedbackResult(stored=stored)

    return router
