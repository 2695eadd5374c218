"""Request bodies validated from their raw bytes (one pydantic-core pass) and documented in
OpenAPI by hand, for the routes that read the body themselves."""

from typing import Annotated, Any

from fastapi import Header, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from obesity_risk.api.jsonkeys import refuse_duplicate_keys
from obesity_risk.api.schemas import BODY_ERRORS, ErrorBody

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


def validate_body(model: type[BaseModel], raw: bytes) -> Any:
    """Parse and validate a JSON body in one pass (pydantic-core reads the bytes directly), then
    refuse a key repeated within an object (pydantic would keep the last one).

    Raises:
        RequestValidationError: FastAPI's 422, locations prefixed with ``body`` as its own are.
    """
    try:
        body = model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {**e, "loc": ("body", *e["loc"]), "input": _echo(e.get("input"))}
            for e in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors) from None
    refuse_duplicate_keys(raw)
    return body


def _echo(value: Any, limit: int = 200) -> Any:
    """The offending input as it can be echoed: undecodable JSON is text, cut to ``limit``."""
    if isinstance(value, bytes | bytearray):
        text = bytes(value[: limit + 1]).decode("utf-8", "replace")
        return text if len(text) <= limit else f"{text[:limit]}..."
    return value


def request_body_schema(model: type[BaseModel], inline: bool = False) -> dict[str, Any]:
    """OpenAPI ``requestBody`` for a route that validates its raw body itself.

    Nested models point at ``components/schemas``, where FastAPI already publishes those another
    route parses; with ``inline`` they are written in place (models no route publishes).
    """
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})

    def resolved(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolved(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolved(value) for key, value in node.items()}
        return [resolved(item) for item in node] if isinstance(node, list) else node

    body = resolved(schema) if inline else schema
    return {"required": True, "content": {"application/json": {"schema": body}}}
