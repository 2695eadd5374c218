"""POST /predict and /predict/batch: one code path for one record or many.

No ``from __future__ import annotations`` here: FastAPI must see the generated record class
itself in the signatures, not a string it cannot resolve.
"""

import contextlib
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, create_model

from obesity_risk.api.bodies import request_body_schema, validate_body
from obesity_risk.api.deps import RawBodyDep, ServingDep
from obesity_risk.api.jsonkeys import UniqueKeysDep
from obesity_risk.api.responses import FastJSONResponse
from obesity_risk.api.schemas import BODY_ERRORS, BatchResponse, ErrorBody, PredictionResponse
from obesity_risk.api.telemetry import Telemetry
from obesity_risk.config import Settings
from obesity_risk.errors import StoreError
from obesity_risk.monitoring.idempotency import IdempotencyConflictError, Idempotent, fingerprint
from obesity_risk.monitoring.store import PredictionStore, StoreBusyError
from obesity_risk.serving.predictor import ExplainError, Predictor

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
REPLAYED = "Idempotent-Replayed"  # response header of a retry answered with the original response

Explain = Annotated[
    bool,
    Query(
        description="add each prediction's top input columns (TreeSHAP contributions for the"
        " predicted class; `serving.explain_top` of them)"
    ),
]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="a retry with the same key and the same request (route, `explain`,"
        " records) is logged once and answered with the original response (same request id"
        f" and predictions; header `{REPLAYED}: true`); the same key with a different request"
        " is refused with 409. Keys are kept as long as the logged predictions; ignored when"
        " predictions are not logged",
    ),
]


@dataclass
class _Scored:
    """One request's predictions, before logging."""

    request_id: str
    records: list[dict[str, Any]]
    labels: list[str]
    rows: list[dict[str, float]]
    explanations: list[dict[str, Any]] | None = None


def _score(
    predictor: Predictor,
    records: list[dict[str, Any]],
    telemetry: Telemetry,
    explain_top: int | None = None,
) -> _Scored:
    """Score validated records (explained when ``explain_top`` is set); count categories never
    seen in training."""
    request_id = uuid.uuid4().hex
    explained = None
    if explain_top is None:
        out = predictor.predict_records(records)
    else:
        try:
            out, items = predictor.explain_records(records, explain_top)
        except ExplainError as exc:
            raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, str(exc)) from exc
        explained = [item.model_dump() for item in items]
    classes = out.classes
    rows = [dict(zip(classes, map(float, row), strict=True)) for row in out.probabilities.tolist()]
    if out.unknown:
        logger.warning("request {}: categories unseen in training: {}", request_id, out.unknown)
        for column, count in out.unknown.items():
            telemetry.unknown_categories.labels(column).inc(count)
    return _Scored(request_id, records, out.labels, rows, explained)


@contextlib.contextmanager
def _store_errors(settings: Settings, store: PredictionStore | None) -> Iterator[PredictionStore]:
    """The store to log into; its failures as 503 (with Retry-After when it is only busy)."""
    if store is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "prediction log unavailable")
    try:
        yield store
    except IdempotencyConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except StoreBusyError as exc:
        retry = str(settings.serving.store.retry_after_s)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": retry}
        ) from exc
    except StoreError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc


def _body(scored: _Scored, predictor: Predictor, settings: Settings) -> dict[str, Any]:
    """The response as plain data."""
    return {
        "request_id": scored.request_id,
        "model_name": settings.tracking.registered_model,
        "model_version": predictor.version,
        "predictions": [
            {"label": lab, "probabilities": p}
            if scored.explanations is None
            else {"label": lab, "probabilities": p, "explanation": scored.explanations[i]}
            for i, (lab, p) in enumerate(zip(scored.labels, scored.rows, strict=True))
        ],
    }


def _idempotent(
    key: str | None, route: str, explain: bool, scored: _Scored, body: dict[str, Any]
) -> Idempotent | None:
    """What the log stores with a keyed request (None without a key)."""
    if key is None:
        return None
    return Idempotent(key, fingerprint(route, explain, scored.records), orjson.dumps(body))


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
    for label, count in Counter(scored.labels).items():
        telemetry.predictions.labels(label).inc(count)
    if once is not None:  # already encoded for the log
        return Response(once.response, media_type="application/json")
    return FastJSONResponse(body)


def build_router(record: type[BaseModel], max_batch: int) -> APIRouter:
    """Routes typed with the record model generated from the data schema."""
    router = APIRouter(tags=["predict"])
    batch_model = create_model(
        "BatchRequest",
        __config__=ConfigDict(extra="forbid"),
        records=(list[record], Field(..., min_length=1, description=f"1 to {max_batch} records")),
    )

    @router.post(
        "/predict",
        response_model=PredictionResponse,
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
        top = settings.serving.explain_top if explain else None
        scored = _score(model, [body.__dict__], serving.telemetry, top)
        out = _body(scored, model, settings)
        prediction = out.pop("predictions")[0]
        answer = {**out, **prediction}
        once = replay = None
        if settings.serving.log_predictions:
            once = _idempotent(idempotency_key, "/predict", explain, scored, answer)
            with _store_errors(settings, serving.store) as log:
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
        response_model=BatchResponse,
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
        top = settings.serving.explain_top if explain else None
        scored = _score(model, [r.__dict__ for r in records], serving.telemetry, top)
        answer = _body(scored, model, settings)
        once = replay = None
        if settings.serving.log_predictions:
            once = _idempotent(idempotency_key, "/predict/batch", explain, scored, answer)
            with _store_errors(settings, serving.store) as log:
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
