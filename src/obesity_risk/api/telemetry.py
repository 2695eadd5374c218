"""Prometheus metrics (one registry per app) and the ASGI middleware that records requests.

With several uvicorn workers (``obesity-risk serve --workers N``) the CLI sets
``PROMETHEUS_MULTIPROC_DIR``: every worker writes its samples there and ``/metrics``, whichever
worker answers, aggregates all of them (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

Scope = dict[str, Any]


class Telemetry:
    """Request counts/latency per route and status, predictions per class, model version."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir or os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.predictions = Counter(
            "predictions_total", "Predictions served per class", ["label"], registry=self.registry
        )
        self.unknown_categories = Counter(
            "unknown_categories_total",
            "Input values never seen in training, per column",
            ["column"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "model_info",
            "Model being served (value 1)",
            ["version", "source"],
            registry=self.registry,
            multiprocess_mode="liveall",  # one series per live worker (label pid)
        )
        self._model_labels: tuple[str, str] | None = None

    def set_model(self, version: str | None, source: str | None) -> None:
        """Expose the served model version as an info-style gauge."""
        if self._model_labels is not None:
            # samples already written to the multiprocess files cannot be removed: zero them
            if self.multiprocess_dir:
                self.model_info.labels(*self._model_labels).set(0)
            else:
                self.model_info.remove(*self._model_labels)
        self._model_labels = (str(version), str(source))
        self.model_info.labels(*self._model_labels).set(1)

    def exposition(self) -> bytes:
        """The Prometheus text of this worker, or of all workers in multiprocess mode."""
        if not self.multiprocess_dir:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        return generate_latest(registry)

    def worker_stopped(self) -> None:
        """Drop this worker's live gauges from the shared files (multiprocess mode)."""
        if self.multiprocess_dir:
            multiprocess.mark_process_dead(os.getpid(), self.multiprocess_dir)


class MetricsMiddleware:
    """Pure ASGI middleware: counts and times every HTTP request by route template."""

    def __init__(self, app: Any, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.telemetry.requests.labels(method, path, str(status_code)).inc()
            self.telemetry.latency.labels(method, path).observe(time.perf_counter() - started)
