"""Micro-batching on the real server (`obesity-risk serve`, 2 workers): concurrent `/predict`
requests share model calls and each gets exactly its own single-record answer; a log fault
during shared calls answers 503 to every request in them; clients that hang up mid-request
stall nobody."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from obesity_risk.data import load_dataset
from obesity_risk.registry.publish import export_local
from obesity_risk.serving.predictor import Predictor
from tests.helpers.models import make_card, make_loaded
from tests.helpers.paths import UCI_CSV
from tests.helpers.servers import serve, wait_all
from tests.helpers.settings import quiet_settings

pytestmark = pytest.mark.slow
BATCHED = {  # the exported model, batching switched on (it is opt-in: docs/benchmarks.md)
    "OBESITY_RISK__SERVING__MODEL_SOURCE": "local",
    "OBESITY_RISK__SERVING__BATCHING__ENABLED": "true",
}


@pytest.fixture
def exported(tmp_path: Path, small_pipeline) -> list[dict]:
    """The small pipeline exported as version 5; 200 UCI records to send."""
    settings = quiet_settings(tmp_path)
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    export_local(settings, small_pipeline, uci.X, make_card("5"))
    return uci.X.head(200).to_dict(orient="records")


async def _post_all(base: str, records: list[dict], clients: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        return await asyncio.gather(*(client.post("/predict", json=r) for r in records))


def _histogram(base: str, name: str) -> tuple[float, float]:
    """(count, sum) of a histogram on /metrics (all workers)."""
    text = httpx.get(f"{base}/metrics", timeout=30).text
    values = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith(f"{name}_count") or line.startswith(f"{name}_sum")
    }
    return values.get(f"{name}_count", 0.0), values.get(f"{name}_sum", 0.0)


def test_concurrent_requests_share_calls_and_get_their_own_answers(
    tmp_path: Path, exported: list[dict], small_pipeline
) -> None:
    alone = Predictor.configured(make_loaded(small_pipeline), quiet_settings())
    store = f"sqlite:///{tmp_path}/predictions.db"
    with serve(tmp_path, store, **BATCHED) as base:
        wait_all(base, 200)
        answers = asyncio.run(_post_all(base, exported, 32))
        calls, scored = _histogram(base, "obesity_risk_model_batch_records")
    assert [r.status_code for r in answers] == [200] * len(exported)
    for record, response in zip(exported, answers, strict=True):
        expected = alone.predict_records([record])
        body = response.json()
        assert body["label"] == expected.labels[0]
        assert list(body["probabilities"].values()) == expected.probabilities[0].tolist()
    assert scored == len(exported)  # every request was scored once, through the batcher
    assert calls < scored  # and some of them shared a model call


def test_a_log_fault_during_shared_calls_answers_503_to_each_request(
    tmp_path: Path, exported: list[dict]
) -> None:
    database = tmp_path / "predictions.db"
    with serve(tmp_path, f"sqlite:///{database}", **BATCHED) as base:
        wait_all(base, 200)
        blocker = sqlite3.connect(database, timeout=30)
        blocker.execute("BEGIN EXCLUSIVE")  # no commit can land: every request must say so
        try:
            answers = asyncio.run(_post_all(base, exported[:24], 24))
        finally:
            blocker.rollback()
            blocker.close()
        assert {r.status_code for r in answers} == {503}
        assert all("prediction" in r.json()["detail"] for r in answers)  # the log, named
        wait_all(base, 200)
        after = asyncio.run(_post_all(base, exported[:8], 8))
        assert [r.status_code for r in after] == [200] * 8  # recovered, nothing restarted


def test_clients_that_hang_up_stall_nobody(tmp_path: Path, exported: list[dict]) -> None:
    store = f"sqlite:///{tmp_path}/predictions.db"
    with serve(tmp_path, store, **BATCHED) as base:
        wait_all(base, 200)
        address = urlparse(base)
        body = httpx.Request("POST", f"{base}/predict", json=exported[0])
        raw = (
            f"POST /predict HTTP/1.1\r\nHost: {address.netloc}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body.content)}\r\n\r\n"
        ).encode() + body.content
        gone = []
        for _ in range(16):  # full requests whose clients leave before the answer
            sock = socket.create_connection((address.hostname, address.port))
            sock.sendall(raw)
            gone.append(sock)
        for sock in gone:
            sock.close()
        answers = asyncio.run(_post_all(base, exported[:48], 16))
        assert [r.status_code for r in answers] == [200] * 48
