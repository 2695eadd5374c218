"""How ``obesity-risk serve`` runs uvicorn: connection limits and slow-client timeouts.

uvicorn (0.54) caps connections per worker (``limit_concurrency``: 503 beyond) and closes idle
keep-alive connections (``timeout_keep_alive``), but it arms that timer only after a response:
a connection that never finishes its request line and headers, or its body, is held forever.
The protocol below adds both deadlines, in the protocol rather than in ASGI middleware: a
request whose body arrives with its headers (nearly all) then costs no timer at all, where an
ASGI-level deadline cost ~20 us per request.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from obesity_risk.config import Settings


def _timeout_response(detail: str) -> bytes:
    """A complete ``408`` response that closes the connection."""
    body = orjson.dumps({"detail": detail})
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus deadlines on each request's headers and body.

    Headers: from the connection (first request) or from a request's first byte (the next ones:
    the idle time before it is uvicorn's keep-alive timeout) to the end of the headers. Body:
    from the end of the headers to the end of the body, armed only when a read ends with the
    body incomplete (a request that arrives whole costs no timer). Past either, the connection
    is closed, with a 408 unless a response is under way.
    """

    def __init__(
        self, *args: Any, header_timeout_s: float, body_timeout_s: float, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.timeouts = (header_timeout_s, body_timeout_s)
        self.late = (
            _timeout_response("request headers not received in due time"),
            _timeout_response(f"request body not received within {body_timeout_s:g} s"),
        )
        self.timer: asyncio.TimerHandle | None = None
        self.in_body = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(0)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.in_body and self.timer is None and not self.transport.is_closing():
            self._arm(1)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.timer is None:
            self._arm(0)

    def on_headers_complete(self) -> None:
        self._disarm()
        self.in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self.in_body = False
        super().on_message_complete()

    def _arm(self, which: int) -> None:
        self.timer = self.loop.call_later(self.timeouts[which], self._late, which)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _late(self, which: int) -> None:
        self.timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle  # headers: the previous request's; body: this one's
        if cycle is None or (cycle.response_complete if which == 0 else not cycle.response_started):
            self.transport.write(self.late[which])
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The ``uvicorn.run`` arguments besides the app, address and worker count: slow-client
    and connection bounds per worker, worker start timeout, log level, no access log.

    The protocol is a ``functools.partial`` of a module-level class: uvicorn pickles it into
    each worker process.
    """
    serving, level = settings.serving, settings.logging.level
    return {
        "http": functools.partial(
            DeadlineProtocol,
            header_timeout_s=serving.header_timeout_s,
            body_timeout_s=serving.body_timeout_s,
        ),
        "timeout_keep_alive": serving.keep_alive_s,
        "limit_concurrency": serving.max_connections,
        "timeout_worker_healthcheck": serving.worker_ready_timeout_s,
        "log_level": level.lower() if level != "SUCCESS" else "info",
        "access_log": False,
    }
