"""The compose stack brought up for real from docker-compose.yaml (docker-compose driving
podman's Docker-compatible API), with third-party images swapped for stand-ins only where no
registry is reachable: preflight, MLflow behind basic auth on PostgreSQL + S3, a tuner run
that registers a champion, the API serving it, JupyterLab's token, batch scoring on the Dask
scheduler and two workers, a monitor tick whose report the API serves, Prometheus scraping
the API; then ``down -v`` leaves nothing behind."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.containers import (
    RECORD,
    Engine,
    EngineError,
    checked,
    http,
    record,
    wait_http,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PROJECT = "orstack"
STAND_INS = {
    "postgres": "standin-postgres:15",
    "s3": "standin-s3:5.2.5",
    "prometheus": "standin-prometheus:2",
}
UP = (
    "postgres",
    "minio",
    "create-buckets",
    "mlflow",
    "mlflow-users",
    "dask-certs",
    "dask-scheduler",
    "dask-worker",
    "api",
    "jupyter",
)


class Compose:
    """``docker-compose -p orstack -f docker-compose.yaml [-f stand-ins]`` in the context."""

    def __init__(self, engine: Engine, context: Path, docker_host: str, files: list[Path]):
        self.engine, self.context, self.files = engine, context, files
        self.env = {**engine.env, "DOCKER_HOST": docker_host, "COMPOSE_HTTP_TIMEOUT": "600"}

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 1200, env_file: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = ["docker-compose", "-p", PROJECT]
        if env_file:
            command += ["--env-file", env_file]
        for path in self.files:
            command += ["-f", str(path)]
        return checked(
            [*command, *args],
            env=self.env,
            timeout=timeout,
            check=check,
            cwd=self.context,
            context=self.tails,
        )

    def tails(self) -> str:
        """The last log lines of every container of the project, named by service."""
        names = self.engine.run(
            "ps",
            "-a",
            "--filter",
            f"label=com.docker.compose.project={PROJECT}",
            "--format",
            "{{.Names}} {{.Status}}",
            check=False,
        ).stdout.splitlines()
        return "\n".join(
            f"--- {line}\n{self.engine.logs(line.split()[0], 15)}" for line in names if line.strip()
        )

    def container(self, service: str) -> str:
        """The (first) container of a service."""
        return f"{PROJECT}_{service}_1"


def basic(user: str, password: str) -> dict[str, str]:
    """An HTTP basic-auth header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture(scope="module")
def stack(engine: Engine, images: dict[str, str], context: Path) -> Iterator[Compose]:
    """The stack's images (stand-ins built where nothing can be pulled), then compose up."""
    files = [context / "docker-compose.yaml"]
    if engine.stand_in_base:
        for folder, tag in STAND_INS.items():
            engine.build(
                context,
                f"localhost/{tag}",
                dockerfile=context / "docker/standins" / folder / "Dockerfile",
                host_ca=folder == "s3",  # apt needs no CA; ssl-cert writes into /etc/ssl/certs
            )
        files.append(HERE / "compose.standins.yaml")
    engine.run("tag", images["research"], "obesity-risk:0.1.0")
    engine.run("tag", images["serving"], "obesity-risk-serving:0.1.0")
    with engine.api_service() as docker_host, engine.health_ticker():
        compose = Compose(engine, context, docker_host, files)
        compose("down", "-v", "--remove-orphans", check=False)
        try:
            yield compose
        finally:
            compose("down", "-v", "--remove-orphans", "-t", "10", check=False)


def test_preflight_refuses_placeholders_and_passes_real_secrets(stack: Compose) -> None:
    refused = stack(
        "run",
        "--rm",
        "--no-deps",
        "preflight",
        check=False,
        env_file=str(stack.context / ".env.example"),
    )
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert "POSTGRES_PASSWORD" in refused.stdout + refused.stderr
    passed = stack("run", "--rm", "--no-deps", "preflight", check=False)
    assert passed.returncode == 0, passed.stdout + passed.stderr


