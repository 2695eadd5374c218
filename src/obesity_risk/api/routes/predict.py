"""POST /predict and /predict/batch: one code path for one record or many.

No ``from __future__ import annotations`` here: FastAPI must see the generated record class
itself in the signatures, not a string it cannot resolve.
"""

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, create_model

from obesity_risk.api.bodies import request_body_schema, validate_body
from obesity_risk.api.deps import RawBodyDep, ServingDep
from obesity_risk.api.idempotent import REPLAYED, IdempotencyKey, idempotent, retried, store_errors
from obesity_risk.api.jsonkeys import UniqueKeysDep
from obesity_risk.api.responses import FastJSONResponse
from obesity_risk.api.schemas import (
    BODY_ERRORS,
    BatchResponse,
    ErrorBody,
    PredictionResponse,
    ValueBatchResponse,
    ValuePredictionResponse,
)
from obesity_risk.api.telemetry import Telemetry
from obesity_risk.config import Settings
from obesity_risk.monitoring.idempotency import Idempotent
from obesity_risk.serving.predictor import ExplainError, Predictions, Predictor

ERRORS: dict[int | str, dict[str, Any]] = {
    **BODY_ERRORS,
    409: {
        "model": ErrorBody,
        "description": "the Idempotency-Key was already used for a different request (another"
        " route, explain flag or records); nothing was logged",
    },
    501: {"model": ErrorBody, "description": "explanations asked of a model that has none"},
    503: {
        "model": ErrorBody,
        "description": "no model loaded, or the prediction log is unavailable or busy"
        " (Retry-After says when to retry)",
    },
}

VALIDATION_ERROR: dict[str, Any] = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}
Explain = Annotated[
    bool,
    Query(
        description="add each prediction's top input columns (TreeSHAP contributions for the"
        " predicted class; `serving.explain_top` of them)"
    ),
]


@dataclass
class _Scored:
    """One request's predictions, before logging: per record the logged label and outputs
    (a regression's: the value as exact text, and its interval) and the answered fields."""

    request_id: str
    records: list[dict[str, Any]]
    labels: list[str]
    rows: list[dict[str, float]]
    answers: list[dict[str, Any]]
    values: list[float] | None = None  # a regression: the served values


def _answers(out: Predictions, threshold: float | None) -> list[dict[str, Any]]:
    """Each record's answer fields: label and probabilities (and a binary model's threshold),
    or a regression's value and interval."""
    if out.values is None:
        classes = out.classes
        rows = [dict(zip(classes, r, strict=True)) for r in out.probabilities.tolist()]
        extra = {} if threshold is None else {"threshold": threshold}
        return [
            {"label": lab, "probabilities": p, **extra}
            for lab, p in zip(out.labels, rows, strict=True)
        ]
    if out.lower is None or out.upper is None:
        return [{"prediction": v} for v in out.values.tolist()]
    return [
        {
            "prediction": float(v),
            "interval": {"lower": float(lo), "upper": float(up), "coverage": out.coverage},
        }
        for v, lo, up in zip(out.values, out.lower, out.upper, strict=True)
    ]


def _score(
    predictor: Predictor,
    records: list[dict[str, Any]],
    telemetry: Telemetry,
    explain_top: int | None = None,
) -> _Scored:
    """Score validated records (explained when ``explain_top`` is set); count categories never
    seen in training."""
    explained = None
    if explain_top is None:
        out = predictor.predict_records(records)
    else:
        try:
            out, items = predictor.explain_records(records, explain_top)
        except ExplainError as exc:
            raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, str(exc)) from exc
        explained = [item.model_dump() for item in items]
    return _scored(predictor, records, out, telemetry, explained)


def _scored(
    predictor: Predictor,
    records: list[dict[str, Any]],
    out: Predictions,
    telemetry: Telemetry,
    explained: list[dict[str, Any]] | None = None,
) -> _Scored:
    """A request's predictions as it answers and logs them (a batched call's row, or a
    request scored alone)."""
    request_id = uuid.uuid4().hex
    if out.unknown:
        logger.warning("request {}: categories unseen in training: {}", request_id, out.unknown)
        for column, count in out.unknown.items():
            telemetry.unknown_categories.labels(column).inc(count)
    answers = _answers(out, predictor.threshold)
    if explained is not None:
        answers = [{**a, "explanation": e} for a, e in zip(answers, explained, strict=True)]
    if out.values is None:
        rows = [{c: a["probabilities"][c] for c in out.classes} for a in answers]
        return _Scored(request_id, records, out.labels, rows, answers)
    # the log keeps a regression's value as exact text (repr round-trips) and its interval
    values = [float(v) for v in out.values]
    rows = [a.get("interval", {}) for a in answers]
    rows = [{"lower": r["lower"], "upper": r["upper"]} if r else {} for r in rows]
    return _Scored(request_id, records, [repr(v) for v in values], rows, answers, values)


def _body(scored: _Scored, predictor: Predictor, settings: Settings) -> dict[str, Any]:
    """The response as plain data."""
    return {
        "request_id": scored.request_id,
        "model_name": settings.tracking.registered_model,
        "model_version": predictor.version,
        "predictions": scored.answers,
    }


