"""Monitoring reports over the prediction log: one parametrised route family.

``POST /monitoring/reports`` starts a build in a separate, lower-priority process (bounded
pool) and answers 202; ``GET /monitoring/reports/{id}`` tells its status and links the HTML;
``GET /monitoring/reports/latest/{kind}`` serves the newest report of a kind.
"""

import contextlib
import importlib.util
import os
import re
from concurrent.futures import Future
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.exc import SQLAlchemyError

from obesity_risk.api.deps import AdminDep, SettingsDep
from obesity_risk.api.files import served_file
from obesity_risk.api.schemas import ADMIN_ERRORS, BODY_ERRORS, ErrorBody
from obesity_risk.config import Settings
from obesity_risk.errors import ObesityRiskError
from obesity_risk.monitoring import KINDS, MAX_LAST
from obesity_risk.monitoring.contracts import ReportRun
from obesity_risk.monitoring.jobs import JobsBusyError, JobStore, ReportJob, ReportLink

router = APIRouter(prefix="/monitoring", tags=["monitoring"])
Kind = Literal["data-drift", "data-quality", "target-drift", "performance"]
_FILE = re.compile(r"^[\w.-]+\.(html|json)$")


class ReportRequest(BaseModel):
    """Which reports, over which window of the prediction log (default: all of it, sampled)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["all"] | Kind = "all"
    last: int | None = Field(None, ge=1, le=MAX_LAST, description="the last N logged predictions")
    since: datetime | None = Field(None, description="logged predictions since this ISO time")

    @field_validator("since", mode="before")
    @classmethod
    def _iso_text_only(cls, value: Any) -> Any:
        """Numbers are not times here (pydantic would read 0 as the Unix epoch)."""
        if value is not None and not isinstance(value, str):
            raise ValueError("since must be an ISO 8601 date-time string")
        return value


def build_job(
    settings: Settings, job_id: str, kinds: list[str] | None, window: dict[str, Any]
) -> None:
    """Runs in the report process: wait for a build slot (shared by all workers), build with
    the same package function as the CLI, record the outcome in the database."""
    from obesity_risk.monitoring.service import Window, run_reports

    jobs = JobStore(settings)
    try:
        if not jobs.claim(job_id):
            return
        try:
            results = run_reports(settings, kinds, Window(**window))
        except ObesityRiskError as exc:
            jobs.finish(job_id, error=str(exc))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # a crash in the build must still end the job, with its reason
            jobs.finish(job_id, error=f"{type(exc).__name__}: {exc}")
        else:
            jobs.finish(job_id, reports=_links(results))
    finally:
        jobs.close()


def lower_priority() -> None:
    """Report-process initializer: builds yield the CPU to serving."""
    with contextlib.suppress(OSError):
        os.nice(10)


def get_jobs(request: Request) -> JobStore:
    """The shared job table (opened on first use; 503 while the database is down)."""
    jobs = getattr(request.app.state, "jobs", None)
    if jobs is None:
        try:
            jobs = JobStore(request.app.state.settings)
        except (ObesityRiskError, SQLAlchemyError) as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"report jobs unavailable: {str(exc).splitlines()[0]}",
            ) from exc
        request.app.state.jobs = jobs
    return jobs


JobsDep = Annotated[JobStore, Depends(get_jobs)]


def _links(results: ReportRun) -> list[ReportLink]:
    return [
        ReportLink(
            kind=item.kind,
            html=item.html,
            json_path=item.json_path,
            url=f"/monitoring/files/{item.html.rsplit('/', 1)[-1]}",
            fired=item.fired,
            window=item.window,
        )
        for item in results
    ]


@router.post(
    "/reports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReportJob,
    dependencies=[AdminDep],
    responses={
        **BODY_ERRORS,
        **ADMIN_ERRORS,
        429: {"model": ErrorBody, "description": "too many builds queued or running"},
        503: {
            "model": ErrorBody,
            "description": "the job database is unavailable, or this installation has no"
            " report builder (the serving image)",
        },
    },
)
def start_report(
    body: ReportRequest, request: Request, jobs: JobsDep, settings: SettingsDep
) -> ReportJob:
    """Start building report(s) over the prediction log; poll the status URL (any worker)."""
    if importlib.util.find_spec("evidently") is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "this installation builds no reports (Evidently is not installed: the serving"
            " image); the monitor service or the research image builds them, and"
            " GET /monitoring/reports/latest/{kind} serves what they wrote",
        )
    window = {"last": body.last, "since": body.since}
    try:
        job = jobs.create(body.kind, window)
    except JobsBusyError as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc)) from exc
    except SQLAlchemyError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"report jobs unavailable: {exc}".splitlines()[0]
        ) from exc
    kinds = None if body.kind == "all" else [body.kind]
    future: Future = request.app.state.report_pool.submit(
        build_job, settings, job.id, kinds, window
    )

    def crashed(done: Future) -> None:
        exc = done.exception()
        if exc is not None:  # the report process itself died
            with contextlib.suppress(SQLAlchemyError):
                jobs.finish(job.id, error=f"{type(exc).__name__}: {exc}")

    future.add_done_callback(crashed)
    return job


@router.get(
    "/reports/latest/{kind}", response_class=FileResponse, responses={404: {"model": ErrorBody}}
)
def latest_report(kind: Kind, settings: SettingsDep) -> StreamingResponse:
    """The newest HTML report of ``kind``."""
    name = f"latest-{kind}.html"
    response = served_file(settings.reports_dir, "monitoring", name, media_type="text/html")
    if response is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {kind} report yet")
    return response


@router.get(
    "/reports/{job_id}",
    response_model=ReportJob,
    responses={404: {"model": ErrorBody}, 503: {"model": ErrorBody}},
)
def report_status(job_id: str, jobs: JobsDep) -> ReportJob:
    """Status of a build (from any worker); when done, the reports with their URLs."""
    try:
        job = jobs.get(job_id)
    except SQLAlchemyError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"report jobs unavailable: {exc}".splitlines()[0]
        ) from exc
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report job {job_id}")
    return job


@router.get("/files/{name}", response_class=FileResponse, responses={404: {"model": ErrorBody}})
def report_file(name: str, settings: SettingsDep) -> StreamingResponse:
    """A generated report (HTML) or its metrics (JSON), by file name (no symlink is served)."""
    media = "text/html" if name.endswith(".html") else "application/json"
    response = (
        served_file(settings.reports_dir, "monitoring", name, media_type=media)
        if _FILE.match(name)
        else None
    )
    if response is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report file {name}")
    return response


assert set(KINDS) == set(Kind.__args__)  # the Literal mirrors the package's kinds
