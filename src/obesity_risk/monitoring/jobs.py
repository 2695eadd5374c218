"""Report jobs kept in the prediction store's database, so every API worker sees every job.

A job is ``queued`` when requested, ``running`` once it holds one of the
``monitoring.max_concurrent_builds`` slots (counted across all workers, atomically), then
``done`` or ``failed``. A running job older than ``monitoring.job_timeout_s`` reads as failed
and frees its slot (its process died). Finished jobs beyond ``monitoring.keep_jobs`` are pruned.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel

from obesity_risk.config import Settings
from obesity_risk.errors import ObesityRiskError
from obesity_risk.monitoring.contracts import ReportWindow
from obesity_risk.monitoring.store import make_engine
from obesity_risk.monitoring.tables import REPORT_JOBS, create_tables

Status = Literal["queued", "running", "done", "failed"]
_ACTIVE = ("queued", "running")


class JobsBusyError(ObesityRiskError):
    """Too many report jobs queued or running (HTTP 429)."""


class ReportLink(BaseModel):
    """One report a job built, with the URL that serves it."""

    kind: str
    html: str
    json_path: str
    url: str
    fired: list[str] = []
    window: ReportWindow | None = None


class ReportJob(BaseModel):
    """A report build and, once done, where its reports are."""

    id: str
    status: Status
    kind: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status_url: str
    error: str | None = None
    reports: list[ReportLink] = []


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class JobStore:
    """Report jobs of one configuration (the prediction store's database)."""

    def __init__(self, settings: Settings) -> None:
        self.cfg = settings.monitoring
        self.engine = make_engine(settings.prediction_store_url, settings.serving.store)
        create_tables(self.engine)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def _stale_before(self) -> datetime:
        return _now() - timedelta(seconds=self.cfg.job_timeout_s)

    def _lock(self, conn: sa.Connection) -> None:
        """Serialize slot accounting across processes: the first statement of the transaction
        takes a lock held to its end, so a count and the update after it are atomic."""
        if self.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(740012)")
        elif self.engine.dialect.name == "sqlite":
            # the driver opens a transaction only at the first write: take the write lock now
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _active(self, conn: sa.Connection, status: str) -> int:
        query = sa.select(sa.func.count()).where(REPORT_JOBS.c.status == status)
        if status == "running":
            query = query.where(REPORT_JOBS.c.started_at >= self._stale_before())
        else:
            query = query.where(REPORT_JOBS.c.created_at >= self._stale_before())
        return int(conn.execute(query).scalar_one())

    def create(self, kind: str, request: dict[str, Any]) -> ReportJob:
        """Queue a job, or refuse when the queue is full (all workers counted)."""
        job_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            self._lock(conn)
            active = sum(self._active(conn, s) for s in _ACTIVE)
            limit = self.cfg.max_concurrent_builds + self.cfg.max_queued_builds
            if active >= limit:
                raise JobsBusyError(
                    f"{active} report builds already queued or running (limit {limit})"
                )
            conn.execute(
                REPORT_JOBS.insert().values(
                    id=job_id,
                    kind=kind,
                    status="queued",
                    created_at=_now(),
                    request=json.dumps(request, default=str),
                )
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def claim(self, job_id: str, poll_s: float = 0.5) -> bool:
        """Wait for a free build slot and take it; False if the job timed out waiting."""
        deadline = time.monotonic() + self.cfg.job_timeout_s
        while time.monotonic() < deadline:
            with self.engine.begin() as conn:
                self._lock(conn)
                if self._active(conn, "running") < self.cfg.max_concurrent_builds:
                    taken = conn.execute(
                        REPORT_JOBS.update()
                        .where(REPORT_JOBS.c.id == job_id, REPORT_JOBS.c.status == "queued")
                        .values(status="running", started_at=_now())
                    ).rowcount
                    return bool(taken)
            time.sleep(poll_s)
        self.finish(job_id, error="timed out waiting for a build slot")
        return False

    def finish(
        self, job_id: str, reports: list[ReportLink] | None = None, error: str | None = None
    ) -> None:
        """Record the outcome: the reports built, or the error."""
        with self.engine.begin() as conn:
            conn.execute(
                REPORT_JOBS.update()
                .where(REPORT_JOBS.c.id == job_id)
                .values(
                    status="failed" if error is not None else "done",
                    finished_at=_now(),
                    error=error,
                    reports=json.dumps(
                        [r.model_dump(mode="json", by_alias=True) for r in reports or []]
                    ),
                )
            )
        self.prune()

    def get(self, job_id: str) -> ReportJob | None:
        """A job as any worker sees it (a running job past its timeout reads as failed)."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(REPORT_JOBS).where(REPORT_JOBS.c.id == job_id))
                .mappings()
                .first()
            )
        if row is None:
            return None
        status, error = row["status"], row["error"]
        started = _utc(row["started_at"]) or _utc(row["created_at"])
        if status in _ACTIVE and started is not None and started < self._stale_before():
            status, error = "failed", f"no result after {self.cfg.job_timeout_s:g} s"
        return ReportJob(
            id=row["id"],
            status=status,
            kind=row["kind"],
            created_at=_utc(row["created_at"]),
            started_at=_utc(row["started_at"]),
            finished_at=_utc(row["finished_at"]),
            status_url=f"/monitoring/reports/{row['id']}",
            error=error,
            reports=[ReportLink.model_validate(r) for r in json.loads(row["reports"] or "[]")],
        )

    def prune(self) -> int:
        """Delete finished jobs beyond the newest ``keep_jobs``; return how many."""
        with self.engine.begin() as conn:
            finished = REPORT_JOBS.c.status.in_(("done", "failed"))
            keep = (
                sa.select(REPORT_JOBS.c.id)
                .where(finished)
                .order_by(REPORT_JOBS.c.created_at.desc())
                .limit(self.cfg.keep_jobs)
            )
            ids = [r[0] for r in conn.execute(keep)]
            return conn.execute(
                REPORT_JOBS.delete().where(finished, REPORT_JOBS.c.id.not_in(ids))
            ).rowcount
