"""The containers' health checker against a real HTTP server on loopback."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from obesity_risk.healthcheck import check, main


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, *args) -> None:  # quiet
        return


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_healthy_unhealthy_and_unreachable(server: str) -> None:
    assert check(f"{server}/health") is None
    assert check(f"{server}/ready") == f"{server}/ready: HTTP 503"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    dead = f"http://127.0.0.1:{httpd.server_address[1]}/health"
    httpd.server_close()  # nothing listens there now
    assert "Connection refused" in check(dead, timeout=1)
    assert main([f"{server}/health"]) == 0
    assert main([f"{server}/health", f"{server}/ready"]) == 1
    assert main([]) == 2


def test_only_http_urls() -> None:
    assert check("file:///etc/passwd") == "not an http(s) URL: 'file:///etc/passwd'"


def test_a_heartbeat_file_is_healthy_while_fresh(tmp_path) -> None:
    """``fresh:PATH:SECONDS``: the monitor's health (no shell, no argument with a space)."""
    import os
    import time

    beat = tmp_path / "status.jsonl"
    assert main([f"fresh:{beat}:60"]) == 1  # missing
    beat.write_text("{}\n")
    assert main([f"fresh:{beat}:60"]) == 0
    old = time.time() - 120
    os.utime(beat, (old, old))
    assert main([f"fresh:{beat}:60"]) == 1
    assert main([f"fresh:{beat}:soon"]) == 1  # not a number
