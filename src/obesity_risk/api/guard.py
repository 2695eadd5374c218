"""Request hygiene for every route, before any route code runs (pure ASGI middleware).

- A request with a body must declare ``Content-Type: application/json`` (or ``+json``): 415
  otherwise. A web page cannot make a visitor's browser post JSON cross-site without a CORS
  preflight, which this service never grants, so cross-site writes are refused here.
- Every body has a size limit (413): ``serving.max_batch`` x 4 KB for ``/predict/batch``,
  10,000 labels x 4 KB for ``/feedback``, ``serving.max_body_bytes`` elsewhere; checked on
  ``Content-Length`` before reading, and while reading a chunked body.
- ``/predict/batch`` counts its records while the body arrives (413 past ``serving.max_batch``),
  so an oversize batch costs the bytes up to the limit, never their parsing. A valid batch of N
  flat records has N + 1 ``{`` bytes, so counting them is the cheap test; only a body with more
  (nested objects, braces inside strings, or too many records) is counted exactly
  (:class:`RecordCounter`), so a small invalid body still reaches validation (422).

Chunked and counted bodies are read here whole, then replayed to the app in one message; a
client that disconnects first gets no answer and the app never runs. The body's deadline is
the HTTP protocol's (``api/server.py``: 408 past ``serving.body_timeout_s``), so a trickled
body holds its buffer that long at most.
"""

from __future__ import annotations

import re
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


class RefusedError(Exception):
    """A body refused while it was read: the status and detail to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|"|[{}\[\]]')
_STRING_REST = re.compile(rb'(?:[^"\\]|\\.)*"')  # the rest of a string, closing quote included


def _escape_pending(data: bytes) -> bool:
    """Whether ``data`` (inside a string) ends with a backslash that escapes the next byte."""
    return (len(data) - len(data.rstrip(b"\\"))) % 2 == 1


class RecordCounter:
    """Exact count of a batch body's records (objects opened at depth 2: ``{"records": [{``),
    fed chunk by chunk, in one pass over each byte: strings are skipped, and a string cut by a
    chunk boundary is resumed in the next chunk. Only used once the cheap ``{`` count passes the
    limit (nested objects, braces in strings), so a valid batch never pays for it."""

    def __init__(self) -> None:
        self.depth, self.records = 0, 0
        self.in_string, self.escape = False, False

    def _resume_string(self, data: bytes) -> int:
        """Skip the rest of an open string; the position after it (``len(data)``: still open)."""
        if not data:
            return 0
        if self.escape:
            self.escape, data = False, data[1:]
            offset = 1
        else:
            offset = 0
        end = _STRING_REST.match(data)
        if end is None:
            self.escape = _escape_pending(data)
            return len(data) + offset
        self.in_string = False
        return end.end() + offset

    def feed(self, chunk: bytes) -> int:
        """Count the records opened in ``chunk``; the total so far."""
        position = self._resume_string(chunk) if self.in_string else 0
        for match in _TOKENS.finditer(chunk, position):
            token = match.group()
            if token == b'"':  # a string the chunk cuts: skip what is here of it
                self.in_string = True
                self._resume_string(chunk[match.end() :])
                break
            if token in (b"{", b"["):
                self.records += token == b"{" and self.depth == 2
                self.depth += 1
            elif token in (b"}", b"]"):
                self.depth -= 1
        return self.records


async def read_body(receive: Any, limit: int, max_records: int | None) -> bytes | None:
    """The whole body, or None when the client disconnected first.

    Raises:
        RefusedError: over ``limit`` bytes, or more than ``max_records`` records (413).
    """
    chunks: list[bytes] = []
    size, braces, exact = 0, 0, None
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RefusedError(413, f"request body over {limit} bytes")
        chunks.append(chunk)
        if max_records is not None:
            braces += chunk.count(b"{")
            records = 0
            if exact is not None:
                records = exact.feed(chunk)
            elif braces > max_records + 1:  # the enclosing object is one
                exact = RecordCounter()
                records = max(exact.feed(c) for c in chunks)
            if records > max_records:
                raise RefusedError(
                    413,
                    f"more than {max_records} records in one batch; the maximum is {max_records}",
                )
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class RequestGuard:
    """415 for non-JSON bodies, 413 for bodies over the route's limit or too many records."""

    def __init__(
        self,
        app: Any,
        default_limit: int,
        limits: dict[str, int],
        record_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = limits
        self.record_limits = record_limits or {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        headers = dict(scope["headers"]) if scope["type"] == "http" else {}
        length = headers.get(b"content-length", b"").decode("latin-1").strip()
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if scope["type"] != "http" or (not chunked and length in ("", "0")):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope, headers, length)
        if refusal is not None:
            await _refuse(send, *refusal)
            return
        max_records = self.record_limits.get(scope["path"])
        if not chunked and max_records is None:
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default_limit)
        try:
            body = await read_body(receive, limit, max_records)
        except RefusedError as refused:
            await _refuse(send, refused.status, refused.detail)
            return
        if body is None:
            return  # disconnected before the body was whole: nobody to answer
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _refusal(
        self, scope: Scope, headers: dict[bytes, bytes], length: str
    ) -> tuple[int, str] | None:
        """415 or 413 from the headers alone; None when they pass."""
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if scope["method"] in _BODY_METHODS and not is_json(content_type):
            return 415, "the body must be JSON (Content-Type: application/json)"
        limit = self.limits.get(scope["path"], self.default_limit)
        if length.isdigit() and int(length) > limit:
            return 413, f"request body over {limit} bytes"
        return None
