"""Report jobs live in the database: every worker sees every job, the build cap is global,
old jobs and report files are pruned with the index kept consistent."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from obesity_risk.data import load_dataset
from obesity_risk.monitoring import reports
from obesity_risk.monitoring.jobs import JobsBusyError, JobStore
from obesity_risk.registry.publish import export_local
from obesity_risk.training.evaluation import reference_frame
from tests.helpers.models import make_card
from tests.helpers.paths import TRAIN_CSV, UCI_CSV
from tests.helpers.servers import serve, wait_all
from tests.helpers.settings import quiet_settings

pytestmark = pytest.mark.slow
TOKEN = "jobs-admin-token-0123456789"


@pytest.fixture(params=["sqlite", "postgresql"])
def job_settings(request, tmp_path: Path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/jobs.db"
    else:
        url = request.getfixturevalue("postgres").create_database(f"jobs_{tmp_path.name[-12:]}")
    return quiet_settings(
        tmp_path,
        serving={"prediction_store": url},
        monitoring={"max_concurrent_builds": 1, "max_queued_builds": 2, "keep_jobs": 2},
    )


def test_the_build_cap_is_global_and_jobs_are_shared(job_settings) -> None:
    worker_a, worker_b = JobStore(job_settings), JobStore(job_settings)  # two processes' views
    try:
        first = worker_a.create("data-drift", {})
        second = worker_b.create("data-drift", {})
        assert worker_b.get(first.id).status == "queued"  # visible from the other worker
        assert worker_a.claim(first.id)
        claimed = threading.Event()
        thread = threading.Thread(target=lambda: worker_b.claim(second.id, 0.1) and claimed.set())
        thread.start()
        time.sleep(1.0)
        assert not claimed.is_set()  # one build at a time across workers
        assert worker_b.get(second.id).status == "queued"
        worker_a.finish(first.id, reports=[])
        thread.join(10)
        assert claimed.is_set() and worker_a.get(second.id).status == "running"
        worker_a.create("data-drift", {})
        worker_a.create("data-drift", {})
        with pytest.raises(JobsBusyError, match="3 report builds already queued or running"):
            worker_b.create("data-drift", {})
        worker_b.finish(second.id, error="boom")
        assert worker_a.get(second.id).error == "boom"
    finally:
        worker_a.close()
        worker_b.close()


def test_simultaneous_claims_take_one_slot(job_settings) -> None:
    """Two workers counting the running builds at the same moment: only one may take the slot
    (a pause after each count widens the race window so a non-atomic check always fails)."""
    worker_a, worker_b = JobStore(job_settings), JobStore(job_settings)
    for store in (worker_a, worker_b):

        def pause(_conn, _cursor, statement, *_args) -> None:
            if statement.lstrip().upper().startswith("SELECT COUNT"):
                time.sleep(0.3)

        sa.event.listen(store.engine, "after_cursor_execute", pause)
    try:
        jobs = [worker_a.create("data-drift", {}), worker_b.create("data-drift", {})]
        start, taken = threading.Barrier(2), []

        def claim(store: JobStore, job_id: str) -> None:
            start.wait()
            taken.append(store.claim(job_id, poll_s=30))

        threads = [
            threading.Thread(target=claim, args=(store, job.id), daemon=True)
            for store, job in zip((worker_a, worker_b), jobs, strict=True)
        ]
        for thread in threads:
            thread.start()
        time.sleep(3)
        assert taken == [True]  # the other one is still waiting for the slot
        assert sorted(worker_a.get(j.id).status for j in jobs) == ["queued", "running"]
    finally:
        worker_a.close()
        worker_b.close()


def test_finished_jobs_are_pruned_and_dead_builds_time_out(job_settings) -> None:
    settings = job_settings.model_copy(
        update={"monitoring": job_settings.monitoring.model_copy(update={"job_timeout_s": 1})}
    )
    jobs = JobStore(settings)
    try:
        ids = []
        for _ in range(4):
            job = jobs.create("data-drift", {})
            ids.append(job.id)
            jobs.finish(job.id, reports=[])
        assert [jobs.get(i) is not None for i in ids] == [False, False, True, True]
        stuck = jobs.create("data-drift", {})
        assert jobs.claim(stuck.id)
        time.sleep(1.5)  # its process died: no result within job_timeout_s
        late = jobs.get(stuck.id)
        assert late.status == "failed" and "no result after 1 s" in late.error
        fresh = jobs.create("data-drift", {})
        assert jobs.claim(fresh.id)  # the dead build does not hold the slot
    finally:
        jobs.close()


def test_report_files_are_pruned_and_the_index_follows(tmp_path: Path, small_pipeline) -> None:
    settings = quiet_settings(tmp_path)
    out = tmp_path / "monitoring"
    out.mkdir()
    for stamp in ("20260101T000000000000Z", "20260102T000000000000Z", "20260103T000000000000Z"):
        for kind in ("data-drift", "performance"):
            (out / f"{stamp}-{kind}.html").write_text("<html></html>")
            (out / f"{stamp}-{kind}.json").write_text(
                f'{{"kind": "{kind}", "created_at": "{stamp}", "model_version": "3"}}'
            )
    deleted = reports.prune_reports(out, keep=2)
    assert sorted(p.name for p in deleted) == sorted(
        f"20260101T000000000000Z-{k}.{e}"
        for k in ("data-drift", "performance")
        for e in ("html", "json")
    )
    index = (out / "index.html").read_text()
    assert "20260101" not in index and index.count("<tr data-kind=") == 4
    del settings


def _record_and_prune(out: Path, worker: int, rounds: int) -> None:
    """One process of the test below: record reports and prune, as a build does."""
    for i in range(rounds):
        stamp = f"20260101T{worker:02d}{i:04d}000000Z"
        html = out / f"{stamp}-data-drift.html"
        html.write_text("<html></html>")
        result = reports.ReportResult(
            "data-drift", html, html.with_suffix(".json"), out / "latest-data-drift.html",
            {"kind": "data-drift", "created_at": stamp, "model_version": "3"},
        )  # fmt: skip
        reports.record_decisions(result, {})
        reports.prune_reports(out, keep=2)


def test_concurrent_builds_keep_the_folder_and_index_consistent(tmp_path: Path) -> None:
    """Four processes recording and pruning at once: no error, no orphan file, and the index
    lists exactly the reports left on disk."""
    out = tmp_path / "monitoring"
    out.mkdir()
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_record_and_prune, args=(out, w, 12)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    html = sorted(p.stem for p in out.glob("*Z-data-drift.html"))
    assert html == sorted(p.stem for p in out.glob("*Z-data-drift.json"))
    assert len(html) == 2
    reports.prune_reports(out, keep=2)  # nothing left to do
    index = (out / "index.html").read_text()
    assert index.count("<tr data-kind=") == 2 and all(stem in index for stem in html)


def test_jobs_from_any_worker_of_the_real_server(tmp_path: Path, small_pipeline) -> None:
    settings = quiet_settings(tmp_path)
    train = load_dataset(TRAIN_CSV, settings.data)
    reference = reference_frame(
        small_pipeline, train.X.head(3000), train.y.head(3000), settings.data.target
    )
    export_local(settings, small_pipeline, train.X, make_card("11"), reference)
    records = load_dataset(UCI_CSV, settings.data, labelled=None).X.head(300)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serve(
        tmp_path,
        f"sqlite:///{tmp_path}/predictions.db",
        OBESITY_RISK__SERVING__MODEL_SOURCE="local",
        OBESITY_RISK__SERVING__ADMIN_TOKEN=TOKEN,
        OBESITY_RISK__MONITORING__KEEP_REPORTS="1",
    ) as base:
        wait_all(base, 200)
        body = {"records": records.to_dict(orient="records")}
        assert httpx.post(f"{base}/predict/batch", json=body, timeout=60).status_code == 200
        jobs = []
        for _ in range(2):
            started = httpx.post(
                f"{base}/monitoring/reports", json={"kind": "data-drift"}, headers=auth, timeout=30
            )
            assert started.status_code == 202, started.text
            jobs.append(started.json())
        deadline, statuses = time.monotonic() + 180, []
        while time.monotonic() < deadline:
            # fresh connections: the polls reach both workers; a job is never 404 on either
            polls = [
                httpx.get(f"{base}{job['status_url']}", headers={"connection": "close"}, timeout=10)
                for job in jobs
                for _ in range(3)
            ]
            assert {p.status_code for p in polls} == {200}
            statuses = [p.json()["status"] for p in polls]
            if set(statuses) == {"done"}:
                break
            time.sleep(0.5)
        assert set(statuses) == {"done"}, [p.json() for p in polls[::3]]
        # the cap (one build at a time) held across the two workers: the builds did not overlap
        done = sorted((p.json() for p in polls[::3]), key=lambda j: j["started_at"])
        assert done[0]["finished_at"] <= done[1]["started_at"], done
        kept = sorted((tmp_path / "reports" / "monitoring").glob("*Z-data-drift.html"))
        assert len(kept) == 1  # keep_reports: 1
        index = (tmp_path / "reports" / "monitoring" / "index.html").read_text()
        assert kept[0].name in index and index.count("Z-data-drift.html") == 1
