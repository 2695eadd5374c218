"""An Idempotency-Key is bound to its request: the same key with another body or route is 409,
a retry gets the original response (even after a model reload) and its rows stay labellable,
concurrent retries while the log is slow are logged once: in one process, and across two API
workers and two stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from obesity_risk.api.app import create_app
from obesity_risk.data import load_dataset
from tests.helpers.api import AUTH, TOKEN, record
from tests.helpers.idempotency_checks import (
    assert_duplicates_log_once,
    assert_retry_gets_the_stored_response,
    postgres_hold,
    sqlite_hold,
)
from tests.helpers.models import make_loaded
from tests.helpers.paths import UCI_CSV
from tests.helpers.servers import logged_counts, start_server
from tests.helpers.settings import quiet_settings

KEY = {"Idempotency-Key": "order-42"}


@pytest.fixture(scope="module")
def uci():
    return load_dataset(UCI_CSV, quiet_settings().data, labelled=None)


@pytest.fixture
def served(tmp_path: Path, small_pipeline):
    """The app on a SQLite log; ``version["now"]`` is what the next (re)load serves."""
    version = {"now": "7"}
    settings = quiet_settings(
        tmp_path,
        serving={"prediction_store": f"sqlite:///{tmp_path}/predictions.db", "admin_token": TOKEN},
    )
    app = create_app(settings, loader=lambda: make_loaded(small_pipeline, version["now"]))
    with TestClient(app) as client:
        yield client, settings.prediction_store_url, version


def test_the_same_key_for_another_request_is_409_and_logs_nothing(served, uci) -> None:
    client, url, _ = served
    first = client.post("/predict", json=record(uci, 1), headers=KEY)
    assert first.status_code == 200
    refused = [
        client.post("/predict", json=record(uci, 2), headers=KEY),  # another record
        client.post(
            "/predict/batch", json={"records": [record(uci, i) for i in range(3)]}, headers=KEY
        ),
        client.post("/predict/batch", json={"records": [record(uci, 1)]}, headers=KEY),  # route
        client.post("/predict?explain=true", json=record(uci, 1), headers=KEY),  # explain flag
    ]
    for response in refused:
        assert response.status_code == 409, response.text
        assert (
            "Idempotency-Key 'order-42' was already used for a different request"
            in (response.json()["detail"])
        )
    assert logged_counts(url) == {first.json()["request_id"]: 1}


def test_a_batch_retry_gets_the_original_response_after_a_reload(served, uci) -> None:
    client, url, version = served
    body = {"records": [record(uci, i) for i in range(3)]}
    first = client.post("/predict/batch", json=body, headers=KEY)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    version["now"] = "8"
    assert client.post("/model/reload", headers=AUTH).json()["model_version"] == "8"
    retry = client.post("/predict/batch", json=body, headers=KEY)
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content  # same id, model version 7, same probabilities
    request_id = first.json()["request_id"]
    assert logged_counts(url) == {request_id: 3}
    label = first.json()["predictions"][2]["label"]
    labels = {"labels": [{"request_id": request_id, "position": 2, "label": label}]}
    feedback = client.post("/feedback", json=labels, headers=AUTH)
    assert feedback.status_code == 200 and feedback.json() == {"stored": 1}, feedback.text
    assert client.post("/predict/batch", json=body).json()["model_version"] == "8"


def test_a_retry_is_answered_before_any_scoring(
    served, uci, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retried explained batch costs one read of the log, not another explanation."""
    from obesity_risk.serving.predictor import Predictor

    client, url, _ = served
    calls = []
    explain = Predictor.explain_records

    def counted(self, *args, **kwargs):
        calls.append(len(args[0]))
        return explain(self, *args, **kwargs)

    monkeypatch.setattr(Predictor, "explain_records", counted)
    body = {"records": [record(uci, i) for i in range(5)]}
    first = client.post("/predict/batch?explain=true", json=body, headers=KEY)
    retry = client.post("/predict/batch?explain=true", json=body, headers=KEY)
    assert first.status_code == retry.status_code == 200 and retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true" and calls == [5]
    conflict = client.post("/predict?explain=true", json=record(uci, 1), headers=KEY)
    assert conflict.status_code == 409 and calls == [5]
    assert logged_counts(url) == {first.json()["request_id"]: 5}


def test_concurrent_retries_while_the_log_is_slow_are_logged_once(
    served, uci, tmp_path: Path
) -> None:
    client, url, _ = served
    assert client.get("/ready").status_code == 200
    with ThreadPoolExecutor(16) as pool, sqlite_hold(f"{tmp_path}/predictions.db"):
        futures = [
            pool.submit(client.post, "/predict", json=record(uci, 1), headers=KEY)
            for _ in range(16)
        ]
        time.sleep(1.0)  # every request is scored and waits for the log
    responses = [f.result(timeout=30) for f in futures]
    assert [r.status_code for r in responses] == [200] * 16
    ids = {r.json()["request_id"] for r in responses}
    assert len(ids) == 1 and logged_counts(url) == {ids.pop(): 1}


def test_openapi_documents_the_conflict(served) -> None:
    client, _, _ = served
    spec = client.get("/openapi.json").json()
    for path in ("/predict", "/predict/batch"):
        operation = spec["paths"][path]["post"]
        assert "Idempotency-Key" in operation["responses"]["409"]["description"]
        header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
        assert "409" in header["description"] and "original response" in header["description"]


# ------------------------------------------------------------------------- PostgreSQL, workers
@pytest.mark.slow
@pytest.mark.parametrize("stores", [1, 2])
def test_concurrent_duplicates_log_once_on_postgres(postgres, stores: int) -> None:
    url = postgres.create_database(f"idem_{stores}")
    assert_duplicates_log_once(url, lambda: postgres_hold(url), stores)


@pytest.mark.slow
def test_a_retry_gets_the_stored_response_on_postgres(postgres) -> None:
    assert_retry_gets_the_stored_response(postgres.create_database("idem_retry"))


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_retries_across_two_api_workers_are_logged_once(
    tmp_path: Path, small_pipeline, engine: str, request
) -> None:
    """16 concurrent retries over two worker processes while the log refuses writes."""
    if engine == "sqlite":
        path = f"{tmp_path}/predictions.db"
        url, hold = f"sqlite:///{path}", lambda: sqlite_hold(path)
    else:
        url = request.getfixturevalue("postgres").create_database("idem_workers")
        hold = lambda: postgres_hold(url)  # noqa: E731
    with start_server(tmp_path, small_pipeline, url, workers=2) as (_, base, _, records, _):
        with httpx.Client(timeout=10) as http:  # both workers up and their log open
            for _ in range(8):
                assert http.get(f"{base}/ready", headers={"connection": "close"}).status_code == 200

        def post(_: int) -> httpx.Response:
            headers = {**KEY, "connection": "close"}
            return httpx.post(f"{base}/predict", json=records[0], headers=headers, timeout=30)

        with ThreadPoolExecutor(16) as pool:
            with hold():
                futures = [pool.submit(post, i) for i in range(16)]
                time.sleep(1.5)
            responses = [f.result(timeout=30) for f in futures]
        assert [r.status_code for r in responses] == [200] * 16, [r.text for r in responses]
        ids = {r.json()["request_id"] for r in responses}
        assert len(ids) == 1, ids
        assert logged_counts(url) == {ids.pop(): 1}
