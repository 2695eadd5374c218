"""The serving ceiling: FastAPI with the same record model and response shape, and no model.

    uvicorn --factory benchmarks.ceiling_app:create_app --port 8100

``POST /predict`` validates the body with the record model generated from ``data.yaml`` (as
the API does) and answers a constant prediction of the same shape (``request_id``,
``model_name``, ``model_version``, ``label``, ``probabilities``; a regression's ``prediction``
and ``interval``) serialized by orjson. No
model, no log, no metrics: what FastAPI + pydantic + uvicorn cost on this machine.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.responses import Response

from obesity_risk.config import load_settings
from obesity_risk.records import record_model


def create_app() -> FastAPI:
    """The ceiling app (built by uvicorn's factory call)."""
    settings = load_settings()
    record = record_model(settings.data)
    classes = settings.data.labels
    answer: dict[str, Any] = (  # the configured task's answer: a class, or a value + interval
        {"label": classes[0], "probabilities": dict.fromkeys(classes, 1.0 / len(classes))}
        if classes
        else {"prediction": 1.0, "interval": {"lower": 0.5, "upper": 1.5, "coverage": 0.9}}
    )
    app = FastAPI(title="serving ceiling (no model)")

    async def predict(body: Any) -> Response:
        del body
        return Response(
            orjson.dumps(
                {
                    "request_id": uuid.uuid4().hex,
                    "model_name": settings.tracking.registered_model,
                    "model_version": "ceiling",
                    **answer,
                }
            ),
            media_type="application/json",
        )

    predict.__annotations__["body"] = record  # the generated class, not a string
    app.post("/predict")(predict)
    return app
