"""The real server process: cold start, durability of acknowledged predictions under kill -9."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest

from obesity_risk.registry.publish import export_local
from tests.helpers.models import make_card
from tests.helpers.servers import assert_kill_9_durable, start_server
from tests.helpers.settings import quiet_settings

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path, small_pipeline):
    """`obesity-risk serve` on an exported model, prediction log in ``tmp_path``."""
    with start_server(tmp_path, small_pipeline, f"sqlite:///{tmp_path}/predictions.db") as server:
        yield server


def test_server_starts_ready_quickly_and_serves(served) -> None:
    _, base, _, records, ready_after = served
    assert ready_after < 30  # cold start incl. interpreter + imports; the benchmark measures it
    response = httpx.post(f"{base}/predict", json=records[0])
    assert response.status_code == 200 and response.json()["model_version"] == "3"


def test_metrics_aggregate_every_worker(tmp_path: Path, small_pipeline) -> None:
    """Two workers: /metrics counts every request whichever worker answers the scrape."""
    store_url = f"sqlite:///{tmp_path}/predictions.db"
    with start_server(tmp_path, small_pipeline, store_url, workers=2) as server:
        _, base, _, records, _ = server
        with httpx.Client(timeout=10) as http:
            # wait until both workers have loaded the model (each one reports its own pid)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                info = [
                    line
                    for line in http.get(f"{base}/metrics").text.splitlines()
                    if line.startswith("obesity_risk_model_info{") and line.endswith(" 1.0")
                ]
                if len(info) == 2:
                    break
                time.sleep(0.2)
            assert len(info) == 2, info
            assert all('version="3"' in line for line in info)
            # concurrent clients so that both workers answer
            with ThreadPoolExecutor(8) as pool:
                statuses = list(
                    pool.map(lambda r: http.post(f"{base}/predict", json=r).status_code, records)
                )
            assert statuses == [200] * len(records)
            scrapes = [http.get(f"{base}/metrics").text for _ in range(6)]
    pattern = re.compile(
        r'^obesity_risk_http_requests_total\{method="POST",route="/predict",status="200"\} (\S+)$',
        re.M,
    )
    counts = {float(m.group(1)) for text in scrapes for m in pattern.finditer(text)}
    assert counts == {float(len(records))}, counts
    predicted = sum(
        float(v)
        for text in scrapes[:1]
        for v in re.findall(r"^obesity_risk_predictions_total\{.*\} (\S+)$", text, re.M)
    )
    assert predicted == len(records)


def live_model_versions(base: str) -> list[str]:
    """``model_info`` versions of the live workers (multiprocess mode: one series each)."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    found = re.findall(r'^obesity_risk_model_info\{.*version="([^"]+)".*\} 1\.0$', text, re.M)
    return sorted(found)


def wait_for(predicate, timeout: float = 60) -> bool:
    """Poll ``predicate``; a connection reset (a worker restarting) counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if predicate():
                return True
        time.sleep(0.2)
    return False


def test_sighup_moves_every_worker_to_the_new_champion(tmp_path: Path, small_pipeline) -> None:
    store_url = f"sqlite:///{tmp_path}/predictions.db"
    with start_server(tmp_path, small_pipeline, store_url, workers=2) as server:
        process, base, _, records, _ = server
        assert wait_for(lambda: live_model_versions(base) == ["3", "3"]), live_model_versions(base)
        settings = quiet_settings(tmp_path)
        export_local(settings, small_pipeline, pd.DataFrame(records), make_card("4"))
        os.kill(process.pid, signal.SIGHUP)
        assert wait_for(lambda: live_model_versions(base) == ["4", "4"]), live_model_versions(base)
        response = httpx.post(f"{base}/predict", json=records[0], timeout=10)
        assert response.json()["model_version"] == "4"


def test_acknowledged_predictions_survive_kill_9(served) -> None:
    assert_kill_9_durable(*served[:4])
