"""The prediction log's transactions, run by its writer thread only (a mixin of
:class:`~obesity_risk.monitoring.store.PredictionStore`): one transaction per group of waiting
requests, the driver's ``executemany`` on a kept connection when no request has an idempotency
key, and one transaction per request when the database refuses some row (isolation)."""

from __future__ import annotations

import contextlib
from typing import Any

import sqlalchemy as sa
from loguru import logger

from obesity_risk.monitoring.idempotency import claim, recover
from obesity_risk.monitoring.pending import Pending

COLUMNS = ("request_id", "created_at", "model_version", "label", "probabilities", "inputs")


class GroupCommitMixin:
    """Needs ``engine``, ``_raw`` (the writer's driver connection or None), ``_insert_sql``,
    ``_positional``, ``_error`` and ``_ensure_schema()`` from the store."""

    engine: sa.Engine
    _raw: Any
    _insert_sql: str
    _positional: bool
    _error: str | None

    def _commit(self, batch: list[Pending]) -> None:
        """One transaction for the batch; on a data error or a key another writer took, one
        per request (isolation)."""
        dbapi = self.engine.dialect.loaded_dbapi
        try:
            self._ensure_schema()
            if any(p.once is not None for p in batch):
                with self.engine.begin() as conn:
                    self._insert(conn, batch)
            else:
                self._insert_raw(batch)
            self._error = None
            return
        except (sa.exc.IntegrityError, sa.exc.DataError, dbapi.IntegrityError, dbapi.DataError):
            pass  # some request's rows are refused: find which, commit the others
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # connection lost, timeout, disk full: nothing committed, every waiting request told
            self._error = str(exc).splitlines()[0][:300]
            logger.error("prediction store write failed: {}", self._error)
            for pending in batch:
                pending.error = exc
            return
        for pending in batch:  # in order: a later duplicate finds an earlier one's key
            pending.reset()
            try:
                with self.engine.begin() as conn:
                    self._insert(conn, [pending])
            except sa.exc.IntegrityError as exc:
                with contextlib.suppress(Exception):
                    if recover(self.engine, pending):
                        continue
                pending.reset()
                pending.error = exc
            except Exception as exc:  # pylint: disable=broad-exception-caught
                pending.reset()
                pending.error = exc

    def _insert_raw(self, batch: list[Pending]) -> None:
        """The common case (no idempotency keys): the driver's ``executemany`` and ``commit`` on
        a connection this writer thread keeps, without SQLAlchemy's per-transaction work (most
        of a one-row commit). A failed connection is dropped and opened again next time."""
        rows = [row for p in batch for row in p.rows]
        params = rows if self._positional else [dict(zip(COLUMNS, r, strict=True)) for r in rows]
        if self._raw is None:
            self._raw = self.engine.raw_connection()
        try:
            cursor = self._raw.cursor()
            cursor.executemany(self._insert_sql, params)
            cursor.close()
            self._raw.commit()
        except Exception:
            raw, self._raw = self._raw, None
            with contextlib.suppress(Exception):
                raw.rollback()
            with contextlib.suppress(Exception):
                raw.invalidate()
            raise

    def _insert(self, conn: sa.Connection, batch: list[Pending]) -> None:
        claim(conn, batch)  # the keys first: a retry or a conflict logs no rows
        rows = [row for p in batch if p.logs for row in p.rows]
        if rows:
            params = (
                rows if self._positional else [dict(zip(COLUMNS, r, strict=True)) for r in rows]
            )
            conn.exec_driver_sql(self._insert_sql, params)
