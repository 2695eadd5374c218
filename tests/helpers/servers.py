"""The server process (``obesity-risk serve``) started for a test, and what asks every worker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from obesity_risk.data import load_dataset
from obesity_risk.monitoring.store import PredictionStore
from obesity_risk.registry.publish import export_local
from tests.helpers.models import make_card
from tests.helpers.net import free_port, wait_http_ok
from tests.helpers.paths import UCI_CSV, isolated_paths
from tests.helpers.settings import quiet_settings


@contextlib.contextmanager
def serve(tmp_path: Path, store: str, **env_extra: str):
    """The server process; yields its base URL once /health answers (ready or not)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBESITY_RISK", "MLFLOW_"))}
    env.update(
        {f"OBESITY_RISK__PATHS__{k.upper()}": v for k, v in isolated_paths(tmp_path).items()}
    )
    env.update(
        {
            "OBESITY_RISK__SERVING__PREDICTION_STORE": store,
            "OBESITY_RISK__SERVING__LOAD_RETRY_S": "0.5",
            "OBESITY_RISK__SERVING__STORE__COMMIT_TIMEOUT_S": "2",
            "OBESITY_RISK__SERVING__STORE__CONNECT_TIMEOUT_S": "2",
            "OBESITY_RISK__LOGGING__FILE": "false",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            **env_extra,
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "obesity_risk.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_http_ok(
        f"{base}/health",
        90,
        lambda: None if process.poll() is None else process.stderr.read().decode()[-2000:],
    )
    try:
        yield base
        assert process.poll() is None, "the server died"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def record() -> dict:
    settings = quiet_settings()
    return load_dataset(UCI_CSV, settings.data, labelled=None).X.head(1).to_dict("records")[0]


def all_workers(base: str, status: int, tries: int = 12) -> list[dict]:
    """/ready asked on fresh connections (each may reach either worker): all ``status``."""
    answers = []
    for _ in range(tries):
        response = httpx.get(f"{base}/ready", timeout=10, headers={"connection": "close"})
        answers.append((response.status_code, response.json()))
    assert {code for code, _ in answers} == {status}, answers
    return [body for _, body in answers]


def wait_all(base: str, status: int, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return all_workers(base, status)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def assert_degraded(base: str, reason: str) -> None:
    assert httpx.get(f"{base}/health", timeout=10).status_code == 200
    for body in all_workers(base, 503):
        assert reason in body["reason"], body
    response = httpx.post(f"{base}/predict", json=record(), timeout=30)
    assert response.status_code == 503, response.text
    assert reason in response.json()["detail"] or "prediction store" in response.json()["detail"]


@contextlib.contextmanager
def start_server(tmp_path: Path, small_pipeline, store_url: str, workers: int = 1, **serving: str):
    """Start the real server process; yield (process, base url, store url, records, ready s).

    ``serving``: ``serving.*`` settings for the process (``OBESITY_RISK__SERVING__<NAME>``)."""
    settings = quiet_settings(tmp_path)
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
