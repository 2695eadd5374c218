"""The container stack, validated without a Docker engine (none runs here)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_valid_and_complete(tmp_path: Path) -> None:
    compose = shutil.which("docker-compose")
    assert compose, "Debian's docker-compose is required to validate the file (.ci/run installs it)"
    env = tmp_path / ".env"
    env.write_text((ROOT / ".env.example").read_text())
    result = subprocess.run(
        [compose, "--env-file", str(env), "-f", str(ROOT / "docker-compose.yaml"), "config"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {
        "postgres",
        "minio",
        "create-buckets",
        "mlflow",
        "jupyter",
        "api",
        "tuner",
    }
    assert "postgresql://" in " ".join(services["mlflow"]["command"])
    assert "--artifacts-destination=s3://mlflow-artifacts" in services["mlflow"]["command"]
    assert services["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["api"]["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert "postgresql://" in services["tuner"]["environment"]["OPTUNA_STORAGE"]
    for name in ("postgres", "minio", "mlflow", "api"):
        assert "healthcheck" in services[name], name


def test_compose_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    compose = shutil.which("docker-compose")
    assert compose
    empty = tmp_path / "empty.env"
    empty.write_text("# no secrets\n")
    result = subprocess.run(
        [
            compose,
            "--env-file",
            str(empty),
            "-f",
            str(ROOT / "docker-compose.yaml"),
            "config",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "set in .env" in result.stderr


def test_env_example_names_every_variable_and_no_secret_is_committed() -> None:
    text = (ROOT / "docker-compose.yaml").read_text()
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert used <= set(example), used - set(example)
    assert all(
        "change-me" in example[k]
        for k in example
        if "PASSWORD" in k or "SECRET" in k or "TOKEN" in k
    )
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()


def test_dockerfile_runs_the_api_as_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("FROM ") == 2 and "AS build" in text and "AS runtime" in text
    assert "USER app" in text and "HEALTHCHECK" in text and "/health" in text
    assert 'CMD ["obesity-risk", "serve"]' in text
