"""Fixtures shared by the integration suites."""

from __future__ import annotations

import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import free_port
from tests.integration.pg import PostgresServer

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def postgres():
    """A real, throw-away PostgreSQL server for the module."""
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3_endpoint():
    """A real HTTP S3 endpoint (moto's server mode) for the module."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Test credentials in the environment (moto accepts any)."""
    for key, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(key, value)
    return AWS_TEST_ENV
