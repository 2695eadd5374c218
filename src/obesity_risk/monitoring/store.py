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
idempotency key makes a retried request log its rows once.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import sqlalchemy as sa
from loguru import logger
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from obesity_risk.config.settings import StoreConfig
from obesity_risk.errors import StoreError
from obesity_risk.monitoring.tables import METADATA, PREDICTIONS, REQUESTS, create_tables

COLUMNS = ("request_id", "created_at", "model_version", "label", "probabilities", "inputs")
PROBE_INTERVAL_S = 1.0


class StoreBusyError(StoreError):
    """The write queue is full: retry later (HTTP 503 + Retry-After)."""


@dataclass
class _Pending:
    rows: list[tuple[Any, ...]]
    key: str | None = None
    request_id: str = ""
    duplicate_of: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, the time zone of the log; a naive time is taken as UTC."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def safe_url(url: str) -> str:
    """The URL with its password hidden."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return url.rsplit("@", maxsplit=1)[-1]


def make_engine(url: str, cfg: StoreConfig) -> sa.Engine:
    """Engine with connect/statement timeouts and the configured SQLite durability."""
    try:
        backend = sa.engine.make_url(url).get_backend_name()
        if backend == "sqlite":
            engine = sa.create_engine(url, connect_args={"timeout": cfg.statement_timeout_s})
            database = engine.url.database
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)

            def pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
                cursor.execute(f"PRAGMA synchronous={cfg.synchronous.upper()}")
                cursor.execute(f"PRAGMA busy_timeout={cfg.statement_timeout_s * 1000}")
                cursor.close()

            event.listen(engine, "connect", pragmas)
            return engine
        connect_args: dict[str, Any] = {}
        if backend == "postgresql":
            connect_args = {
                "connect_timeout": cfg.connect_timeout_s,
                "options": f"-c statement_timeout={cfg.statement_timeout_s * 1000}",
            }
        return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except (SQLAlchemyError, OSError, ImportError, ValueError) as exc:
        raise StoreError(
            f"prediction store {safe_url(url)} is unusable: {exc}".splitlines()[0]
        ) from exc


class PredictionStore:
    """Append-only prediction log with group commit. Opening it never blocks on the database:
    the writer thread connects, creates the tables and keeps probing while it is down."""

    def __init__(self, url: str, config: StoreConfig | None = None) -> None:
        self.url = url
        self.config = config or StoreConfig()
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
        self._queue: queue.Queue[_Pending | None] = queue.Queue(maxsize=self.config.queue_max)
        self._writer = threading.Thread(target=self._run, name="prediction-store", daemon=True)
        self._writer.start()

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

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            create_tables(self.engine)
            self._schema_ready = True

    # ------------------------------------------------------------------ writing
    def write(
        self,
        request_id: str,
        model_version: str | None,
        records: list[dict[str, Any]],
        labels: list[str],
        probabilities: list[dict[str, float]],
        idempotency_key: str | None = None,
    ) -> str:
        """Persist one request's predictions; return once committed.

        Returns:
            The request id the rows are logged under: ``request_id``, or the original request's
            id when ``idempotency_key`` was already logged (nothing is written twice).

        Raises:
            StoreBusyError: the queue is full (nothing queued). StoreError: not committed in time,
                or the database refused it (the request must not be acknowledged).
        """
        now = self._timestamp(datetime.now(UTC))
        pending = _Pending(
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
            key=idempotency_key,
            request_id=request_id,
        )
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            raise StoreBusyError(
                f"prediction store queue full ({self.config.queue_max} requests waiting)"
            ) from None
        if not pending.done.wait(self.config.commit_timeout_s):
            raise StoreError(
                f"prediction store did not commit within {self.config.commit_timeout_s:g} s"
            )
        if pending.error is not None:
            raise StoreError(f"prediction store failed: {pending.error}".splitlines()[0])
        return pending.duplicate_of or request_id

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
            self._inflight_since = time.monotonic()
            try:
                self._commit(batch)
            finally:
                self._inflight_since = None
            for pending in batch:
                pending.done.set()

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

    def _commit(self, batch: list[_Pending]) -> None:
        """One transaction for the batch; on a data error, one per request (isolation)."""
        try:
            self._ensure_schema()
            with self.engine.begin() as conn:
                self._insert(conn, batch)
            self._error = None
            return
        except (sa.exc.IntegrityError, sa.exc.DataError):
            pass  # some request's rows are refused: find which, commit the others
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # connection lost, timeout, disk full: nothing committed, every waiting request told
            self._error = str(exc).splitlines()[0][:300]
            logger.error("prediction store write failed: {}", self._error)
            for pending in batch:
                pending.error = exc
            return
        for pending in batch:
            pending.duplicate_of = None
            try:
                with self.engine.begin() as conn:
                    self._insert(conn, [pending])
            except sa.exc.IntegrityError as exc:
                if pending.key is not None and self._original(pending.key) is not None:
                    pending.duplicate_of = self._original(pending.key)
                else:
                    pending.error = exc
            except Exception as exc:  # pylint: disable=broad-exception-caught
                pending.error = exc

    def _insert(self, conn: sa.Connection, batch: list[_Pending]) -> None:
        keyed = {p.key: p for p in batch if p.key is not None}
        if keyed:
            seen = conn.execute(
                sa.select(REQUESTS.c.idempotency_key, REQUESTS.c.request_id).where(
                    REQUESTS.c.idempotency_key.in_(list(keyed))
                )
            ).all()
            for key, original in seen:
                keyed[key].duplicate_of = original
            fresh = [p for p in keyed.values() if p.duplicate_of is None]
            if fresh:
                conn.execute(
                    REQUESTS.insert(),
                    [
                        {"idempotency_key": p.key, "request_id": p.request_id, "created_at": now}
                        for p in fresh
                        for now in [datetime.now(UTC)]
                    ],
                )
        rows = [row for p in batch if p.duplicate_of is None for row in p.rows]
        if rows:
            params = (
                rows if self._positional else [dict(zip(COLUMNS, r, strict=True)) for r in rows]
            )
            conn.exec_driver_sql(self._insert_sql, params)

    def _original(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(REQUESTS.c.request_id).where(REQUESTS.c.idempotency_key == key)
            ).scalar_one_or_none()

    def close(self) -> None:
        """Flush what is queued and stop the writer."""
        self._queue.put(None)
        self._writer.join(timeout=self.config.commit_timeout_s + 5)
        self.engine.dispose()

    # ------------------------------------------------------------------ reading
    def _reading(self) -> None:
        try:
            self._ensure_schema()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"prediction store {safe_url(self.url)} is unusable: {exc}".splitlines()[0]
            ) from exc

    def count(self) -> int:
        """Number of logged predictions."""
        self._reading()
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(PREDICTIONS)).scalar_one()
            )

    def read(self, last: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        """Logged predictions as a frame: input columns + ``prediction`` + metadata columns."""
        self._reading()
        query = sa.select(PREDICTIONS).order_by(PREDICTIONS.c.id.desc())
        if since is not None:
            query = query.where(PREDICTIONS.c.created_at >= as_utc(since))
        if last is not None:
            query = query.limit(last)
        with self.engine.connect() as conn:
            rows = list(reversed(conn.execute(query).mappings().all()))
        if not rows:
            return pd.DataFrame()
        inputs = pd.DataFrame([orjson.loads(r["inputs"]) for r in rows])
        meta = pd.DataFrame(
            {
                "request_id": [r["request_id"] for r in rows],
                "created_at": [r["created_at"] for r in rows],
                "model_version": [r["model_version"] for r in rows],
                "prediction": [r["label"] for r in rows],
            }
        )
        return pd.concat([inputs, meta], axis=1)


__all__ = ["METADATA", "PredictionStore", "StoreBusyError", "as_utc"]
