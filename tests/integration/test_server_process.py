"""The real server process: cold start, durability of acknowledged predictions under kill -9."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest

from obesity_risk.config import load_settings
from obesity_risk.data import load_dataset
from obesity_risk.monitoring.store import PredictionStore
from obesity_risk.registry.publish import export_local
from tests.conftest import UCI_CSV, free_port, isolated_paths, make_card, wait_http_ok

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path, small_pipeline):
    """`obesity-risk serve` on an exported model, prediction log in ``tmp_path``."""
    with start_server(tmp_path, small_pipeline, f"sqlite:///{tmp_path}/predictions.db") as server:
        yield server


@contextlib.contextmanager
def start_server(tmp_path: Path, small_pipeline, store_url: str, workers: int = 1, **serving: str):
    """Start the real server process; yield (process, base url, store url, records, ready s).

    ``serving``: ``serving.*`` settings for the process (``OBESITY_RISK__SERVING__<NAME>``)."""
    settings = load_settings(paths=isolated_paths(tmp_path), logging={"file": False})
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    export_local(settings, small_pipeline, uci.X, make_card("3"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBESITY_RISK", "MLFLOW_"))}
    env.update(
        {f"OBESITY_RISK__PATHS__{k.upper()}": v for k, v in isolated_paths(tmp_path).items()}
    )
    env.update(
        {
            "OBESITY_RISK__SERVING__MODEL_SOURCE": "local",
            "OBESITY_RISK__SERVING__PREDICTION_STORE": store_url,
            "OBESITY_RISK__LOGGING__FILE": "false",
            **{f"OBESITY_RISK__SERVING__{k.upper()}": v for k, v in serving.items()},
        }
    )
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "obesity_risk.cli", "serve"),
            *("--port", str(port), "--workers", str(workers)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    ready_after = wait_http_ok(
        f"{base}/ready",
        60,
        lambda: None if process.poll() is None else process.stderr.read().decode()[-2000:],
    )
    records = uci.X.head(200).to_dict(orient="records")
    try:
        yield process, base, store_url, records, ready_after
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def logged_counts(store_url: str) -> dict[str, int]:
    """Rows per request id in the prediction log."""
    store = PredictionStore(store_url)
    try:
        frame = store.read()
    finally:
        store.close()
    return frame["request_id"].value_counts().to_dict() if len(frame) else {}


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
        settings = load_settings(paths=isolated_paths(tmp_path), logging={"file": False})
        export_local(settings, small_pipeline, pd.DataFrame(records), make_card("4"))
        os.kill(process.pid, signal.SIGHUP)
        assert wait_for(lambda: live_model_versions(base) == ["4", "4"]), live_model_versions(base)
        response = httpx.post(f"{base}/predict", json=records[0], timeout=10)
        assert response.json()["model_version"] == "4"


def test_acknowledged_predictions_survive_kill_9(served) -> None:
    assert_kill_9_durable(*served[:4])


def assert_kill_9_durable(process, base: str, store_url: str, records: list[dict]) -> None:
    """32 clients predict; kill -9 the server; every acknowledged prediction is in the store
    exactly once (one record per request: one row per acknowledged request id)."""
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(offset: int) -> None:
        with httpx.Client(timeout=10) as http:
            i = offset
            while not stop.is_set():
                try:
                    response = http.post(f"{base}/predict", json=records[i % len(records)])
                except httpx.HTTPError:
                    return  # the server died mid-request: not acknowledged
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(response.json()["request_id"])
                i += 32

    threads = [threading.Thread(target=client, args=(k,)) for k in range(32)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)  # no shutdown hooks, no flush
    stop.set()
    for thread in threads:
        thread.join(15)
    process.wait(10)
    assert len(acknowledged) >= 200 and len(set(acknowledged)) == len(acknowledged)
    counts = logged_counts(store_url)
    missing = set(acknowledged) - set(counts)
    assert not missing, f"{len(missing)} acknowledged predictions lost"
    twice = {k: n for k, n in counts.items() if n != 1}
    assert not twice, f"logged more than once: {twice}"
