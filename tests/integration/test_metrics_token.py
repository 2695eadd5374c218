"""A scraper's token reads /metrics and nothing else: it changes no state."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from obesity_risk.api.app import create_app
from obesity_risk.config import load_settings
from obesity_risk.errors import ConfigError
from tests.helpers.models import make_loaded
from tests.helpers.settings import quiet_settings

ADMIN = "ctl-token-for-the-metrics-tests"
METRICS = "metrics-token-read-only-0123"


def client(tmp_path: Path, small_pipeline, **serving) -> TestClient:
    settings = quiet_settings(
        tmp_path, serving={"prediction_store": f"sqlite:///{tmp_path}/p.db", **serving}
    )
    loaded = make_loaded(small_pipeline, "7")
    return TestClient(create_app(settings, loader=lambda: loaded))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_metrics_token_reads_metrics_but_opens_no_control_route(
    tmp_path: Path, small_pipeline
) -> None:
    app = client(
        tmp_path, small_pipeline, admin_token=ADMIN, metrics_token=METRICS, metrics_auth=True
    )
    with app:
        assert app.get("/metrics").status_code == 401
        assert app.get("/metrics", headers=bearer("wrong-token-0123456789")).status_code == 401
        assert app.get("/metrics", headers=bearer(METRICS)).status_code == 200
        assert app.get("/metrics", headers=bearer(ADMIN)).status_code == 200
        for method, path, body in [
            ("post", "/model/reload", None),
            ("post", "/monitoring/reports", {"kind": "all"}),
        ]:
            response = app.request(method, path, json=body, headers=bearer(METRICS))
            assert response.status_code == 401, (path, response.text)


def test_metrics_auth_without_any_token_is_403(tmp_path: Path, small_pipeline) -> None:
    with client(tmp_path, small_pipeline, metrics_auth=True) as app:
        response = app.get("/metrics", headers=bearer(METRICS))
    assert response.status_code == 403
    assert "OBESITY_RISK__SERVING__METRICS_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize(
    ("serving", "message"),
    [
        ({"metrics_token": "short"}, "metrics_token must be at least 16"),
        ({"metrics_token": "change-me-metrics-token"}, "metrics_token is a placeholder"),
        ({"metrics_token": ADMIN, "admin_token": ADMIN}, "must differ from serving.admin_token"),
    ],
)
def test_weak_or_shared_metrics_tokens_are_refused(serving, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(serving=serving)


def test_the_docs_pages_load_nothing_from_outside(tmp_path: Path, small_pipeline) -> None:
    """Swagger UI and ReDoc come from this service (no CDN script without integrity hashes)."""
    import re

    with client(tmp_path, small_pipeline) as app:
        for page in ("/docs", "/redoc"):
            html = app.get(page)
            assert html.status_code == 200, page
            sources = re.findall(r'(?:src|href)="([^"]+)"', html.text)
            assert sources and all(s.startswith("/") for s in sources), sources
            for source in sources:
                if source.startswith("/docs-assets/"):
                    asset = app.get(source)
                    assert asset.status_code == 200 and len(asset.content) > 1000, source
