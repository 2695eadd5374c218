"""What an unauthenticated client can hold or spend, against the real server over TCP.

Issue 20: an oversize batch was parsed whole before its record count was checked, explanations
had no limit of their own (finding 5); slow clients were never timed out and connections were
not capped (finding 6). One server process, short timeouts so that every wait is bounded.
"""

from __future__ import annotations

import contextlib
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from tests.helpers.memory import RssGrowth
from tests.helpers.servers import start_server

pytestmark = pytest.mark.slow

HEADER_S, BODY_S, KEEP_ALIVE_S, MAX_CONNECTIONS, MAX_EXPLAIN = 2, 3, 1, 8, 5
SLACK_S = 1.5  # scheduling slack on a loaded 2-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_pipeline):
    tmp: Path = tmp_path_factory.mktemp("limits")
    with start_server(
        tmp,
        small_pipeline,
        f"sqlite:///{tmp}/predictions.db",
        header_timeout_s=str(HEADER_S),
        body_timeout_s=str(BODY_S),
        keep_alive_s=str(KEEP_ALIVE_S),
        max_connections=str(MAX_CONNECTIONS),
        max_explain_batch=str(MAX_EXPLAIN),
    ) as started:
        yield started


def connect(base: str) -> socket.socket:
    """A raw TCP connection to the server."""
    url = urlsplit(base)
    return socket.create_connection((url.hostname, url.port), timeout=5)


def closed_after(sock: socket.socket, limit_s: float, trickle: bytes = b"") -> tuple[float, bytes]:
    """Seconds until the server closes ``sock`` and what it sent; ``trickle`` is sent every
    0.2 s meanwhile. Fails when the connection is still open after ``limit_s``."""
    sock.settimeout(0.2)
    started, received = time.monotonic(), b""
    with sock:
        while time.monotonic() - started < limit_s:
            if trickle:
                with contextlib.suppress(OSError):
                    sock.sendall(trickle)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                return time.monotonic() - started, received
            received += data
    pytest.fail(f"connection still open after {limit_s} s; received {received[:200]!r}")


def test_slow_clients_are_closed_in_time_while_predict_answers(server) -> None:
    _, base, _, records, _ = server
    half_headers = connect(base)
    half_headers.sendall(b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Ty")
    trickled = connect(base)  # a declared 1 MB body, 5 bytes at a time
    trickled.sendall(
        b"POST /predict/batch HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000\r\n\r\n"
    )
    idle = connect(base)  # keep-alive after one answered request
    idle.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
    with ThreadPoolExecutor(3) as pool:
        waits = {
            "headers": pool.submit(closed_after, half_headers, HEADER_S + SLACK_S),
            "body": pool.submit(closed_after, trickled, BODY_S + SLACK_S, b"     "),
            "idle": pool.submit(closed_after, idle, KEEP_ALIVE_S + SLACK_S),
        }
        latencies = []
        with httpx.Client(timeout=5) as http:
            while not all(wait.done() for wait in waits.values()):
                started = time.monotonic()
                response = http.post(f"{base}/predict", json=records[len(latencies) % 50])
                latencies.append(time.monotonic() - started)
                assert response.status_code == 200, response.text
                time.sleep(0.1)
        (headers_s, headers_sent), (body_s, body_sent), (idle_s, idle_sent) = (
            waits[name].result() for name in ("headers", "body", "idle")
        )
    assert headers_s > HEADER_S - 0.5 and headers_sent.startswith(b"HTTP/1.1 408 ")
    assert body_s > BODY_S - 0.5 and body_sent.startswith(b"HTTP/1.1 408 ")
    assert b"request body not received within 3 s" in body_sent
    assert idle_s > KEEP_ALIVE_S - 0.5 and idle_sent.startswith(b"HTTP/1.1 200 ")
    assert len(latencies) >= 10 and max(latencies) < 1, latencies


def test_connections_past_the_cap_get_503_until_idle_ones_time_out(server) -> None:
    _, base, _, records, _ = server
    idle = [connect(base) for _ in range(MAX_CONNECTIONS)]
    time.sleep(0.3)  # accepted by the server's event loop
    with httpx.Client(timeout=5) as http:
        assert http.post(f"{base}/predict", json=records[0]).status_code == 503
    with ThreadPoolExecutor(len(idle)) as pool:
        closed = list(pool.map(lambda s: closed_after(s, HEADER_S + SLACK_S), idle))
    assert all(sent.startswith(b"HTTP/1.1 408 ") for _, sent in closed)
    with httpx.Client(timeout=5) as http:
        assert http.post(f"{base}/predict", json=records[0]).status_code == 200


def test_an_oversize_batch_is_refused_while_it_arrives(server) -> None:
    """100,000 records (ten times the limit): refused once the count passes 10,000, without
    parsing them (before: 413 after the whole body was parsed, +260 MB)."""
    process, base, _, records, _ = server
    body = orjson.dumps({"records": [records[i % len(records)] for i in range(100_000)]})
    with httpx.Client(timeout=30) as http, RssGrowth(process.pid) as growth:
        started = time.monotonic()
        response = http.post(
            f"{base}/predict/batch", content=body, headers={"content-type": "application/json"}
        )
        elapsed = time.monotonic() - started
    assert response.status_code == 413
    assert response.json()["detail"] == "more than 10000 records in one batch; the maximum is 10000"
    assert growth.bytes < 64 * 2**20, growth.bytes / 2**20
    assert elapsed < 3, elapsed


def test_explained_batches_have_their_own_limit(server) -> None:
    _, base, _, records, _ = server
    with httpx.Client(timeout=30) as http:
        url = f"{base}/predict/batch?explain=true"
        answered = http.post(url, json={"records": records[:MAX_EXPLAIN]})
        refused = http.post(url, json={"records": records[: MAX_EXPLAIN + 1]})
        plain = http.post(f"{base}/predict/batch", json={"records": records[: MAX_EXPLAIN + 1]})
        documented = http.get(f"{base}/openapi.json").json()
    assert answered.status_code == 200 and plain.status_code == 200
    assert refused.status_code == 413
    assert refused.json()["detail"] == (
        f"{MAX_EXPLAIN + 1} records to explain in one batch; the maximum with explain=true is"
        f" {MAX_EXPLAIN}"
    )
    batch = documented["paths"]["/predict/batch"]["post"]["responses"]
    assert "serving.max_explain_batch" in batch["413"]["description"]
    assert "408" in batch and "408" in documented["paths"]["/predict"]["post"]["responses"]
