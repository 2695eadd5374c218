"""Monitoring reports over the prediction log: one parametrised route family.

``POST /monitoring/reports`` starts a build in a separate, lower-priority process (bounded
pool) and answers 202; ``GET /monitoring/reports/{id}`` tells its status and links the HTML;
``GET /monitoring/reports/latest/{kind}`` serves the newest report of a kind.
"""

import contextlib
import os
import re
import uuid
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from obesity_risk.api.deps import SettingsDep
from obesity_risk.api.schemas import ErrorBody
from obesity_risk.config import Settings
from obesity_risk.errors import ObesityRiskError
from obesity_risk.monitoring import KINDS

router = APIRouter(prefix="/monitoring", tags=["monitoring"])
Kind = Literal["data-drift", "data-quality", "target-drift", "performance"]
_FILE = re.compile(r"^[\w.-]+\.(html|json)$")


class ReportRequest(BaseModel):
    """Which reports, over which window of the prediction log (default: all of it, sampled)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["all"] | Kind = "all"
    last: int | None = Field(None, ge=1, description="the last N logged predictions")
    since: datetime | None = Field(None, description="logged predictions since this ISO time")

    @field_validator("since", mode="before")
    @classmethod
    def _iso_text_only(cls, value: Any) -> Any:
        """Numbers are not times here (pydantic would read 0 as the Unix epoch)."""
        if value is not None and not isinstance(value, str):
            raise ValueError("since must be an ISO 8601 date-time string")
        return value


class ReportJob(BaseModel):
    """A report build and, once done, where its reports are."""

    id: str
    status: Literal["running", "done", "failed"]
    kind: str
    created_at: str
    status_url: str
    error: str | None = None
    reports: list[dict[str, Any]] = []


def build_job(
    settings: Settings, kinds: list[str] | None, last: int | None, since: datetime | None
) -> list[dict[str, Any]]:
    """Runs in the report process: the same package function as the CLI (Evidently is
    imported there, not in the server)."""
    from obesity_risk.monitoring.service import Window, run_reports

    return run_reports(settings, kinds, Window(last=last, since=since))


def lower_priority() -> None:
    """Report-process initializer: builds yield the CPU to serving."""
    with contextlib.suppress(OSError):
        os.nice(10)


def get_jobs(request: Request) -> dict[str, ReportJob]:
    """Jobs of this process."""
    return request.app.state.report_jobs


JobsDep = Annotated[dict[str, ReportJob], Depends(get_jobs)]


def _links(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    links = []
    for item in results:
        name = item["html"].rsplit("/", 1)[-1]
        links.append({**item, "url": f"/monitoring/files/{name}"})
    return links


@router.post(
    "/reports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReportJob,
    responses={
        400: {"model": ErrorBody, "description": "the body is not decodable JSON"},
        429: {"model": ErrorBody, "description": "too many builds running"},
    },
)
def start_report(
    body: ReportRequest, request: Request, jobs: JobsDep, settings: SettingsDep
) -> ReportJob:
    """Start building report(s) over the prediction log; poll the status URL."""
    running = sum(job.status == "running" for job in jobs.values())
    if running >= settings.monitoring.max_concurrent_builds * 4:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, f"{running} report builds already queued"
        )
    job_id = uuid.uuid4().hex
    job = ReportJob(
        id=job_id,
        status="running",
        kind=body.kind,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        status_url=f"/monitoring/reports/{job_id}",
    )
    jobs[job_id] = job
    kinds = None if body.kind == "all" else [body.kind]
    future: Future = request.app.state.report_pool.submit(
        build_job, settings, kinds, body.last, body.since
    )

    def finished(done: Future) -> None:
        try:
            results = done.result()
        except ObesityRiskError as exc:
            jobs[job_id] = job.model_copy(update={"status": "failed", "error": str(exc)})
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # a crash in the report process must still end the job, with its reason
            jobs[job_id] = job.model_copy(
                update={"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            )
        else:
            jobs[job_id] = job.model_copy(update={"status": "done", "reports": _links(results)})

    future.add_done_callback(finished)
    return job


@router.get(
    "/reports/latest/{kind}", response_class=FileResponse, responses={404: {"model": ErrorBody}}
)
def latest_report(kind: Kind, settings: SettingsDep) -> FileResponse:
    """The newest HTML report of ``kind``."""
    path = settings.reports_dir / "monitoring" / f"latest-{kind}.html"
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {kind} report yet")
    return FileResponse(path, media_type="text/html")


@router.get("/reports/{job_id}", response_model=ReportJob, responses={404: {"model": ErrorBody}})
def report_status(job_id: str, jobs: JobsDep) -> ReportJob:
    """Status of a build; when done, the reports with their URLs."""
    if job_id not in jobs:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report job {job_id}")
    return jobs[job_id]


@router.get("/files/{name}", response_class=FileResponse, responses={404: {"model": ErrorBody}})
def report_file(name: str, settings: SettingsDep) -> FileResponse:
    """A generated report (HTML) or its metrics (JSON), by file name."""
    path = settings.reports_dir / "monitoring" / name
    if not _FILE.match(name) or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report file {name}")
    return FileResponse(
        path, media_type="text/html" if name.endswith(".html") else "application/json"
    )


assert set(KINDS) == set(Kind.__args__)  # the Literal mirrors the package's kinds
