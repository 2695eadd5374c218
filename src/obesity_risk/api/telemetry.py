"""Prometheus metrics (one registry per app) and the ASGI middleware that records requests.

Names follow Prometheus conventions: an ``obesity_risk_`` prefix, base units (``_seconds``),
``_total`` on counters. The README's "Watching it run" section lists them.

With several uvicorn workers (``obesity-risk serve --workers N``) the CLI sets
``PROMETHEUS_MULTIPROC_DIR``: every worker writes its samples there and ``/metrics``, whichever
worker answers, aggregates all of them (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from obesity_risk.monitoring.metrics import VerdictCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
P = "obesity_risk_"  # every metric of the service; counters get ``_total`` from the client
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# a regression's served values, on any scale: 0 and ±(1, 2.5, 5) x 10^k for k in -2..6
VALUE_BUCKETS = tuple(
    sorted(
        {0.0} | {sign * m * 10.0**k for sign in (-1, 1) for m in (1, 2.5, 5) for k in range(-2, 7)}
    )
)
COMMIT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5)

Scope = dict[str, Any]


class Telemetry:  # pylint: disable=too-many-instance-attributes
    """The service's metrics (one attribute each): requests, predictions, the model, the
    prediction log, and the latest monitoring verdicts (read from the reports at scrape time)."""

    def __init__(
        self, multiprocess_dir: str | None = None, reports_dir: Path | None = None
    ) -> None:
        self.multiprocess_dir = multiprocess_dir or os.environ.get(MULTIPROC_ENV) or None
        self.verdicts = VerdictCollector(reports_dir) if reports_dir is not None else None
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            P + "http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            P + "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.predictions = Counter(
            P + "predictions",
            "Predictions served per class (classification)",
            ["label"],
            registry=registry,
        )
        self.served_values = Histogram(
            P + "served_values",
            "Values served by a regression model",
            buckets=VALUE_BUCKETS,
            registry=registry,
        )
        self.batch_records = Histogram(
            P + "model_batch_records",
            "Records per shared model call of POST /predict (micro-batching)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 255),
            registry=registry,
        )
        self.unknown_categories = Counter(
            P + "unknown_categories",
            "Input values never seen in training, per column",
            ["column"],
            registry=registry,
        )
        self.feedback = Counter(
            P + "feedback_labels", "Ground-truth labels received", registry=registry
        )
        self.model_info = Gauge(
            P + "model_info",
            "Model being served (value 1)",
            ["version", "source"],
            registry=registry,
            multiprocess_mode="liveall",  # one series per live worker (label pid)
        )
        self.model_ready = Gauge(
            P + "model_ready",
            "1 while a model is loaded (the least ready worker)",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self.load_failures = Counter(
            P + "model_load_failures", "Failed model loads and reloads", registry=registry
        )
        self.queue_depth = Gauge(
            P + "prediction_log_queue_depth",
            "Requests waiting for the prediction log commit (the fullest worker)",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.queue_capacity = Gauge(
            P + "prediction_log_queue_capacity",
            "Requests the prediction log queue holds before refusing (503)",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.commit_latency = Histogram(
            P + "prediction_log_commit_duration_seconds",
            "Time of one group commit of the prediction log",
            buckets=COMMIT_BUCKETS,
            registry=registry,
        )
        self.rows_logged = Counter(
            P + "prediction_log_rows", "Prediction rows committed", registry=registry
        )
        self.log_failures = Counter(
            P + "prediction_log_failures",
            "Requests whose rows the prediction log did not commit",
            registry=registry,
        )
        if self.verdicts is not None and not self.multiprocess_dir:
            registry.register(self.verdicts)
        self._model_labels: tuple[str, str] | None = None

    def set_model(self, version: str | None, source: str | None) -> None:
        """A model is loaded: ready, and its version as an info-style gauge."""
        if self._model_labels is not None:
            # samples already written to the multiprocess files cannot be removed: zero them
            if self.multiprocess_dir:
                self.model_info.labels(*self._model_labels).set(0)
            else:
                self.model_info.remove(*self._model_labels)
        self._model_labels = (str(version), str(source))
        self.model_info.labels(*self._model_labels).set(1)
        self.model_ready.set(1)

    def model_failed(self, loaded: bool) -> None:
        """A load or reload failed (``loaded``: an older model still serves)."""
        self.load_failures.inc()
        self.model_ready.set(1 if loaded else 0)

    # the prediction log's observer (see PredictionStore)
    def queued(self, depth: int, capacity: int) -> None:
        """The log's queue after a request joined it or a commit emptied it."""
        self.queue_depth.set(depth)
        self.queue_capacity.set(capacity)

    def committed(self, rows: int, failed: int, seconds: float) -> None:
        """One group commit: rows written, requests failed, its duration."""
        self.commit_latency.observe(seconds)
        if rows:
            self.rows_logged.inc(rows)
        if failed:
            self.log_failures.inc(failed)

    def exposition(self) -> bytes:
        """The Prometheus text of this worker, or of all workers in multiprocess mode."""
        if not self.multiprocess_dir:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        if self.verdicts is not None:
            registry.register(self.verdicts)
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
