"""The compose file validated with ``docker-compose config`` and its scripts run directly (the
images and the stack themselves run in tests/containers: ``make test-containers``)."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from obesity_risk import signing

ROOT = Path(__file__).resolve().parents[2]


def compose_config(tmp_path: Path, env_text: str) -> dict:
    """``docker-compose config`` of the stack with ``env_text`` as its .env, parsed."""
    compose = shutil.which("docker-compose")
    assert compose, "Debian's docker-compose is required to validate the file (.ci/run installs it)"
    env = tmp_path / ".env"
    env.write_text(env_text)
    result = subprocess.run(
        [compose, "--env-file", str(env), "-f", str(ROOT / "docker-compose.yaml"), "config"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid_and_complete(tmp_path: Path) -> None:
    services = compose_config(tmp_path, (ROOT / ".env.example").read_text())["services"]
    assert set(services) == {
        "preflight",
        "postgres",
        "minio",
        "create-buckets",
        "mlflow",
        "mlflow-users",
        "jupyter",
        "api",
        "tuner",
        "dask-certs",
        "dask-scheduler",
        "dask-worker",
        "batch",
        "monitor",
        "prometheus",
        "grafana",
    }
    mlflow = services["mlflow"]
    assert mlflow["environment"]["MLFLOW_BACKEND"].startswith("postgresql://")
    assert '--artifacts-destination "s3://$$MLFLOW_BUCKET"' in mlflow["command"][-1]
    assert services["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["api"]["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert "postgresql://" in services["tuner"]["environment"]["OPTUNA_STORAGE"]
    assert services["dask-worker"]["command"][:3] == ["dask", "worker", "tls://dask-scheduler:8786"]
    assert services["dask-worker"]["depends_on"]["dask-scheduler"]["condition"] == "service_healthy"
    assert services["monitor"]["command"][:2] == ["obesity-risk", "monitor"]
    # the batch client and the workers read s3:// inputs from MinIO and share the output folder
    assert services["batch"]["entrypoint"][:4] == ["obesity-risk", "predict", "--engine", "dask"]
    for name in ("batch", "dask-worker"):
        environment = services[name]["environment"]
        assert environment["OBESITY_RISK__DATASTORE__ENDPOINT_URL"] == "http://minio:9000", name
        assert "batch:/app/batch" in " ".join(services[name]["volumes"]), name
    for name, service in services.items():
        if name not in {"preflight", "batch", "mlflow-users", "dask-certs"}:  # one-shot jobs
            assert "healthcheck" in service, name
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned {image}"
        for port in service.get("ports", []):
            published = port if isinstance(port, str) else f"{port.get('host_ip')}:{port}"
            assert published.startswith("127.0.0.1:"), f"{name} publishes {port} beyond the host"
        if name not in {"preflight", "create-buckets"}:
            assert service["depends_on"], name
    assert services["postgres"]["depends_on"]["preflight"]["condition"] == (
        "service_completed_successfully"
    )
    # Jupyter: non-root, a token, only the folders it needs (never the project root or .env)
    jupyter = services["jupyter"]
    assert jupyter["user"] == "10001:10001" and "--allow-root" not in jupyter["command"][-1]
    targets = [v["target"] if isinstance(v, dict) else v.split(":")[1] for v in jupyter["volumes"]]
    assert "/project" not in targets and not any(t.endswith(".env") for t in targets)
    # MLflow behind its basic-auth app; the API logs as its own role into its own database
    assert "--app-name basic-auth" in services["mlflow"]["command"][-1]
    store = services["api"]["environment"]["OBESITY_RISK__SERVING__PREDICTION_STORE"]
    assert store.startswith("postgresql://obesity_api:") and store.endswith("/predictions")
    assert services["api"]["environment"]["OBESITY_RISK__SERVING__ADMIN_TOKEN"]
    # watching it run: config and dashboards from the repository, read-only; no anonymous
    # Grafana, its password required; the API and the monitor share the reports
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert any(v.endswith("docker/prometheus:/etc/prometheus:ro") for v in prometheus["volumes"])
    assert "--metrics-port" in services["monitor"]["command"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "change-me-grafana"
    assert grafana["user"] == "472"
    mounted = " ".join(grafana["volumes"])
    assert "docker/grafana/provisioning:/etc/grafana/provisioning:ro" in mounted
    assert "docker/grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounted
    for name in ("api", "monitor"):
        assert "reports:/app/reports" in " ".join(services[name]["volumes"]), name


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
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    assert used <= set(example), used - set(example)
    assert all(
        "change-me" in example[k]
        for k in example
        if "PASSWORD" in k or "SECRET" in k or "TOKEN" in k
    )
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()


def _preflight(tmp_path: Path, env_text: str) -> subprocess.CompletedProcess:
    """Run the compose preflight check itself (its entrypoint, arguments and environment)."""
    service = compose_config(tmp_path, env_text)["services"]["preflight"]
    assert service["entrypoint"] == ["python", "-m", "obesity_risk.preflight"]
    return subprocess.run(
        [sys.executable, "-m", "obesity_risk.preflight", *service["command"]],
        env={"PATH": "/usr/bin:/bin", **service["environment"]},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def _real_env(example: str) -> str:
    """``.env.example`` with every placeholder replaced as the README says."""
    private, public = signing.generate()
    keys = {"MODEL_SIGNING_KEY": private, "MODEL_VERIFY_KEY": public}
    return "".join(
        f"{name}={keys.get(name, secrets.token_urlsafe(24))}\n"
        if "change-me" in line
        else f"{line}\n"
        for line in example.splitlines()
        for name in [line.split("=", 1)[0]]
    )


def test_preflight_refuses_placeholders_and_short_secrets(tmp_path: Path) -> None:
    example = (ROOT / ".env.example").read_text()
    placeholder = _preflight(tmp_path, example)
    assert placeholder.returncode == 1
    assert "is a placeholder: set a real secret in .env" in placeholder.stderr
    real = _real_env(example)
    ok = _preflight(tmp_path, real)
    assert ok.returncode == 0 and "secrets ok" in ok.stdout, ok.stderr
    short = real.replace("JUPYTER_TOKEN=", "JUPYTER_TOKEN=abc\n#", 1)
    result = _preflight(tmp_path, short)
    assert result.returncode == 1 and "JUPYTER_TOKEN is shorter than 16" in result.stderr


def test_preflight_refuses_secrets_that_would_be_read_differently(tmp_path: Path) -> None:
    """A quoted .env value keeps its '#' through compose; an INI or YAML consumer would not."""
    real = _real_env((ROOT / ".env.example").read_text())
    hashed = real.replace("API_ADMIN_TOKEN=", "API_ADMIN_TOKEN='Th1sIsMyRealToken #2024'\n#", 1)
    result = _preflight(tmp_path, hashed)
    assert result.returncode == 1, result.stdout
    assert "API_ADMIN_TOKEN would be read differently" in result.stderr
    assert "Th1sIsMyRealToken" not in result.stderr  # never the value


def test_preflight_refuses_model_keys_that_are_not_a_pair(tmp_path: Path) -> None:
    real = _real_env((ROOT / ".env.example").read_text())
    other = real.replace("MODEL_VERIFY_KEY=", f"MODEL_VERIFY_KEY={signing.generate()[1]}\n#", 1)
    result = _preflight(tmp_path, other)
    assert result.returncode == 1
    assert "MODEL_VERIFY_KEY is not the public key of MODEL_SIGNING_KEY" in result.stderr
    garbage = real.replace(
        "MODEL_SIGNING_KEY=", "MODEL_SIGNING_KEY=not-a-key-but-long-enough\n#", 1
    )
    result = _preflight(tmp_path, garbage)
    assert result.returncode == 1 and "MODEL_SIGNING_KEY: not base64" in result.stderr


def test_api_database_init_script_creates_its_own_role(tmp_path: Path) -> None:
    """docker/postgres-init-api.sh on a real PostgreSQL: the API's role owns its database and
    the prediction log works through it."""
    from obesity_risk.monitoring.store import PredictionStore
    from tests.helpers.pg import PostgresServer

    server = PostgresServer().start()
    try:
        env = {
            "PATH": "/usr/bin:/bin",
            "POSTGRES_USER": "postgres",
            "POSTGRES_DB": "postgres",
            "API_DB_PASSWORD": "a-real-api-password-123",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(server.port),
        }
        result = subprocess.run(
            ["/bin/sh", str(ROOT / "docker/postgres-init-api.sh")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        url = (
            f"postgresql://obesity_api:a-real-api-password-123@127.0.0.1:{server.port}/predictions"
        )
        store = PredictionStore(url)
        try:
            assert store.write("r1", "1", [{"Age": 1.0}], ["Normal_Weight"], [{"x": 1.0}]) is None
            assert store.count() == 1
        finally:
            store.close()
    finally:
        server.stop()


def test_no_image_needs_curl_for_its_health_check(tmp_path: Path) -> None:
    """Healthchecks run the package's own checker, so the runtime image carries no curl."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "curl" not in dockerfile
    assert '"python", "-m", "obesity_risk.healthcheck"' in dockerfile
    example = (ROOT / ".env.example").read_text()
    services = compose_config(tmp_path, example)["services"]
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test", [])
        assert "curl" not in test, name
        if service.get("image") == "obesity-risk:0.1.0":
            assert not test or test[:4] in (
                ["CMD", "python", "-m", "obesity_risk.healthcheck"],
                ["CMD", "sh", "-c", test[3]],
            ), name


