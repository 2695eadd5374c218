"""Health, readiness, model description, versions, reload, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST

from obesity_risk import __version__
from obesity_risk.api.deps import (
    AdminDep,
    HolderDep,
    ModelDep,
    SettingsDep,
    StoreDep,
    TelemetryDep,
    check_metrics,
)
from obesity_risk.api.model import describe
from obesity_risk.api.schemas import (
    ADMIN_ERRORS,
    ErrorBody,
    Health,
    ModelInfo,
    Readiness,
    ReloadResult,
    VersionInfo,
)
from obesity_risk.registry.card_page import render as render_card

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness: the process answers."""
    return Health()


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(
    holder: HolderDep, store: StoreDep, settings: SettingsDep, response: Response
) -> Readiness:
    """Readiness: a model is loaded and the prediction log commits (503 with the reasons)."""
    model = holder.current
    reasons = [] if model is not None else [f"model not loaded: {holder.reason}"]
    if settings.serving.log_predictions:
        problem = "prediction log not opened" if store is None else store.health()
        if problem:
            reasons.append(problem)
    if reasons:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(
        ready=not reasons,
        model_version=model.version if model else None,
        source=holder.source,
        reason="; ".join(reasons) or None,
    )


@router.get("/model", response_model=ModelInfo, responses={503: {"model": ErrorBody}})
def model_info(model: ModelDep) -> ModelInfo:
    """What is served: the model card (family, version, metrics, features, hashes...)."""
    return ModelInfo(card=model.card, source=model.model.source, loaded_at=model.loaded_at)


@router.get(
    "/model/card",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, 503: {"model": ErrorBody}},
)
def model_card_page(model: ModelDep) -> HTMLResponse:
    """The served model's card as a page: intended use, data, training, metrics, slices,
    calibration, global importance, limitations."""
    return HTMLResponse(render_card(model.card))


@router.get("/version", response_model=VersionInfo)
def version(holder: HolderDep) -> VersionInfo:
    """Package version and served model version."""
    model = holder.current
    return VersionInfo(package_version=__version__, model_version=model.version if model else None)


@router.post(
    "/model/reload",
    response_model=ReloadResult,
    responses={**ADMIN_ERRORS, 503: {"model": ErrorBody}},
    dependencies=[AdminDep],
)
def reload(holder: HolderDep, telemetry: TelemetryDep) -> ReloadResult:
    """Load the current champion and swap it in; a failed load keeps the old model (503)."""
    previous = holder.current
    try:
        old, new = holder.reload()
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # a broken registry, artifact, pickle or module: the old model keeps serving
        kept = previous.version if previous else None
        telemetry.model_failed(loaded=holder.current is not None)
        logger.error("reload failed: {}", describe(exc))
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"reload failed, still serving version {kept}: {describe(exc)}",
        ) from exc
    telemetry.set_model(new.version, new.model.source)
    return ReloadResult(
        reloaded=True,
        model_version=new.version,
        previous_version=old.version if old else None,
        source=new.model.source,
    )


@router.get("/metrics", response_class=Response, responses=ADMIN_ERRORS)
def metrics(request: Request, telemetry: TelemetryDep, settings: SettingsDep) -> Response:
    """Prometheus text format (all workers when several serve); needs the metrics (or admin)
    token when ``serving.metrics_auth`` is on."""
    if settings.serving.metrics_auth:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        credentials = (
            HTTPAuthorizationCredentials(scheme=scheme, credentials=token)
            if scheme.lower() == "bearer"
            else None
        )
        check_metrics(settings, credentials)
    return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)
