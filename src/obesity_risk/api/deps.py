"""Injected dependencies: routes ask for what they need, the app state provides it.

They are ``async def`` on purpose: they only read the app state, and FastAPI runs a plain
``def`` dependency in its thread pool, one hand-off per dependency per request.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from obesity_risk.api.batching import MicroBatcher
from obesity_risk.api.model import ModelHolder
from obesity_risk.api.telemetry import Telemetry
from obesity_risk.config import Settings
from obesity_risk.monitoring.store import PredictionStore
from obesity_risk.serving.predictor import Predictor


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


async def get_holder(request: Request) -> ModelHolder:
    """The model holder (loaded or not)."""
    return request.app.state.holder


async def get_model(holder: Annotated[ModelHolder, Depends(get_holder)]) -> Predictor:
    """The current model, or 503 with the reason there is none."""
    model = holder.current
    if model is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"model not loaded: {holder.reason}"
        )
    return model


BYTES_PER_RECORD = 4096  # a JSON record of the schema is ~400 bytes; generous headroom


async def get_raw_body(request: Request) -> bytes:
    """The request body as received (size and content type already checked by the guard)."""
    return await request.body()


_bearer = HTTPBearer(auto_error=False, description="serving.admin_token")


async def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Control routes: a bearer token equal to ``serving.admin_token`` (constant-time check)."""
    check_admin(request.app.state.settings, credentials)


def _matches(given: str, tokens: list[SecretStr]) -> bool:
    """Constant-time comparison of ``given`` against each configured token."""
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given.encode(), token.get_secret_value().encode())
    return found


def _unauthorized(what: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        f"a valid bearer token is required (Authorization: Bearer <{what}>)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def check_admin(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> None:
    """Unset token: 403 (the routes are disabled). Missing or wrong token: 401."""
    token = settings.serving.admin_token
    if token is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "control routes are disabled: set OBESITY_RISK__SERVING__ADMIN_TOKEN to enable them",
        )
    given = credentials.credentials if credentials is not None else ""
    if not _matches(given, [token]):
        raise _unauthorized("admin token")


def check_metrics(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> None:
    """``GET /metrics`` with ``serving.metrics_auth``: the read-only metrics token (what a
    scraper holds: it opens no control route) or the admin token. Neither set: 403."""
    tokens = [t for t in (settings.serving.metrics_token, settings.serving.admin_token) if t]
    if not tokens:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "metrics need a token: set OBESITY_RISK__SERVING__METRICS_TOKEN",
        )
    given = credentials.credentials if credentials is not None else ""
    if not _matches(given, tokens):
        raise _unauthorized("metrics token")


async def get_store(request: Request) -> PredictionStore | None:
    """The prediction log (None when disabled)."""
    return request.app.state.store


async def get_telemetry(request: Request) -> Telemetry:
    """Prometheus metrics of this app."""
    return request.app.state.telemetry


@dataclass(frozen=True)
class Serving:
    """What a prediction route needs, resolved as one dependency (each dependency costs
    FastAPI a resolution step per request; the prediction routes are the hot path)."""

    model: Predictor
    store: PredictionStore | None
    telemetry: Telemetry
    settings: Settings
    batcher: MicroBatcher | None = None  # serving.batching: shared model calls of /predict


async def get_serving(request: Request) -> Serving:
    """The current model (or 503 with the reason there is none), the log, metrics, settings."""
    state = request.app.state
    return Serving(
        await get_model(state.holder), state.store, state.telemetry, state.settings, state.batcher
    )


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServingDep = Annotated[Serving, Depends(get_serving)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ModelDep = Annotated[Predictor, Depends(get_model)]
AdminDep = Depends(require_admin)  # pylint: disable=invalid-name
RawBodyDep = Annotated[bytes, Depends(get_raw_body)]
StoreDep = Annotated[PredictionStore | None, Depends(get_store)]
TelemetryDep = Annotated[Telemetry, Depends(get_telemetry)]