def test_every_service_is_locked_down(tmp_path: Path) -> None:
    """No capabilities, no privilege gain, bounded processes everywhere; the project's
    long-running services also run on a read-only root with a restart policy."""
    services = compose_config(tmp_path, (ROOT / ".env.example").read_text())["services"]
    for name, service in services.items():
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("pids_limit"), name
        if name not in {"postgres", "minio"}:  # their entrypoints chown and drop privileges
            assert service.get("cap_drop") == ["ALL"], name
        if service.get("image") == "obesity-risk:0.1.0":
            assert service.get("read_only") is True, name
            assert any(t.startswith("/tmp") for t in service.get("tmpfs", [])), name
        if name not in {
            "preflight",
            "create-buckets",
            "mlflow-users",
            "dask-certs",
            "tuner",
            "batch",
        }:
            assert service.get("restart") == "unless-stopped", name
            assert service.get("mem_limit"), name


def test_each_service_holds_only_the_credentials_of_its_role(tmp_path: Path) -> None:
    """Least privilege: one signer (training), one MLflow admin client (training, and the job
    that creates the reader account), MinIO's root key only where buckets and users are made,
    S3 keys only where S3 is read or written (artifacts go through the MLflow server); everyone
    else reads MLflow as ``reader``."""
    example = _real_env((ROOT / ".env.example").read_text())
    env = dict(line.split("=", 1) for line in example.splitlines() if "=" in line)
    services = compose_config(tmp_path, example)["services"]

    def holders(value: str) -> set[str]:
        return {
            name
            for name, service in services.items()
            if name != "preflight"
            and value in " ".join(map(str, service.get("environment", {}).values()))
        }

    assert holders(env["MODEL_SIGNING_KEY"]) == {"tuner"}
    assert holders(env["MINIO_ROOT_PASSWORD"]) == {"minio", "create-buckets"}
    assert holders(env["MLFLOW_ADMIN_PASSWORD"]) == {"mlflow", "mlflow-users", "tuner"}
    assert holders(env["MLFLOW_S3_SECRET_KEY"]) == {"mlflow", "create-buckets"}
    assert holders(env["DATA_READER_SECRET_KEY"]) == {"create-buckets", "dask-worker", "batch"}
    assert holders(env["API_ADMIN_TOKEN"]) == {"api"}
    assert holders(env["API_METRICS_TOKEN"]) == {"api", "prometheus"}
    for name in ("api", "monitor", "jupyter", "dask-worker", "batch"):
        assert services[name]["environment"]["MLFLOW_TRACKING_USERNAME"] == "reader", name
        assert env["MODEL_VERIFY_KEY"] in services[name]["environment"].values(), name
    users = services["mlflow-users"]
    assert users["entrypoint"] == ["python", "-m", "obesity_risk.mlflow_users"]
    assert users["command"] == ["reader=MLFLOW_READER_PASSWORD"]


