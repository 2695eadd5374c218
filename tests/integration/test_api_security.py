"""Control routes need the admin token; bodies must be JSON and within their size limit;
an Idempotency-Key logs a retried request once."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from obesity_risk.api.app import create_app
from obesity_risk.config import load_settings
from obesity_risk.errors import ConfigError
from obesity_risk.monitoring.store import PredictionStore
from tests.helpers.api import AUTH, TOKEN, record
from tests.helpers.models import make_loaded
from tests.helpers.settings import quiet_settings


@pytest.fixture(scope="module")
def uci():
    from obesity_risk.data import load_dataset
    from tests.helpers.paths import UCI_CSV

    return load_dataset(UCI_CSV, quiet_settings().data, labelled=None)


def make_client(tmp_path: Path, small_pipeline, **serving):
    settings = quiet_settings(
        tmp_path, serving={"prediction_store": f"sqlite:///{tmp_path}/predictions.db", **serving}
    )
    loaded = make_loaded(small_pipeline, "7")
    return settings, TestClient(create_app(settings, loader=lambda: loaded))


CONTROL = [("post", "/model/reload", None), ("post", "/monitoring/reports", {"kind": "all"})]


@pytest.mark.parametrize(("method", "path", "body"), CONTROL)
def test_control_routes_are_disabled_without_a_token(
    tmp_path: Path, small_pipeline, method, path, body
) -> None:
    _, client = make_client(tmp_path, small_pipeline)
    with client:
        response = client.request(method, path, json=body, headers=AUTH)
    assert response.status_code == 403
    assert "set OBESITY_RISK__SERVING__ADMIN_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body"), CONTROL)
def test_control_routes_need_the_right_bearer_token(
    tmp_path: Path, small_pipeline, method, path, body
) -> None:
    _, client = make_client(tmp_path, small_pipeline, admin_token=TOKEN)
    with client:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-0123456789"},
            {"Authorization": TOKEN},
        ):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["www-authenticate"] == "Bearer"
        allowed = client.request(method, path, json=body, headers=AUTH)
    assert allowed.status_code in {200, 202}, allowed.text


def test_metrics_can_require_the_token(tmp_path: Path, small_pipeline) -> None:
    _, client = make_client(tmp_path, small_pipeline, admin_token=TOKEN, metrics_auth=True)
    with client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=AUTH).status_code == 200


@pytest.mark.parametrize("token", ["change-me-please-now", "short"])
def test_placeholder_or_short_tokens_are_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="admin_token"):
        load_settings(serving={"admin_token": token})


@pytest.mark.parametrize("path", ["/predict", "/predict/batch", "/monitoring/reports"])
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_cross_site_content_types_are_415(
    tmp_path: Path,
    small_pipeline,
    uci,
    path: str,
    content_type: str,
) -> None:
    settings, client = make_client(tmp_path, small_pipeline, admin_token=TOKEN)
    with client:
        response = client.post(
            path,
            content=b'{"records": []}',
            headers={"content-type": content_type, **AUTH},
        )
    assert response.status_code == 415
    assert response.json()["detail"] == "the body must be JSON (Content-Type: application/json)"
    store = PredictionStore(settings.prediction_store_url)
    try:
        assert store.count() == 0
    finally:
        store.close()


def test_every_route_has_a_body_limit(tmp_path: Path, small_pipeline) -> None:
    _, client = make_client(tmp_path, small_pipeline, admin_token=TOKEN, max_body_bytes=2048)
    with client:
        for path in ("/predict", "/monitoring/reports", "/model/reload"):
            declared = client.post(
                path, content=b" " * 4096, headers={"content-type": "application/json", **AUTH}
            )
            streamed = client.post(
                path,
                content=iter([b" " * 1500] * 3),
                headers={"content-type": "application/json", **AUTH},
            )
            for response in (declared, streamed):
                assert response.status_code == 413, path
                assert response.json()["detail"] == "request body over 2048 bytes"


def test_openapi_documents_auth_and_hygiene(tmp_path: Path, small_pipeline) -> None:
    _, client = make_client(tmp_path, small_pipeline)
    with client:
        spec = client.get("/openapi.json").json()
    reload = spec["paths"]["/model/reload"]["post"]
    assert {"401", "403"} <= set(reload["responses"]) and reload["security"]
    for path in ("/predict", "/predict/batch"):
        assert {"413", "415", "503"} <= set(spec["paths"][path]["post"]["responses"])
    assert "Idempotency-Key" in {p["name"] for p in spec["paths"]["/predict"]["post"]["parameters"]}


def test_idempotency_key_logs_a_retry_once(tmp_path: Path, small_pipeline, uci) -> None:
    settings, client = make_client(tmp_path, small_pipeline)
    with client:
        headers = {"Idempotency-Key": "order-42-attempt"}
        first = client.post("/predict", json=record(uci, 1), headers=headers).json()
        retry = client.post("/predict", json=record(uci, 1), headers=headers).json()
        other = client.post("/predict", json=record(uci, 2)).json()
        bad = client.post("/predict", json=record(uci, 2), headers={"Idempotency-Key": "a b"})
    assert retry["request_id"] == first["request_id"] != other["request_id"]
    assert retry["probabilities"] == first["probabilities"]
    assert bad.status_code == 422
    store = PredictionStore(settings.prediction_store_url)
    try:
        logged = store.read()
    finally:
        store.close()
    assert sorted(logged["request_id"]) == sorted([first["request_id"], other["request_id"]])


def test_report_files_are_regular_files_inside_the_folder(tmp_path: Path, small_pipeline) -> None:
    """No symlink is followed (as the file or as the folder), no name reaches the OS as a 500."""
    settings, client = make_client(tmp_path, small_pipeline)
    folder = settings.reports_dir / "monitoring"
    folder.mkdir(parents=True)
    (folder / "real.html").write_text("<html>report</html>")
    secret = tmp_path / "secret.json"
    secret.write_text('{"secret": true}')
    (folder / "link.json").symlink_to(secret)
    (folder / "latest-data-drift.html").symlink_to(secret)
    with client:
        assert client.get("/monitoring/files/real.html").text == "<html>report</html>"
        for name in ("link.json", "a" * 251 + ".json", "nope.html"):
            response = client.get(f"/monitoring/files/{name}")
            assert response.status_code == 404, (name, response.text)
            assert response.json()["detail"] == f"no report file {name}"
        assert client.get("/monitoring/reports/latest/data-drift").status_code == 404
        # the folder itself a symlink to another place: refused too
        elsewhere = tmp_path / "elsewhere"
        folder.rename(elsewhere)
        folder.symlink_to(elsewhere, target_is_directory=True)
        assert client.get("/monitoring/files/real.html").status_code == 404


def test_a_symlink_swapped_in_during_a_request_is_never_followed(
    tmp_path: Path, small_pipeline
) -> None:
    """A writer of the reports folder swaps ``latest.json`` between a real file and a symlink
    to a secret as fast as it can: what is checked is what is opened, so the secret is never
    served (a check on the path followed by an open of the path serves it in the gap)."""
    import os
    import threading

    settings, client = make_client(tmp_path, small_pipeline)
    folder = settings.reports_dir / "monitoring"
    folder.mkdir(parents=True)
    secret = tmp_path / "secret.json"
    secret.write_text('{"secret": true}')
    (folder / "real.json").write_text('{"report": 1}')
    (folder / "trap.json").symlink_to(secret)
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            os.link(folder / "real.json", folder / "next.json")
            os.replace(folder / "next.json", folder / "latest.json")
            os.symlink(secret, folder / "next.json")
            os.replace(folder / "next.json", folder / "latest.json")

    swapper = threading.Thread(target=swap, daemon=True)
    bodies: dict[str, int] = {}
    with client:
        swapper.start()
        try:
            for _ in range(1500):
                response = client.get("/monitoring/files/latest.json")
                key = response.text if response.status_code == 200 else str(response.status_code)
                bodies[key] = bodies.get(key, 0) + 1
        finally:
            stop.set()
            swapper.join()
    assert '{"secret": true}' not in bodies, bodies
    assert bodies.get('{"report": 1}', 0) > 0 and bodies.get("404", 0) > 0, bodies
