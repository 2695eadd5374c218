"""App factory: ``create_app(settings)``; the lifespan loads the model once and opens the log.

Nothing happens at import time: uvicorn builds the app through the factory
(``uvicorn --factory obesity_risk.api.app:create_app``).
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from obesity_risk import __version__
from obesity_risk.api.model import ModelHolder
from obesity_risk.api.routes import model as model_routes
from obesity_risk.api.routes import monitoring as monitoring_routes
from obesity_risk.api.routes import predict as predict_routes
from obesity_risk.api.routes import ui as ui_routes
from obesity_risk.api.schemas import record_model
from obesity_risk.api.telemetry import MetricsMiddleware, Telemetry
from obesity_risk.config import Settings, load_settings
from obesity_risk.logs import configure_logging
from obesity_risk.models.registry import LoadedModel
from obesity_risk.monitoring.store import PredictionStore


def _finite(value: Any) -> Any:
    """Echoed inputs may hold NaN/inf (rejected values); JSON cannot: send them as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with field-level messages (FastAPI's format), safe for non-finite inputs."""
    return JSONResponse(
        {"detail": _finite(jsonable_encoder(exc.errors()))},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def create_app(
    settings: Settings | None = None, loader: Callable[[], LoadedModel] | None = None
) -> FastAPI:
    """Build the service. ``loader`` replaces the registry/local model loading (tests).

    Without ``settings`` (uvicorn's factory call) the settings come from the environment and
    logging is configured from them.
    """
    if settings is None:
        settings = load_settings()
        configure_logging(settings)
    telemetry = Telemetry()
    holder = ModelHolder(settings, loader)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(holder.load)
        if holder.current is not None:
            telemetry.set_model(holder.current.version, holder.current.loaded.source)
        store = None
        if settings.serving.log_predictions:
            store = await anyio.to_thread.run_sync(PredictionStore, settings.prediction_store_url)
        app.state.store = store
        app.state.report_pool = ProcessPoolExecutor(
            max_workers=settings.monitoring.max_concurrent_builds,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=monitoring_routes.lower_priority,
        )
        try:
            yield
        finally:
            app.state.report_pool.shutdown(wait=False, cancel_futures=True)
            telemetry.worker_stopped()
            if store is not None:
                await anyio.to_thread.run_sync(store.close)

    app = FastAPI(
        title="obesity-risk",
        version=__version__,
        description="Obesity-level predictions from the registered champion pipeline.",
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.state.settings = settings
    app.state.holder = holder
    app.state.telemetry = telemetry
    app.state.store = None
    app.state.report_jobs = {}
    record = record_model(settings.data)
    app.include_router(predict_routes.build_router(record, settings.serving.max_batch))
    app.include_router(model_routes.router)
    app.include_router(monitoring_routes.router)
    app.include_router(ui_routes.build_router(settings.data, settings.data.example))
    app.add_middleware(MetricsMiddleware, telemetry=telemetry)
    return app