def test_the_dask_cluster_is_internal_and_speaks_tls_only(tmp_path: Path) -> None:
    """The scheduler sits on an internal network with no published port; every member (and
    the batch client) requires encryption with the dask-certs certificates (the real TLS
    cluster is exercised in test_dask_tls.py)."""
    config = compose_config(tmp_path, (ROOT / ".env.example").read_text())
    services = config["services"]
    assert config["networks"]["dask"]["internal"] is True
    scheduler = services["dask-scheduler"]
    assert list(scheduler["networks"]) == ["dask"] and not scheduler.get("ports")
    assert scheduler["command"][:4] == ["dask", "scheduler", "--protocol", "tls"]
    assert "tls://dask-scheduler:8786" in services["batch"]["entrypoint"]
    for name in ("dask-scheduler", "dask-worker", "batch"):
        environment = services[name]["environment"]
        assert environment["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] == "True", name
        assert environment["DASK_DISTRIBUTED__COMM__TLS__CA_FILE"] == "/certs/ca.pem", name
        assert "dask-certs:/certs:ro" in " ".join(services[name]["volumes"]), name
        assert "dask" in services[name]["networks"], name
    assert services["dask-certs"]["entrypoint"] == [
        "python",
        "-m",
        "obesity_risk.dask_tls",
        "/certs",
    ]
