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
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from obesity_risk.api.app import create_app
from obesity_risk.config import load_settings
from tests.conftest import UCI_CSV, free_port, isolated_paths, wait_http_ok
from tests.integration.pg import PostgresServer
from tests.integration.test_cli import cli, tmp_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("mlflow-server")
    postgres = PostgresServer().start()
    s3_port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    s3.start()
    s3_url = f"http://127.0.0.1:{s3_port}"
    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
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
    yield url, s3_url, aws
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(30)
    s3.stop()
    postgres.stop()


def test_train_registers_through_the_server_and_the_api_serves_it(
    tracking_server, tmp_path: Path
) -> None:
    url, s3_url, aws = tracking_server
    env = {**tmp_env(tmp_path), **aws, "MLFLOW_TRACKING_URI": url, "MLFLOW_S3_ENDPOINT_URL": s3_url}
    result = cli(
        "train", "--budget", "smoke", "--models", "dt,lgbm", "--no-progress", env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "reports/training/summary.json").read_text())
    assert summary["champion"]["alias"] == "champion" and summary["tracking_uri"] == url
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
        assert ready["model_version"] == summary["champion"]["version"]
        frame = pd.read_csv(UCI_CSV, nrows=1).drop(columns="NObeyesdad")
        record = json.loads(frame.to_json(orient="records"))[0]
        response = client.post("/predict", json=record)
        assert response.status_code == 200, response.text