def _answer(
    scored: _Scored,
    body: dict[str, Any],
    once: Idempotent | None,
    replay: bytes | None,
    telemetry: Telemetry,
) -> Response:
    """The acknowledged response, its predictions counted; a retry gets the original one."""
    if replay is not None:
        return Response(replay, media_type="application/json", headers={REPLAYED: "true"})
    if scored.values is not None:
        for value in scored.values:
            telemetry.served_values.observe(value)
    else:
        for label, count in Counter(scored.labels).items():
            telemetry.predictions.labels(label).inc(count)
    if once is not None:  # already encoded for the log
        return Response(once.response, media_type="application/json")
    return FastJSONResponse(body)


def build_router(record: type[BaseModel], max_batch: int, regression: bool = False) -> APIRouter:
    """Routes typed with the record model generated from the data schema, answering the
    configured task's response (a class and probabilities, or a value and its interval)."""
    router = APIRouter(tags=["predict"])
    single = ValuePredictionResponse if regression else PredictionResponse
    batch = ValueBatchResponse if regression else BatchResponse
    batch_model = create_model(
        "BatchRequest",
        __config__=ConfigDict(extra="forbid"),
        records=(list[record], Field(..., min_length=1, description=f"1 to {max_batch} records")),
    )

    @router.post(
        "/predict",
        response_model=single,
        responses=ERRORS,
        dependencies=[UniqueKeysDep],
    )
    async def predict(
        body: record,  # type: ignore[valid-type]
        serving: ServingDep,
        idempotency_key: IdempotencyKey = None,
        explain: Explain = False,
    ) -> Response:
        """Predict the target of one record (``?explain=true``: and why).

        On the event loop: scoring one record takes well under a millisecond, and the commit is
        awaited (the log's writer thread resolves it), so no thread hand-off is paid per request.
        """
        model, settings = serving.model, serving.settings
        records = [body.__dict__]
        print_ = retry = None
        if idempotency_key is not None:  # a keyed request: is it a retry? (one log read)
            print_, retry = await run_in_threadpool(
                retried, idempotency_key, "/predict", explain, records, serving
            )
        if retry is not None:
            return retry
        if explain or serving.batcher is None:
            top = settings.serving.explain_top if explain else None
            scored = _score(model, records, serving.telemetry, top)
        else:  # scored with the other requests waiting for the model, if any
            one = await serving.batcher.predict(model, records[0])
            scored = _scored(model, records, one, serving.telemetry)
        out = _body(scored, model, settings)
        prediction = out.pop("predictions")[0]
        answer = {**out, **prediction}
        once = replay = None
        if settings.serving.log_predictions:
            once = idempotent(idempotency_key, print_, answer)
            with store_errors(settings, serving.store) as log:
                replay = await log.write_async(
                    scored.request_id,
                    model.version,
                    scored.records,
                    scored.labels,
                    scored.rows,
                    once,
                )
        return _answer(scored, answer, once, replay, serving.telemetry)

    @router.post(
        "/predict/batch",
        response_model=batch,
        responses={
            **ERRORS,
            413: {
                "model": ErrorBody,
                "description": "more than `serving.max_batch` records, more than"
                " `serving.max_explain_batch` with `explain=true`, or a body too large",
            },
            415: ERRORS[415],
            422: VALIDATION_ERROR,  # FastAPI documents it only for the bodies it parses itself
        },
        openapi_extra={"requestBody": request_body_schema(batch_model)},
    )
    def predict_batch(
        raw: RawBodyDep,
        serving: ServingDep,
        idempotency_key: IdempotencyKey = None,
        explain: Explain = False,
    ) -> Response:
        """Predict many records (up to the configured maximum), answers in input order.

        The body is validated straight from its bytes in this worker thread: no intermediate
        Python objects, and the event loop never spends time on a 10,000-record body.
        """
        records = validate_body(batch_model, raw).records
        if len(records) > max_batch:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"{len(records)} records in one batch; the maximum is {max_batch}",
            )
        model, settings = serving.model, serving.settings
        if explain and len(records) > settings.serving.max_explain_batch:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"{len(records)} records to explain in one batch; the maximum with"
                f" explain=true is {settings.serving.max_explain_batch}",
            )
        rows = [r.__dict__ for r in records]
        print_, retry = retried(idempotency_key, "/predict/batch", explain, rows, serving)
        if retry is not None:
            return retry
        top = settings.serving.explain_top if explain else None
        scored = _score(model, rows, serving.telemetry, top)
        answer = _body(scored, model, settings)
        once = replay = None
        if settings.serving.log_predictions:
            once = idempotent(idempotency_key, print_, answer)
            with store_errors(settings, serving.store) as log:
                replay = log.write(
                    scored.request_id,
                    model.version,
                    scored.records,
                    scored.labels,
                    scored.rows,
                    once,
                )
        return _answer(scored, answer, once, replay, serving.telemetry)

    return router
