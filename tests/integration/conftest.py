"""Fixtures shared by the integration suites."""

from __future__ import annotations

import pytest
from moto.server import ThreadedMotoServer

from obesity_risk.data import load_dataset
from obesity_risk.registry.publish import export_local
from tests.helpers.aws import AWS_TEST_ENV
from tests.helpers.models import make_card
from tests.helpers.net import free_port
from tests.helpers.paths import UCI_CSV
from tests.helpers.pg import PostgresServer
from tests.helpers.settings import quiet_settings


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


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory, small_pipeline):
    """A verified export of the small pipeline, read with ``serving.model_source: local``."""
    tmp = tmp_path_factory.mktemp("batch")
    settings = quiet_settings(tmp)
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    export_local(settings, small_pipeline, uci.X, make_card("9"))
    return settings, tmp
