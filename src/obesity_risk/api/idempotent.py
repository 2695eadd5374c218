"""Requests sent with an ``Idempotency-Key``, and the prediction log's failures as HTTP errors."""

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import Header, HTTPException, Response, status

from obesity_risk.api.deps import Serving
from obesity_risk.config import Settings
from obesity_risk.errors import StoreError
from obesity_risk.monitoring.idempotency import (
    IdempotencyConflictError,
    Idempotent,
    fingerprint,
    stored_answer,
)
from obesity_risk.monitoring.store import PredictionStore, StoreBusyError

REPLAYED = "Idempotent-Replayed"  # response header of a retry answered with the original response

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


@contextlib.contextmanager
def store_errors(settings: Settings, store: PredictionStore | None) -> Iterator[PredictionStore]:
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


def retried(
    key: str | None, route: str, explain: bool, records: list[dict[str, Any]], serving: Serving
) -> tuple[str | None, Response | None]:
    """A keyed request's fingerprint, and the original response when it is a retry: checked
    before scoring, so a retry costs one read (409 when the key names another request)."""
    if key is None or not serving.settings.serving.log_predictions:
        return None, None
    print_ = fingerprint(route, explain, records)
    with store_errors(serving.settings, serving.store) as log:
        replay = stored_answer(log.engine, key, print_)
    if replay is None:
        return print_, None
    return print_, Response(replay, media_type="application/json", headers={REPLAYED: "true"})


def idempotent(key: str | None, print_: str | None, body: dict[str, Any]) -> Idempotent | None:
    """What the log stores with a keyed request (None without a key)."""
    if key is None or print_ is None:
        return None
    return Idempotent(key, print_, orjson.dumps(body))
