"""Request hygiene for every route, before any route code runs (pure ASGI middleware).

- A request with a body must declare ``Content-Type: application/json`` (or ``+json``): 415
  otherwise. A web page cannot make a visitor's browser post JSON cross-site without a CORS
  preflight, which this service never grants, so cross-site writes are refused here.
- Every body has a size limit (413): ``serving.max_batch`` x 4 KB for ``/predict/batch``,
  10,000 labels x 4 KB for ``/feedback``, ``serving.max_body_bytes`` elsewhere; checked on
  ``Content-Length`` before reading, and while reading a chunked body.
"""

from __future__ import annotations

from typing import Any

import orjson

Scope = dict[str, Any]
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def is_json(content_type: str) -> bool:
    """``application/json`` or ``application/<x>+json``, parameters ignored."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _refuse(send: Any, status: int, detail: str) -> None:
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """415 for non-JSON bodies, 413 for bodies over the route's limit."""

    def __init__(self, app: Any, default_limit: int, limits: dict[str, int]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"").decode("latin-1").strip()
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        has_body = chunked or (length not in ("", "0"))
        if has_body and not is_json(headers.get(b"content-type", b"").decode("latin-1")):
            await _refuse(send, 415, "the body must be JSON (Content-Type: application/json)")
            return
        limit = self.limits.get(scope["path"], self.default_limit)
        if length.isdigit() and int(length) > limit:
            await _refuse(send, 413, f"request body over {limit} bytes")
        elif chunked and not length.isdigit():
            await self._chunked(scope, receive, send, limit)
        else:
            await self.app(scope, receive, send)

    async def _chunked(self, scope: Scope, receive: Any, send: Any, limit: int) -> None:
        """Read a chunked body up to ``limit`` (413 beyond), then replay it to the app."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # disconnected: let the app see it
                return
            size += len(message.get("body", b""))
            if size > limit:
                await _refuse(send, 413, f"request body over {limit} bytes")
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
