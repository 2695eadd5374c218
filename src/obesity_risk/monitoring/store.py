"""Prediction log: every served prediction, durable before the API acknowledges it.

Any SQLAlchemy URL works (embedded SQLite by default, PostgreSQL in production). Writes from
concurrent requests are grouped: a writer thread inserts everything queued in one transaction,
commits, and only then releases the waiting requests (group commit), so an acknowledged
prediction is on disk, and concurrent requests share one commit instead of paying one each.
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

from obesity_risk.errors import StoreError

METADATA = sa.MetaData()
PREDICTIONS = sa.Table(
    "predictions",
    METADATA,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("model_version", sa.String(64)),
    sa.Column("label", sa.String(128), nullable=False),
    sa.Column("probabilities", sa.Text, nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),
)


COLUMNS = ("request_id", "created_at", "model_version", "label", "probabilities", "inputs")


@dataclass
class _Pending:
    rows: list[tuple[Any, ...]]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute(
        "PRAGMA synchronous=NORMAL"
    )  # WAL + NORMAL: committed rows survive a process kill
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _create_tables(engine: sa.Engine, attempts: int = 5) -> None:
    """Create the table if missing. Several workers may start together: the DDL runs in one
    transaction, so a loser of the race ("already exists") retries and finds it in place."""
    for attempt in range(attempts):
        try:
            METADATA.create_all(engine)
            return
        except SQLAlchemyError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, the time zone of the log; a naive time is taken as UTC."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


class PredictionStore:
    """Append-only prediction log with group commit."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
            if self.engine.dialect.name == "sqlite":
                database = self.engine.url.database
                if database and database != ":memory:":
                    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                event.listen(self.engine, "connect", _sqlite_pragmas)
            _create_tables(self.engine)
            # one INSERT compiled for this database, executed by the driver's executemany:
            # a 10,000-row batch skips SQLAlchemy's per-row parameter processing
            dialect = self.engine.dialect
            compiled = PREDICTIONS.insert().compile(dialect=dialect, column_keys=list(COLUMNS))
            self._insert_sql = str(compiled)
            self._positional = bool(compiled.positional)
            if self._positional and tuple(compiled.positiontup or ()) != COLUMNS:
                raise StoreError(f"unexpected INSERT parameter order: {compiled.positiontup}")
            self._timestamp = PREDICTIONS.c.created_at.type.dialect_impl(dialect).bind_processor(
                dialect
            ) or (lambda value: value)
        except (SQLAlchemyError, OSError, ImportError) as exc:
            safe = (
                sa.engine.make_url(url).render_as_string(hide_password=True)
                if "://" in url
                else url
            )
            raise StoreError(f"prediction store {safe} is unusable: {exc}".splitlines()[0]) from exc
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._writer = threading.Thread(target=self._run, name="prediction-store", daemon=True)
        self._writer.start()

    # ------------------------------------------------------------------ writing
    def write(
        self,
        request_id: str,
        model_version: str | None,
        records: list[dict[str, Any]],
        labels: list[str],
        probabilities: list[dict[str, float]],
        timeout: float = 30.0,
    ) -> None:
        """Persist one request's predictions; returns once they are committed.

        Raises:
            RuntimeError: the store could not commit (the request must not be acknowledged).
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
            ]
        )
        self._queue.put(pending)
        if not pending.done.wait(timeout):
            raise RuntimeError(f"prediction store did not commit within {timeout:.0f}s")
        if pending.error is not None:
            raise RuntimeError(f"prediction store failed: {pending.error}") from pending.error

    def _run(self) -> None:
        while True:
            first = self._queue.get()
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
            try:
                rows = [row for p in batch for row in p.rows]
                params = (
                    rows if self._positional else [dict(zip(COLUMNS, r, strict=True)) for r in rows]
                )
                with self.engine.begin() as conn:
                    conn.exec_driver_sql(self._insert_sql, params)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                # whatever failed, every waiting request is told (none is acknowledged)
                logger.error("prediction store write failed: {}", exc)
                for pending in batch:
                    pending.error = exc
            for pending in batch:
                pending.done.set()

    def close(self) -> None:
        """Flush what is queued and stop the writer."""
        self._queue.put(None)
        self._writer.join(timeout=30)
        self.engine.dispose()

    # ------------------------------------------------------------------ reading
    def count(self) -> int:
        """Number of logged predictions."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(PREDICTIONS)).scalar_one()
            )

    def read(self, last: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        """Logged predictions as a frame: input columns + ``prediction`` + metadata columns."""
        query = sa.select(PREDICTIONS).order_by(PREDICTIONS.c.id.desc())
        if since is not None:
            query = query.where(PREDICTIONS.c.created_at >= as_utc(since))
        if last is not None:
            query = query.limit(last)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        if not rows:
            return pd.DataFrame()
        inputs = pd.DataFrame([orjson.loads(r["inputs"]) for r in reversed(rows)])
        meta = pd.DataFrame(
            {
                "request_id": [r["request_id"] for r in reversed(rows)],
                "created_at": [r["created_at"] for r in reversed(rows)],
                "model_version": [r["model_version"] for r in reversed(rows)],
                "prediction": [r["label"] for r in reversed(rows)],
            }
        )
        return pd.concat([inputs, meta], axis=1)
