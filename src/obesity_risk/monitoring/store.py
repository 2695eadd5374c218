"""Prediction log: every served prediction, committed before the API acknowledges it.

Any SQLAlchemy URL works (embedded SQLite by default, PostgreSQL in production). Writes from
concurrent requests are grouped: a writer thread inserts everything queued in one transaction,
commits, and only then releases the waiting requests (group commit).

What an acknowledged (200) prediction survives:

- SQLite, ``serving.store.synchronous: normal`` (default): WAL mode; a killed process (kill -9)
  loses nothing committed, an OS crash or power loss may lose the last commits.
- SQLite, ``full``: fsync on every commit; survives power loss, at a cost per commit.
- PostgreSQL: the server's ``synchronous_commit`` (on by default: survives power loss).

Faults degrade: connect and statement timeouts, a bounded queue (:class:`StoreBusyError` when full),
a request waits at most ``commit_timeout_s``; a failing row fails only its own request; the store
says why it is unhealthy (:meth:`health`) and recovers when the database comes back. An optional
idempotency key makes a retried request log its rows once and get the original response
(:mod:`~obesity_risk.monitoring.idempotency`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from loguru import logger

from obesity_risk.config.sections import StoreConfig
from obesity_risk.errors import StoreError
from obesity_risk.monitoring.checkpoint import WalCheckpointer
from obesity_risk.monitoring.commit import COLUMNS, GroupCommitMixin
from obesity_risk.monitoring.database import as_utc, make_engine, safe_url
from obesity_risk.monitoring.idempotency import (
    IdempotencyConflictError,
    Idempotent,
)
from obesity_risk.monitoring.pending import Pending, expire
from obesity_risk.monitoring.reading import LogReader
from obesity_risk.monitoring.tables import METADATA, PREDICTIONS

PROBE_INTERVAL_S = 1.0


class StoreObserver(Protocol):
    """Told about the queue and each commit (the API's metrics)."""

    def queued(self, depth: int, capacity: int) -> None:
        """The queue after a request joined it or a commit emptied it."""

    def committed(self, rows: int, failed: int, seconds: float) -> None:
        """One group commit: rows written, requests failed, its duration."""


class StoreBusyError(StoreError):
    """The write queue is full: retry later (HTTP 503 + Retry-After)."""


class PredictionStore(LogReader, GroupCommitMixin):
    """Append-only prediction log with group commit. Opening it never blocks on the database:
    the writer thread connects, creates the tables and keeps probing while it is down."""

    def __init__(
        self, url: str, config: StoreConfig | None = None, observer: StoreObserver | None = None
    ) -> None:
        self.url = url
        self.config = config or StoreConfig()
        self.observer = observer
        self.engine = make_engine(url, self.config)
        dialect = self.engine.dialect
        compiled = PREDICTIONS.insert().compile(dialect=dialect, column_keys=list(COLUMNS))
        self._insert_sql = str(compiled)
        self._positional = bool(compiled.positional)
        self._timestamp = PREDICTIONS.c.created_at.type.dialect_impl(dialect).bind_processor(
            dialect
        ) or (lambda value: value)
        self._schema_ready = False
        self._error: str | None = "not connected yet"
        self._inflight_since: float | None = None
        self._probed = threading.Event()
        self._raw: Any = None  # the writer thread's own driver connection (see _insert_raw)
        self._queue: queue.Queue[Pending | None] = queue.Queue(maxsize=self.config.queue_max)
        self._writer = threading.Thread(target=self._run, name="prediction-store", daemon=True)
        self._writer.start()
        sqlite = self.engine.dialect.name == "sqlite" and self.engine.url.database != ":memory:"
        self.checkpointer = (
            WalCheckpointer(self.engine, self.config.checkpoint_s)
            if sqlite and self.config.checkpoint_s > 0
            else None
        )

    # ------------------------------------------------------------------ health
    def health(self) -> str | None:
        """None when writes are being committed; else why not (for ``/ready``)."""
        started = self._inflight_since
        if started is not None and time.monotonic() - started > self.config.commit_timeout_s:
            return f"prediction store not answering for {time.monotonic() - started:.0f} s"
        if self._queue.full():
            return f"prediction store queue full ({self.config.queue_max} requests waiting)"
        if self._error is not None:
            return f"prediction store {safe_url(self.url)} unavailable: {self._error}"
        return None

    # ------------------------------------------------------------------ writing
    def _pending(
        self,
        request_id: str,
        model_version: str | None,
        records: list[dict[str, Any]],
        labels: list[str],
        probabilities: list[dict[str, float]],
        idempotency: Idempotent | None,
    ) -> Pending:
        now = self._timestamp(datetime.now(UTC))
        return Pending(
            [
                (
                    request_id,
                    now,
                    model_version,
                    label,
                    orjson.dumps(proba).decode(),
                    orjson.dumps(record).decode(),
                )
                for record, label, proba in zip(records, labels, probabilities, strict=True)
            ],
            once=idempotency,
            request_id=request_id,
        )

    def _enqueue(self, pending: Pending) -> None:
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            raise StoreBusyError(
                f"prediction store queue full ({self.config.queue_max} requests waiting)"
            ) from None
        if self.observer is not None:
            self.observer.queued(self._queue.qsize(), self.config.queue_max)

    def _outcome(self, pending: Pending) -> bytes | None:
        if pending.error is not None:
            raise StoreError(f"prediction store failed: {pending.error}".splitlines()[0])
        if pending.conflict is not None:
            raise pending.conflict
        return pending.replay

    def _timed_out(self) -> StoreError:
        return StoreError(
            f"prediction store did not commit within {self.config.commit_timeout_s:g} s"
        )

    def write(
        self,
        request_id: str,
        model_version: str | None,
        records: list[dict[str, Any]],
        labels: list[str],
        probabilities: list[dict[str, float]],
        idempotency: Idempotent | None = None,
    ) -> bytes | None:
        """Persist one request's predictions; return once committed.

        Returns:
            None: the rows are committed. With ``idempotency``, when its key is already logged
            for the same request: the original response body to answer with (nothing written).

        Raises:
            StoreBusyError: the queue is full (nothing queued). StoreError: not committed in
                time, or the database refused it (the request must not be acknowledged).
            IdempotencyConflictError: the key is logged for a different request.
        """
        pending = self._pending(
            request_id, model_version, records, labels, probabilities, idempotency
        )
        self._enqueue(pending)
        if not pending.done.wait(self.config.commit_timeout_s):
            raise self._timed_out()
        return self._outcome(pending)

    async def write_async(
        self,
        request_id: str,
        model_version: str | None,
        records: list[dict[str, Any]],
        labels: list[str],
        probabilities: list[dict[str, float]],
        idempotency: Idempotent | None = None,
    ) -> bytes | None:
        """:meth:`write` for the event loop: the caller awaits the commit without a thread
        (the writer thread resolves a future on the loop)."""
        pending = self._pending(
            request_id, model_version, records, labels, probabilities, idempotency
        )
        loop = asyncio.get_running_loop()
        pending.future = future = loop.create_future()
        pending.loop = loop
        self._enqueue(pending)
        timer = loop.call_later(self.config.commit_timeout_s, expire, future)
        try:
            await future
        except TimeoutError:
            raise self._timed_out() from None
        finally:
            timer.cancel()
        return self._outcome(pending)

    def wait_connected(self, timeout: float) -> bool:
        """Wait for the writer's first connection attempt; True if the store is usable."""
        self._probed.wait(timeout)
        return self._error is None

    def _run(self) -> None:
        self._probe()
        self._probed.set()
        while True:
            try:
                first = self._queue.get(timeout=PROBE_INTERVAL_S)
            except queue.Empty:
                self._probe()  # idle: notice an outage (or its end) before a request does
                continue
            if first is None:
                if self._raw is not None:
                    with contextlib.suppress(Exception):
                        self._raw.close()
                return
            batch = [first]
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._inflight_since = started = time.monotonic()
            try:
                self._commit(batch)
            finally:
                self._inflight_since = None
            if self.observer is not None:  # first, so an acknowledged row is also counted
                self._observe(batch, time.monotonic() - started)
            for pending in batch:
                pending.release()

    def _observe(self, batch: list[Pending], seconds: float) -> None:
        assert self.observer is not None
        failed = sum(p.error is not None for p in batch)
        rows = sum(len(p.rows) for p in batch if p.logs)
        self.observer.committed(rows, failed, seconds)
        self.observer.queued(self._queue.qsize(), self.config.queue_max)

    def _probe(self) -> None:
        """Check that a write could start now (SQLite: take and drop the write lock)."""
        was = self._error
        self._inflight_since = time.monotonic()
        try:
            self._ensure_schema()
            with self.engine.connect() as conn:
                if self.engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    conn.exec_driver_sql("ROLLBACK")
                else:
                    conn.exec_driver_sql("SELECT 1")
            self._error = None
            if was is not None:
                logger.info("prediction store {} available", safe_url(self.url))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            self._error = str(exc).splitlines()[0][:300]
            if was is None:
                logger.error("prediction store {} unavailable: {}", safe_url(self.url), self._error)
        finally:
            self._inflight_since = None

    def close(self) -> None:
        """Flush what is queued and stop the writer."""
        self._queue.put(None)
        self._writer.join(timeout=self.config.commit_timeout_s + 5)
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.engine.dispose()


__all__ = [
    "METADATA",
    "IdempotencyConflictError",
    "Idempotent",
    "PredictionStore",
    "StoreBusyError",
    "StoreObserver",
    "as_utc",
    "make_engine",
]
