"""Property-based API testing over the OpenAPI schema: no 5xx, responses conform to the schema.

Fails (not skips) when schemathesis is missing: it is a pinned test dependency.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from obesity_risk.api.app import create_app
from obesity_risk.config import load_settings
from tests.conftest import isolated_paths, make_loaded

pytestmark = pytest.mark.slow
CASES: list[str] = []
MAX_EXAMPLES = 400


@pytest.fixture(scope="module")
def app_schema(tmp_path_factory: pytest.TempPathFactory, small_pipeline):
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    api_settings = load_settings(
        paths=isolated_paths(tmp),
        logging={"file": False, "level": "ERROR"},
        serving={
            "prediction_store": f"sqlite:///{tmp}/predictions.db",
            "max_batch": 50,
            "admin_token": "schemathesis-admin-token-0123",  # as deployed: control routes 401
        },
    )
    loaded = make_loaded(small_pipeline, "1")
    app = create_app(api_settings, loader=lambda: loaded)
    with TestClient(app):  # runs the lifespan: model loaded, store open
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("app_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=False,
)
def test_api_conforms_to_its_schema(case) -> None:
    CASES.append(f"{case.method} {case.path}")
    response = case.call_and_validate()
    assert response.status_code < 500


def test_at_least_a_thousand_cases_ran() -> None:
    """Runs after the parametrized test in this module (pytest keeps file order)."""
    assert len(CASES) >= 1000, f"only {len(CASES)} generated cases"
    assert {"POST /predict", "POST /predict/batch", "POST /model/reload"} <= set(CASES)
