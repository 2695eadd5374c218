"""A tampered exported model against the real processes (the review's critical finding): a
``code:`` folder added to ``MLmodel`` never runs in the API (start-up and reload), in
``obesity-risk predict`` or in ``obesity-risk report``; each refuses with the reason."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from obesity_risk import signing
from obesity_risk.config import load_settings
from obesity_risk.data import load_dataset
from obesity_risk.registry.publish import export_local
from tests.helpers.cli import cli, tmp_env
from tests.helpers.models import make_card
from tests.helpers.paths import UCI_CSV
from tests.helpers.servers import assert_degraded, record, serve, wait_all
from tests.helpers.settings import quiet_settings

pytestmark = pytest.mark.slow
PRIVATE, PUBLIC = signing.generate()
TOKEN = "tampered-model-admin-token-0123"
REASON = "files not in the card's manifest: ['code/xgboost.py']"


def inject_code(target: Path, marker: Path) -> None:
    """The reproduction: ``code: null`` -> ``code: code`` and a module the pickle imports."""
    mlmodel = target / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("code: null", "code: code"))
    (target / "code").mkdir()
    (target / "code" / "xgboost.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
    )


@pytest.fixture
def signed_export(tmp_path: Path, small_pipeline) -> Path:
    trainer = quiet_settings(tmp_path, tracking={"signing_key": PRIVATE})
    uci = load_dataset(UCI_CSV, trainer.data, labelled=None)
    return export_local(trainer, small_pipeline, uci.X, make_card("3"), uci.X.head(200))


def test_the_api_refuses_an_injected_code_folder_at_reload_and_start(
    tmp_path: Path, signed_export: Path
) -> None:
    marker = tmp_path / "pwned"
    env = {
        "OBESITY_RISK__SERVING__MODEL_SOURCE": "local",
        "OBESITY_RISK__TRACKING__VERIFY_KEY": PUBLIC,
        "OBESITY_RISK__SERVING__ADMIN_TOKEN": TOKEN,
    }
    store = f"sqlite:///{tmp_path}/predictions.db"
    with serve(tmp_path, store, **env) as base:
        wait_all(base, 200)
        inject_code(signed_export, marker)
        response = httpx.post(
            f"{base}/model/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        )
        assert response.status_code == 503, response.text
        assert "still serving version 3" in response.json()["detail"]
        assert REASON in response.json()["detail"]
        assert httpx.post(f"{base}/predict", json=record(), timeout=30).status_code == 200
    assert not marker.exists()
    with serve(tmp_path, store, **env) as base:
        assert_degraded(base, REASON)
    assert not marker.exists()


def test_predict_and_report_refuse_an_injected_code_folder(
    tmp_path: Path, signed_export: Path
) -> None:
    marker = tmp_path / "pwned"
    inject_code(signed_export, marker)
    env = {
        **tmp_env(tmp_path),
        "OBESITY_RISK__SERVING__MODEL_SOURCE": "local",
        "OBESITY_RISK__TRACKING__VERIFY_KEY": PUBLIC,
    }
    out = tmp_path / "out.csv"
    result = cli("predict", "-i", str(UCI_CSV), "-o", str(out), env=env)
    assert result.returncode == 2 and REASON in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and not out.exists()
    result = cli("report", "--kind", "data-drift", "--current", str(UCI_CSV), env=env)
    assert result.returncode == 2 and REASON in result.stderr, result.stderr[-2000:]
    assert not marker.exists()


def test_keygen_prints_a_pair_that_signs_and_verifies(tmp_path: Path, small_pipeline) -> None:
    result = cli("keygen")
    assert result.returncode == 0, result.stderr
    keys = dict(line.split("=", 1) for line in result.stdout.splitlines())
    private = keys["OBESITY_RISK__TRACKING__SIGNING_KEY"]
    public = keys["OBESITY_RISK__TRACKING__VERIFY_KEY"]
    assert signing.public_text(signing.private_key(private).public_key()) == public
    load_settings(tracking={"signing_key": private, "verify_key": public})
