"""Prometheus metrics (one registry per app) and the ASGI middleware that records requests."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

Scope = dict[str, Any]


class Telemetry:
    """Request counts/latency per route and status, predictions per class, model version."""

    def __init__(self) -> None:
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
        )

    def set_model(self, version: str | None, source: str | None) -> None:
        """Expose the served model version as an info-style gauge."""
        self.model_info.clear()
        self.model_info.labels(version=str(version), source=str(source)).set(1)


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
