"""Property-based API testing over the OpenAPI schema: no 5xx, responses conform to the schema.

Bodies also carry lone UTF-16 surrogates (``"\\ud800"`` escapes in the JSON), as a key or in
place of a string value: schemathesis draws none itself (its schema validator cannot take them),
so a ``flatmap_body`` hook puts hypothesis text with surrogates (category Cs) into them. Where
schemathesis drops such a body again (it re-validates bodies with that validator: the record
routes), every third case is also sent with a surrogate put into its body by the test itself.
Fails (not skips) when schemathesis is missing: it is a pinned test dependency.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from obesity_risk.api.app import create_app
from obesity_risk.config import load_settings
from tests.helpers.models import make_loaded
from tests.helpers.paths import isolated_paths

pytestmark = pytest.mark.slow
CASES: list[str] = []
SURROGATE_CASES: list[str] = []
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
        loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
        loaded.hook(flatmap_body)
        yield loaded


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    return isinstance(value, list) and any(map(_has_surrogate, value))


SURROGATE_TEXT = st.text(
    st.characters(categories=["Cs"]) | st.characters(codec="utf-8"), min_size=1, max_size=4
).filter(_has_surrogate)


def _with_surrogate(body: Any, text: str, as_key: bool) -> Any:
    """``body`` with ``text`` as an extra key, or in place of its first string value."""
    if isinstance(body, list):
        return [_with_surrogate(body[0], text, as_key), *body[1:]] if body else body
    if not isinstance(body, dict):
        return body
    if as_key:
        return {**body, text: text}
    for key, value in body.items():
        if isinstance(value, str):
            return {**body, key: text}
        if isinstance(value, dict | list) and value:
            return {**body, key: _with_surrogate(value, text, as_key)}
    return {**body, text: text}


def flatmap_body(_context: Any, body: Any) -> st.SearchStrategy:
    """Schemathesis hook: the generated body, or that body with a surrogate put in."""
    injected = st.tuples(SURROGATE_TEXT, st.booleans()).map(
        lambda drawn: _with_surrogate(body, *drawn)
    )
    return st.one_of(st.just(body), injected)


def _send_with_surrogate(case: Any, text: str) -> None:
    """Send the case's body with ``text`` put in, past schemathesis (which cannot encode it)."""
    body = _with_surrogate(case.body, text, as_key=len(CASES) % 2 == 0)
    SURROGATE_CASES.append(CASES[-1])
    response = TestClient(case.operation.schema.app).request(
        case.method,
        case.formatted_path,
        params=case.query,
        headers={
            **{k: str(v).encode("latin-1") for k, v in (case.headers or {}).items()},
            "content-type": "application/json",
        },
        content=json.dumps(body),  # ASCII: the surrogate is sent as its escape
    )
    assert response.status_code < 500, response.text
    assert response.status_code in {401, 403, 422}, (case.formatted_path, response.text)
    assert response.json()["detail"]


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
    documented = case.method.upper() == case.operation.method.upper()  # not a probe (TRACE...)
    if documented and len(CASES) % 3 == 0 and isinstance(case.body, dict | list):
        _send_with_surrogate(case, ("\ud800", "x\udfff", "\udc00\ud800")[len(CASES) % 9 // 3])
    excluded = []
    if _has_surrogate(case.body):
        SURROGATE_CASES.append(CASES[-1])
        excluded = [positive_data_acceptance]  # no longer the valid body it was drawn as
    response = case.call_and_validate(excluded_checks=excluded)
    assert response.status_code < 500


def test_at_least_a_thousand_cases_ran() -> None:
    """Runs after the parametrized test in this module (pytest keeps file order)."""
    assert len(CASES) >= 1000, f"only {len(CASES)} generated cases"
    assert {"POST /predict", "POST /predict/batch", "POST /model/reload"} <= set(CASES)
    assert {"POST /predict", "POST /predict/batch"} <= set(SURROGATE_CASES)
