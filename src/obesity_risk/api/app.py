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
from fastapi_offline import FastAPIOffline
from loguru import logger

from obesity_risk import __version__
from obesity_risk.api.batching import MicroBatcher
from obesity_risk.api.deps import BYTES_PER_RECORD
from obesity_risk.api.guard import RequestGuard
from obesity_risk.api.model import ModelHolder
from obesity_risk.api.routes import feedback as feedback_routes
from obesity_risk.api.routes import model as model_routes
from obesity_risk.api.routes import monitoring as monitoring_routes
from obesity_risk.api.routes import predict as predict_routes
from obesity_risk.api.routes import ui as ui_routes
from obesity_risk.api.schemas import record_model
from obesity_risk.api.telemetry import MetricsMiddleware, Telemetry
from obesity_risk.config import Settings, load_settings
from obesity_risk.errors import StoreError
from obesity_risk.logs import configure_logging
from obesity_risk.monitoring.store import PredictionStore
from obesity_risk.registry.client import LoadedModel, bound_mlflow_retries


def _echoable(value: Any) -> Any:
    """Echoed inputs may hold NaN/inf or lone UTF-16 surrogates (``"\\ud800"`` in the JSON),
    which JSON output cannot: send them as text (a surrogate as its ``\\ud800`` escape)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_echoable(k): _echoable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_echoable(v) for v in value]
    return value


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with field-level messages (FastAPI's format), safe for any echoed input."""
    return JSONResponse(
        {"detail": _echoable(jsonable_encoder(exc.errors()))},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def _lifespan(settings: Settings, holder: ModelHolder, telemetry: Telemetry) -> Any:
    """Load the model (retrying in the background while it fails), open the prediction log
    and the report pool; close them on shutdown. Nothing here can stop the server."""

    async def load() -> bool:
        if await anyio.to_thread.run_sync(holder.load):
            telemetry.set_model(holder.current.version, holder.source)
            return True
        telemetry.model_failed(loaded=False)
        return False

    async def keep_loading() -> None:
        """While no model is loaded, retry every ``serving.load_retry_s`` (faults clear)."""
        while holder.current is None:
            await anyio.sleep(settings.serving.load_retry_s)
            await load()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await load()
        store = None
        if settings.serving.log_predictions:
            try:
                store = PredictionStore(
                    settings.prediction_store_url, settings.serving.store, observer=telemetry
                )
                wait = settings.serving.store.connect_timeout_s + 1
                await anyio.to_thread.run_sync(store.wait_connected, wait)
            except StoreError as exc:  # a malformed URL: not ready, says why, never crashes
                logger.error("{}", exc)
        app.state.store = store
        app.state.report_pool = ProcessPoolExecutor(
            max_workers=settings.monitoring.max_concurrent_builds,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=monitoring_routes.lower_priority,
        )
        async with anyio.create_task_group() as tasks:
            if holder.current is None:
                tasks.start_soon(keep_loading)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                app.state.report_pool.shutdown(wait=False, cancel_futures=True)
                telemetry.worker_stopped()
                if store is not None:
                    await anyio.to_thread.run_sync(store.close)
                if getattr(app.state, "jobs", None) is not None:
                    app.state.jobs.close()
                if getattr(app.state, "batcher", None) is not None:
                    app.state.batcher.close()

    return lifespan


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
    bound_mlflow_retries(settings)  # the service's entry point: a dead registry fails in seconds
    telemetry = Telemetry(reports_dir=settings.reports_dir / "monitoring")
    holder = ModelHolder(settings, loader)

    app = FastAPIOffline(  # /docs and /redoc load their assets from this service, no CDN
        static_url="/docs-assets",
        title="obesity-risk",
        version=__version__,
        description=(settings.data.description or f"Predictions of {settings.data.target}")
        + " Served by the registered champion pipeline.",
        lifespan=_lifespan(settings, holder, telemetry),
    )
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.state.settings = settings
    app.state.holder = holder
    app.state.telemetry = telemetry
    app.state.store = None
    app.state.jobs = None
    batching = settings.serving.batching
    app.state.batcher = (
        MicroBatcher(batching.max_batch, batching.max_wait_ms, telemetry.batch_records.observe)
        if batching.enabled
        else None
    )
    record = record_model(settings.data)
    app.include_router(
        predict_routes.build_router(
            record, settings.serving.max_batch, regression=not settings.data.is_classification
        )
    )
    app.include_router(model_routes.router)
    app.include_router(monitoring_routes.router)
    app.include_router(feedback_routes.build_router(settings.data.labels, settings.data))
    app.include_router(ui_routes.build_router(settings.data, settings.data.example))
    app.add_middleware(
        RequestGuard,
        default_limit=settings.serving.max_body_bytes,
        limits={
            "/predict/batch": settings.serving.max_batch * BYTES_PER_RECORD,
            "/feedback": feedback_routes.MAX_LABELS * feedback_routes.BYTES_PER_LABEL,
        },
        record_limits={"/predict/batch": settings.serving.max_batch},
    )
    app.add_middleware(MetricsMiddleware, telemetry=telemetry)
    return app
