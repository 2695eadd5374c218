"""Fixtures of the container tests (``make test-containers``; not part of ``make test``): the
engine, a user's build context (the checkout, a champion ``make run`` would have exported, a
``.env`` with real secrets beside it), and the two images built from the repository's
Dockerfile."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from obesity_risk import signing
from tests.helpers.containers import RESEARCH, ROOT, SERVING, Engine, build_context, record

SECRET_NAMES = (
    "POSTGRES_PASSWORD",
    "API_DB_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "MLFLOW_S3_SECRET_KEY",
    "DATA_READER_SECRET_KEY",
    "MLFLOW_ADMIN_PASSWORD",
    "MLFLOW_READER_PASSWORD",
    "MLFLOW_SECRET_KEY",
    "JUPYTER_TOKEN",
    "API_ADMIN_TOKEN",
    "API_METRICS_TOKEN",
    "GRAFANA_ADMIN_PASSWORD",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is a container test (selected by ``-m containers``)."""
    for item in items:
        if "tests/containers/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.containers)


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """podman, configured by the harness; the base image (real, or the Debian stand-in)."""
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: `make test-containers` installs it (Debian)")
    engine = Engine(tmp_path_factory.mktemp("engine"))
    engine.ensure_base()
    return engine


@pytest.fixture(scope="session")
def env_values() -> dict[str, str]:
    """A user's ``.env``: real random secrets and an Ed25519 model-key pair."""
    private, public = signing.generate()
    values = {name: secrets.token_urlsafe(24) for name in SECRET_NAMES}
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for line in example.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#") and key not in values:
            values[key] = value
    values |= {
        "MODEL_SIGNING_KEY": private,
        "MODEL_VERIFY_KEY": public,
        "TRAIN_BUDGET": "smoke",
        "TRAIN_MODELS": "lgbm",
    }
    return values


@pytest.fixture(scope="session")
def context(tmp_path_factory: pytest.TempPathFactory, env_values: dict[str, str]) -> Path:
    """The checkout after ``make run`` (a smoke champion exported in models/champion) with
    the user's ``.env`` in it: what ``docker build .`` sees on a user's machine."""
    ctx = build_context(tmp_path_factory.mktemp("context"))
    cli = Path(sys.executable).with_name("obesity-risk")
    subprocess.run(
        [str(cli), "train", "--budget", "smoke", "--models", "lgbm", "--no-progress"],
        cwd=ctx,
        env={**os.environ, "OBESITY_RISK_HOME": str(ctx)},
        check=True,
        capture_output=True,
        timeout=900,
    )
    assert (ctx / "models/champion/card.json").is_file()
    (ctx / ".env").write_text(
        "".join(f"{key}={value}\n" for key, value in env_values.items()), encoding="utf-8"
    )
    return ctx


@pytest.fixture(scope="session")
def images(engine: Engine, context: Path) -> dict[str, str]:
    """Both images built from the repository's Dockerfile (serving first: research shares its
    dependency layer); build seconds recorded."""
    seconds = {
        "serving": engine.build(context, SERVING, target="serving"),
        "research": engine.build(context, RESEARCH, target="research"),
    }
    record(
        "images",
        {
            "build_seconds": {k: round(v, 1) for k, v in seconds.items()},
            "stand_in_base": engine.stand_in_base,
        },
    )
    return {"serving": SERVING, "research": RESEARCH}