def test_the_stack_trains_serves_scores_and_watches(
    stack: Compose, engine: Engine, env_values: dict[str, str]
) -> None:
    start = time.perf_counter()
    stack("up", "-d", "--no-build", *UP, timeout=1500)
    for service in ("mlflow", "api", "jupyter", "dask-scheduler"):
        engine.wait_healthy(stack.container(service), timeout=300)
    up_seconds = time.perf_counter() - start
    admin = basic("admin", env_values["MLFLOW_ADMIN_PASSWORD"])
    search = "http://127.0.0.1:5000/api/2.0/mlflow/experiments/search?max_results=5"
    assert http(search)[0] == 401
    assert http(search, headers=admin)[0] == 200

    # a tuner run registers a champion through the tracking server (PostgreSQL + S3)
    tuned = stack("run", "--rm", "tuner", check=False, timeout=1500)
    assert tuned.returncode == 0, f"tuner: {(tuned.stdout + tuned.stderr)[-2500:]}"
    alias = (
        "http://127.0.0.1:5000/api/2.0/mlflow/registered-models/alias"
        "?name=obesity-risk&alias=champion"
    )
    reader = basic("reader", env_values["MLFLOW_READER_PASSWORD"])
    status, body = http(alias, headers=reader)
    assert status == 200, body
    version = json.loads(body)["model_version"]["version"]

    # the API's workers restart one by one onto the registered champion
    stack("kill", "-s", "HUP", "api")
    deadline = time.monotonic() + 180
    sources: set[str] = set()
    while time.monotonic() < deadline:
        answers = [json.loads(http("http://127.0.0.1:8000/ready")[1] or b"{}") for _ in range(6)]
        sources = {f"{a.get('source')} v{a.get('model_version')}" for a in answers}
        if all(
            a.get("model_version") == version and str(a.get("source")).startswith("models:/")
            for a in answers
        ):
            break
        time.sleep(2)
    else:
        raise EngineError(f"api: never served registry v{version}: {sources}\n{stack.tails()}")
    for _ in range(5):
        status, body = http("http://127.0.0.1:8000/predict", data=json.dumps(RECORD).encode())
        assert status == 200, body

    # JupyterLab answers with its token and refuses without
    token = env_values["JUPYTER_TOKEN"]
    assert http(f"http://127.0.0.1:8888/api/status?token={token}")[0] == 200
    assert http("http://127.0.0.1:8888/api/status")[0] == 403

    # batch scoring on the scheduler and its two workers (TLS), into the batch volume
    workers = stack("ps", "-q", "dask-worker").stdout.split()
    assert len(workers) == 2, stack.tails()
    scored = stack(
        "run",
        "--rm",
        "batch",
        "-i",
        "/app/data/raw/obesity_uci_original.csv",
        "-o",
        "/app/batch/scored",
        check=False,
        timeout=900,
    )
    assert scored.returncode == 0, f"batch: {(scored.stdout + scored.stderr)[-2500:]}"
    listing = engine.run(
        "run",
        "--rm",
        "-v",
        f"{PROJECT}_batch:/b:ro",
        "localhost/obesity-risk-serving:0.1.0",
        "ls",
        "/b/scored",
    ).stdout
    assert "part-" in listing, listing

    # one monitor tick writes a report that the API serves
    stack("up", "-d", "--no-build", "monitor")
    wait_http(
        "http://127.0.0.1:8000/monitoring/reports/latest/data-drift",
        200,
        timeout=600,
        token=env_values["API_ADMIN_TOKEN"],
    )

    # Prometheus scrapes the API with its read-only token
    stack("up", "-d", "--no-build", "prometheus")
    deadline = time.monotonic() + 120
    health = ""
    while time.monotonic() < deadline:
        status, body = http("http://127.0.0.1:9090/api/v1/targets")
        targets = json.loads(body)["data"]["activeTargets"] if status == 200 else []
        health = {t["labels"]["job"]: t["health"] for t in targets}.get("api", "")
        if health == "up":
            break
        time.sleep(3)
    assert health == "up", f"prometheus: api target {health!r}\n{stack.tails()}"
    record(
        "stack",
        {
            "compose_up_to_healthy_s": round(up_seconds, 1),
            "engine": "podman + docker-compose 1.29 (Docker-compatible API)",
            "stand_ins": sorted(STAND_INS) if len(stack.files) > 1 else [],
            "not_run": ["grafana (no image or package reachable here)"],
        },
    )


def test_down_leaves_nothing_running(stack: Compose, engine: Engine) -> None:
    stack("down", "-v", "--remove-orphans", "-t", "10")
    label = f"label=com.docker.compose.project={PROJECT}"
    assert engine.run("ps", "-a", "-q", "--filter", label).stdout.strip() == ""
    volumes = engine.run("volume", "ls", "-q", "--filter", label).stdout.strip()
    assert volumes == "", volumes
