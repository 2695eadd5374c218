"""Faults against the real server (`obesity-risk serve`, 2 uvicorn workers): each one keeps
the process up (/health 200), makes /ready and /predict answer 503 with the reason, and clears
by itself when the fault does, without a restart. Prediction log on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from obesity_risk.data import load_dataset
from obesity_risk.registry.publish import export_local
from tests.helpers.models import make_card
from tests.helpers.net import free_port
from tests.helpers.paths import UCI_CSV
from tests.helpers.servers import assert_degraded, record, serve, wait_all
from tests.helpers.settings import quiet_settings

pytestmark = pytest.mark.slow
HELPER = """
from sklearn.base import BaseEstimator, TransformerMixin


class Passthrough(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/predictions.db"
    server = request.getfixturevalue("postgres")
    return server.create_database(f"log_{tmp_path.name[-20:].lower().replace('-', '_')}")


def test_registry_unreachable_and_no_export_then_the_export_appears(
    tmp_path: Path, store_url: str, small_pipeline
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with serve(tmp_path, store_url, OBESITY_RISK__TRACKING__URI=dead) as base:
        assert_degraded(base, "model not loaded: registry:")
        settings = quiet_settings(tmp_path)
        uci = load_dataset(UCI_CSV, settings.data, labelled=None)
        export_local(settings, small_pipeline, uci.X, make_card("5"))
        ready = wait_all(base, 200)
        assert {b["source"] for b in ready} == {str(tmp_path / "models" / "champion")}
        assert httpx.post(f"{base}/predict", json=record(), timeout=30).status_code == 200


def test_corrupt_artifact_is_refused_until_repaired(
    tmp_path: Path, store_url: str, small_pipeline
) -> None:
    settings = quiet_settings(tmp_path)
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    target = export_local(settings, small_pipeline, uci.X, make_card("6"))
    pickled = target / "model.pkl"
    original = pickled.read_bytes()
    pickled.write_bytes(original[:-64] + b"\0" * 64)  # bit rot, or a swapped file
    with serve(tmp_path, store_url, OBESITY_RISK__SERVING__MODEL_SOURCE="local") as base:
        assert_degraded(base, "refusing to deserialize it")
        pickled.write_bytes(original)
        wait_all(base, 200)
        assert httpx.post(f"{base}/predict", json=record(), timeout=30).status_code == 200


def test_missing_module_is_503_until_it_is_installed(
    tmp_path: Path, store_url: str, small_pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.pipeline import Pipeline

    authoring, late = tmp_path / "authoring", tmp_path / "site"
    authoring.mkdir()
    late.mkdir()
    (authoring / "fault_helper_mod.py").write_text(HELPER)
    monkeypatch.syspath_prepend(str(authoring))
    import fault_helper_mod

    wrapped = Pipeline([("extra", fault_helper_mod.Passthrough()), *small_pipeline.steps])
    settings = quiet_settings(tmp_path)
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    export_local(settings, wrapped, uci.X, make_card("7"))
    with serve(
        tmp_path, store_url, OBESITY_RISK__SERVING__MODEL_SOURCE="local", PYTHONPATH=str(late)
    ) as base:
        assert_degraded(base, "No module named 'fault_helper_mod'")
        (late / "fault_helper_mod.py").write_text(HELPER)  # the module gets installed
        wait_all(base, 200)
        response = httpx.post(f"{base}/predict", json=record(), timeout=30)
        assert response.status_code == 200 and response.json()["model_version"] == "7"


def test_prediction_store_down_then_back(tmp_path: Path, postgres, small_pipeline) -> None:
    url = postgres.create_database("outage")
    settings = quiet_settings(tmp_path)
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    export_local(settings, small_pipeline, uci.X, make_card("8"))
    with serve(tmp_path, url, OBESITY_RISK__SERVING__MODEL_SOURCE="local") as base:
        wait_all(base, 200)
        postgres.halt()
        try:
            response = httpx.post(f"{base}/predict", json=record(), timeout=30)
            assert response.status_code == 503 and "prediction store" in response.json()["detail"]
            for body in wait_all(base, 503):
                assert "prediction store" in body["reason"] and body["model_version"] == "8"
            assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        finally:
            postgres.resume()
        wait_all(base, 200)
        assert httpx.post(f"{base}/predict", json=record(), timeout=30).status_code == 200


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_prediction_store_hanging_then_released(
    tmp_path: Path, small_pipeline, engine: str, request
) -> None:
    """SQLite: another process holds the write lock. PostgreSQL: the server is frozen
    (SIGSTOP), so not even its statement timeout can fire; only the API's own wait can."""
    settings = quiet_settings(tmp_path)
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    export_local(settings, small_pipeline, uci.X, make_card("9"))
    database = tmp_path / "predictions.db"
    if engine == "sqlite":
        url = f"sqlite:///{database}"
    else:
        postgres = request.getfixturevalue("postgres")
        url = postgres.create_database("hanging")
    with serve(
        tmp_path,
        url,
        OBESITY_RISK__SERVING__MODEL_SOURCE="local",
        OBESITY_RISK__SERVING__STORE__STATEMENT_TIMEOUT_S="60",
    ) as base:
        wait_all(base, 200)
        if engine == "sqlite":
            blocker = sqlite3.connect(database, timeout=30)
            blocker.execute("BEGIN EXCLUSIVE")  # every writer now waits on the lock

            def release() -> None:
                blocker.rollback()
                blocker.close()
        else:
            postgres.freeze()
            release = postgres.thaw
        try:
            started = time.monotonic()
            response = httpx.post(f"{base}/predict", json=record(), timeout=30)
            assert response.status_code == 503, response.text
            assert response.json()["detail"] == "prediction store did not commit within 2 s"
            assert time.monotonic() - started < 10
            for body in wait_all(base, 503, timeout=30):
                # a stuck commit or probe ("not answering"), or a new connection timing out
                assert re.search(r"not answering|queue full|timeout", body["reason"]), body
            assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        finally:
            release()
        wait_all(base, 200)
        assert httpx.post(f"{base}/predict", json=record(), timeout=30).status_code == 200
