"""Request bodies validated from their raw bytes (one pydantic-core pass) and documented in
OpenAPI by hand, for the routes that read the body themselves."""

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from obesity_risk.api.jsonkeys import refuse_duplicate_keys


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
