"""Ports and HTTP readiness."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http_ok(url: str, timeout: float, dead: Callable[[], str | None] = lambda: None) -> float:
    """Poll ``url`` until it answers 200; seconds waited. Fails the test when ``dead()``
    returns a reason (the server process exited) or ``timeout`` passes."""
    started = time.monotonic()
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        reason = dead()
        assert reason is None, reason
        assert time.monotonic() - started < timeout, f"{url} not ready in {timeout:.0f} s"
        time.sleep(0.05)
