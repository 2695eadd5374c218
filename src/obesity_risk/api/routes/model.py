"""Health, readiness, model description, versions, reload, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status
from prometheus_client import CONTENT_TYPE_LATEST

from obesity_risk import __version__
from obesity_risk.api.deps import HolderDep, ModelDep, SettingsDep, TelemetryDep
from obesity_risk.api.schemas import (
    ErrorBody,
    Health,
    ModelInfo,
    Readiness,
    ReloadResult,
    VersionInfo,
)
from obesity_risk.errors import ObesityRiskError

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness: the process answers."""
    return Health()


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(holder: HolderDep, response: Response) -> Readiness:
    """Readiness: a model is loaded (503 with the reason otherwise)."""
    model = holder.current
    if model is None:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Readiness(ready=False, reason=holder.reason)
    return Readiness(ready=True, model_version=model.version, source=model.loaded.source)


@router.get("/model", response_model=ModelInfo, responses={503: {"model": ErrorBody}})
def model_info(model: ModelDep, settings: SettingsDep) -> ModelInfo:
    """What is served: family, version, alias, run, metrics, features, training time."""
    meta = model.loaded.metadata
    return ModelInfo(
        name=settings.tracking.registered_model,
        family=meta.get("family"),
        version=model.version,
        alias=meta.get("alias"),
        run_id=meta.get("run_id"),
        source=model.loaded.source,
        metrics={
            k: meta.get(k)
            for k in ("cv_accuracy", "val_accuracy", "external_accuracy", "val_f1_macro")
            if k in meta
        },
        features=meta.get("features") or {},
        classes=model.classes,
        trained_at=meta.get("trained_at"),
        loaded_at=model.loaded_at,
    )


@router.get("/version", response_model=VersionInfo)
def version(holder: HolderDep) -> VersionInfo:
    """Package version and served model version."""
    model = holder.current
    return VersionInfo(package_version=__version__, model_version=model.version if model else None)


@router.post("/model/reload", response_model=ReloadResult, responses={503: {"model": ErrorBody}})
def reload(holder: HolderDep, telemetry: TelemetryDep) -> ReloadResult:
    """Load the current champion and swap it in; a failed load keeps the old model (503)."""
    previous = holder.current
    try:
        old, new = holder.reload()
    except (ObesityRiskError, OSError, ValueError) as exc:
        kept = previous.version if previous else None
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"reload failed, still serving version {kept}: {exc}",
        ) from exc
    telemetry.set_model(new.version, new.loaded.source)
    return ReloadResult(
        reloaded=True,
        model_version=new.version,
        previous_version=old.version if old else None,
        source=new.loaded.source,
    )


@router.get("/metrics", response_class=Response)
def metrics(telemetry: TelemetryDep) -> Response:
    """Prometheus text format (all workers when several serve)."""
    return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)
