"""An `mlflow server` process on PostgreSQL with S3 artifacts (moto over HTTP): training logs
and registers through it, and the API serves `@champion` from it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from obesity_risk.api.app import create_app
from obesity_risk.config import load_settings
from obesity_risk.errors import ModelNotFoundError
from obesity_risk.registry.publish import export_local
from tests.helpers.aws import AWS_TEST_ENV
from tests.helpers.cli import cli, tmp_env
from tests.helpers.models import make_card
from tests.helpers.net import free_port, wait_http_ok
from tests.helpers.paths import UCI_CSV, isolated_paths
from tests.helpers.pg import PostgresServer
from tests.helpers.settings import quiet_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("mlflow-server")
    postgres = PostgresServer().start()
    s3_port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    s3.start()
    s3_url = f"http://127.0.0.1:{s3_port}"
    aws = AWS_TEST_ENV
    boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("s3", endpoint_url=s3_url).create_bucket(Bucket="mlflow-artifacts")
    port = free_port()
    env = {**os.environ, **aws, "MLFLOW_S3_ENDPOINT_URL": s3_url}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            postgres.create_database("mlflow"),
            "--artifacts-destination",
            "s3://mlflow-artifacts",
            "--serve-artifacts",
            "--workers",
            "1",
        ],
        env=env,
        stdout=(tmp / "mlflow.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(
        f"{url}/health",
        120,
        lambda: None if server.poll() is None else (tmp / "mlflow.log").read_text()[-3000:],
    )
    yield url, s3_url, aws, s3
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(30)
    s3.stop()
    postgres.stop()


def test_train_registers_through_the_server_and_the_api_serves_it(
    tracking_server, tmp_path: Path
) -> None:
    url, s3_url, aws, _ = tracking_server
    env = {**tmp_env(tmp_path), **aws, "MLFLOW_TRACKING_URI": url, "MLFLOW_S3_ENDPOINT_URL": s3_url}
    result = cli(
        "train", "--budget", "smoke", "--models", "dt,lgbm", "--no-progress", env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "reports/training/summary.json").read_text())
    assert summary["champion"]["alias"] == "champion" and summary["tracking_uri"] == url
    assert summary["champion"]["card"]["artifacts"]  # the pickle's hash, read back from S3
    # the artifacts went to S3, not to a local directory
    keys = [
        o["Key"]
        for o in boto3.session.Session(
            **{
                "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing",
                "region_name": "us-east-1",
            }
        )
        .client("s3", endpoint_url=s3_url)
        .list_objects_v2(Bucket="mlflow-artifacts")["Contents"]
    ]
    assert any(k.endswith("MLmodel") for k in keys)
    assert any("reference.parquet" in k for k in keys)

    settings = load_settings(
        paths={**isolated_paths(tmp_path), "models_dir": str(tmp_path / "no-export")},
        tracking={"uri": url},
        logging={"file": False},
    )
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready").json()
        assert ready["ready"] and ready["source"] == "models:/obesity-risk@champion"
        assert ready["model_version"] == summary["champion"]["card"]["version"]
        frame = pd.read_csv(UCI_CSV, nrows=1).drop(columns="NObeyesdad")
        record = json.loads(frame.to_json(orient="records"))[0]
        response = client.post("/predict", json=record)
        assert response.status_code == 200, response.text


def test_a_registered_model_tampered_in_the_artifact_store_never_runs(
    tracking_server, tmp_path: Path
) -> None:
    """An intruder with write access to the bucket (not to the registry) adds a ``code:`` folder
    to the champion's files: the API refuses the download (503 + reason) and nothing runs.
    Runs after the training test (which registered the champion)."""
    from obesity_risk.registry.client import Registry

    url, s3_url, _, _ = tracking_server
    settings = load_settings(
        paths={**isolated_paths(tmp_path), "models_dir": str(tmp_path / "no-export")},
        tracking={"uri": url},
        logging={"file": False},
    )
    registry = Registry(settings)
    version = registry.version_for("champion")
    location = registry.client.get_model_version_download_uri(registry.name, version.version)
    s3 = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("s3", endpoint_url=s3_url)
    prefix = location.split(":/", 1)[1].strip("/")
    mlmodel = s3.get_object(Bucket="mlflow-artifacts", Key=f"{prefix}/MLmodel")["Body"].read()
    assert b"code: null" in mlmodel
    marker = tmp_path / "pwned"
    s3.put_object(
        Bucket="mlflow-artifacts",
        Key=f"{prefix}/MLmodel",
        Body=mlmodel.replace(b"code: null", b"code: code"),
    )
    s3.put_object(
        Bucket="mlflow-artifacts",
        Key=f"{prefix}/code/xgboost.py",
        Body=f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n".encode(),
    )
    try:
        with TestClient(create_app(settings)) as client:
            ready = client.get("/ready")
            assert ready.status_code == 503
            reason = ready.json()["reason"]
            assert "files not in the card's manifest: ['code/xgboost.py']" in reason, reason
        assert not marker.exists()
    finally:  # the next test serves this champion's registry entry again
        s3.put_object(Bucket="mlflow-artifacts", Key=f"{prefix}/MLmodel", Body=mlmodel)
        s3.delete_object(Bucket="mlflow-artifacts", Key=f"{prefix}/code/xgboost.py")


def test_artifact_store_down_falls_back_to_the_verified_export(
    tracking_server, tmp_path: Path, small_pipeline
) -> None:
    """Registry up, S3 down: the champion cannot be fetched; the real server (2 workers)
    serves models/champion (a verified export of another version) and says where it came from.
    Runs after the training test, and stops the S3 server."""
    from tests.helpers.servers import serve, wait_all

    url, s3_url, aws, s3 = tracking_server
    settings = quiet_settings(tmp_path, tracking={"uri": url})
    uci = pd.read_csv(UCI_CSV).drop(columns="NObeyesdad")
    export_local(settings, small_pipeline, uci, make_card("local-1"))
    s3.stop()
    with serve(
        tmp_path,
        f"sqlite:///{tmp_path}/predictions.db",
        OBESITY_RISK__TRACKING__URI=url,
        MLFLOW_S3_ENDPOINT_URL=s3_url,
        AWS_MAX_ATTEMPTS="1",
        **aws,
    ) as base:
        for ready in wait_all(base, 200):
            assert ready["source"] == str(tmp_path / "models" / "champion")
            assert ready["model_version"] == "local-1"
        record = json.loads(uci.head(1).to_json(orient="records"))[0]
        response = httpx.post(f"{base}/predict", json=record, timeout=30)
        assert response.json()["model_version"] == "local-1"


def test_mlflow_basic_auth_as_the_compose_stack_runs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mlflow server --app-name basic-auth` with the admin password from the environment:
    anonymous calls are refused, the package's registry client gets in with the credentials."""
    from obesity_risk.errors import TrackingError
    from obesity_risk.registry.client import Registry

    password = "a-real-admin-password-42"
    ini = tmp_path / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{tmp_path}/auth.db\n"
        f"admin_username = admin\nadmin_password = {password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            *("server", "--app-name", "basic-auth", "--host", "127.0.0.1", "--port", str(port)),
            *("--backend-store-uri", f"sqlite:///{tmp_path}/mlflow.db", "--workers", "1"),
            *("--default-artifact-root", str(tmp_path / "artifacts")),
        ],
        env={
            **os.environ,
            "MLFLOW_AUTH_CONFIG_PATH": str(ini),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "a-real-csrf-secret-key-0123",
        },
        stdout=(tmp_path / "mlflow.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(
            f"{url}/health",
            120,
            lambda: (
                None if server.poll() is None else (tmp_path / "mlflow.log").read_text()[-3000:]
            ),
        )
        search = f"{url}/api/2.0/mlflow/experiments/search?max_results=1"
        assert httpx.get(search, timeout=10).status_code == 401
        assert httpx.get(search, auth=("admin", "wrong"), timeout=10).status_code == 401
        assert httpx.get(search, auth=("admin", password), timeout=10).status_code == 200
        settings = quiet_settings(tmp_path, tracking={"uri": url})
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        with pytest.raises(TrackingError):
            Registry(settings).version_for("champion")  # anonymous: refused
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        with pytest.raises(ModelNotFoundError):
            Registry(settings).version_for("champion")  # authenticated: the registry answers
        _a_reader_reads_and_changes_nothing(url, password, settings, monkeypatch)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def _a_reader_reads_and_changes_nothing(url: str, admin_password: str, settings, monkeypatch):
    """The compose stack's consumers log in as ``reader`` (python -m obesity_risk.mlflow_users):
    it sees the registry; registering, tagging, aliasing or deleting is refused."""
    import mlflow

    from obesity_risk.registry.client import Registry

    reader_password = "a-real-reader-password-42"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_TRACKING_USERNAME": "admin",
        "MLFLOW_TRACKING_PASSWORD": admin_password,
        "READER_PASSWORD": reader_password,
    }
    command = [sys.executable, "-m", "obesity_risk.mlflow_users", "reader=READER_PASSWORD"]
    for _ in range(2):  # idempotent: the second run resets the same password
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
    result = subprocess.run(
        command,
        env={**env, "MLFLOW_TRACKING_PASSWORD": "wrong"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "HTTP 401" in result.stderr
    assert admin_password not in result.stderr and reader_password not in result.stderr

    admin = mlflow.MlflowClient(url, url)
    admin.create_registered_model("obesity-risk")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", reader_password)
    reader = mlflow.MlflowClient(url, url)
    assert reader.get_registered_model("obesity-risk").name == "obesity-risk"
    with pytest.raises(ModelNotFoundError):
        Registry(settings).version_for("champion")  # reads the registry: no champion yet
    for write in (
        lambda: reader.set_registered_model_tag("obesity-risk", "k", "v"),
        lambda: reader.create_model_version("obesity-risk", "s3://x/y"),
        lambda: reader.delete_registered_model("obesity-risk"),
    ):
        with pytest.raises(mlflow.exceptions.MlflowException, match=r"PERMISSION_DENIED|403"):
            write()
