"""Injected dependencies: routes ask for what they need, the app state provides it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from obesity_risk.api.model import ModelHolder, ServedModel
from obesity_risk.api.telemetry import Telemetry
from obesity_risk.config import Settings
from obesity_risk.monitoring.store import PredictionStore


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


def get_holder(request: Request) -> ModelHolder:
    """The model holder (loaded or not)."""
    return request.app.state.holder


def get_model(holder: Annotated[ModelHolder, Depends(get_holder)]) -> ServedModel:
    """The current model, or 503 with the reason there is none."""
    model = holder.current
    if model is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"model not loaded: {holder.reason}"
        )
    return model


BYTES_PER_RECORD = 4096  # a JSON record of the schema is ~400 bytes; generous headroom


async def get_raw_body(request: Request) -> bytes:
    """The request body as received (for routes that validate it from JSON themselves).

    Bounded by ``serving.max_batch`` records: a larger body is refused (413) before it is
    read whole, declared (Content-Length) or streamed (chunked).
    """
    max_batch = get_settings(request).serving.max_batch
    limit = max_batch * BYTES_PER_RECORD
    too_large = HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"request body over {limit} bytes (the maximum batch is {max_batch} records)",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def get_store(request: Request) -> PredictionStore | None:
    """The prediction log (None when disabled)."""
    return request.app.state.store


def get_telemetry(request: Request) -> Telemetry:
    """Prometheus metrics of this app."""
    return request.app.state.telemetry


SettingsDep = Annotated[Settings, Depends(get_settings)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ModelDep = Annotated[ServedModel, Depends(get_model)]
RawBodyDep = Annotated[bytes, Depends(get_raw_body)]
StoreDep = Annotated[PredictionStore | None, Depends(get_store)]
TelemetryDep = Annotated[Telemetry, Depends(get_telemetry)]
