"""Fixtures shared by the integration suites."""

from __future__ import annotations

import pytest

from tests.integration.pg import PostgresServer


@pytest.fixture(scope="module")
def postgres():
    """A real, throw-away PostgreSQL server for the module."""
    server = PostgresServer().start()
    yield server
    server.stop()
