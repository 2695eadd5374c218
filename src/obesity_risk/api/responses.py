"""The prediction routes' response class: their bodies are plain data serialized by orjson.

FastAPI validates and serializes ``response_model`` results through pydantic; for a
10,000-record batch that costs several times orjson's encoding of data built by the package
itself, so the prediction routes return this response directly (their schema stays documented
by ``response_model``).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class FastJSONResponse(Response):
    """``application/json`` encoded with orjson (non-finite floats become ``null``)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
