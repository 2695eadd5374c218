"""The container engine of the container tests: podman, configured for this kind of machine by
a ``containers.conf`` the harness writes (runc, cgroupfs, explicit ulimits), and the few
operations the tests need. Every failure names the container and shows its last log lines."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "docker.io/library/python:3.11-slim"
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""

SERVING = "localhost/obesity-risk-serving:0.1.0"
RESEARCH = "localhost/obesity-risk:0.1.0"
RESULTS = ROOT / "reports" / "containers"
# one valid record of the obesity configuration
RECORD = {
    "Gender": "Female",
    "Age": 24.0,
    "Height": 1.62,
    "Weight": 64.0,
    "family_history_with_overweight": "yes",
    "FAVC": "yes",
    "FCVC": 2.0,
    "NCP": 3.0,
    "CAEC": "Sometimes",
    "SMOKE": "no",
    "CH2O": 2.0,
    "SCC": "no",
    "FAF": 1.0,
    "TUE": 1.0,
    "CALC": "Sometimes",
    "MTRANS": "Public_Transportation",
}


class EngineError(AssertionError):
    """A container step failed (an assertion, so pytest shows the message whole)."""


def checked(
    command: list[str],
    *,
    env: dict[str, str],
    timeout: float,
    check: bool = True,
    cwd: Path | None = None,
    context: Callable[[], str] = str,
) -> subprocess.CompletedProcess[str]:
    """Run a command; with ``check``, a non-zero exit raises with the command, its output's
    tail and ``context()`` (e.g. the containers' last log lines)."""
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise EngineError(
            f"{' '.join(command)[:400]} exited {done.returncode}:\n"
            f"{(done.stdout + done.stderr)[-3000:]}\n{context()}"
        )
    return done


class Engine:
    """podman with the harness's configuration (``CONTAINERS_CONF``) for every call."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        conf = workdir / "containers.conf"
        conf.write_text(CONTAINERS_CONF, encoding="utf-8")
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.stand_in_base = False

    def run(
        self, *args: str, check: bool = True, timeout: float = 1800
    ) -> subprocess.CompletedProcess[str]:
        """One podman command; a failure raises with its output."""
        return checked(["podman", *args], env=self.env, timeout=timeout, check=check)

    def image_exists(self, name: str) -> bool:
        """Whether the local store holds ``name``."""
        return self.run("image", "exists", name, check=False).returncode == 0

    def ensure_base(self) -> None:
        """The real base image when it can be had, else the Debian stand-in (no registry);
        ``stand_in_base`` tells which (the stand-in carries a label)."""
        if not self.image_exists(BASE_IMAGE):
            pulled = self.run("pull", "-q", BASE_IMAGE, check=False, timeout=120)
            if pulled.returncode != 0:
                subprocess.run(
                    ["bash", str(ROOT / "docker/standins/base.sh")],
                    env=self.env,
                    check=True,
                    timeout=900,
                )
        labels = self.inspect(BASE_IMAGE).get("Config", {}).get("Labels") or {}
        self.stand_in_base = "org.obesity-risk.stand-in" in labels

    def build(
        self,
        context: Path,
        tag: str,
        *,
        target: str | None = None,
        dockerfile: Path | None = None,
        host_ca: bool = True,
    ) -> float:
        """Build as a user would (``--format docker`` keeps HEALTHCHECK), reaching the package
        registries over the host's network and (``host_ca``: for pip) its CA bundle, mounted
        read-only; the wall seconds it took."""
        args = ["build", "--format", "docker", "--network", "host", "-t", tag]
        if host_ca:
            args += ["-v", "/etc/ssl/certs:/etc/ssl/certs:ro"]
        if self.stand_in_base:
            args.append("--pull=never")
        if target:
            args += ["--target", target]
        if dockerfile:
            args += ["-f", str(dockerfile)]
        start = time.perf_counter()
        self.run(*args, str(context if dockerfile is None else dockerfile.parent), timeout=2400)
        return time.perf_counter() - start

    def size(self, image: str) -> int:
        """The image's size in bytes."""
        return int(self.run("image", "inspect", image, "--format", "{{.Size}}").stdout.strip())

    def inspect(self, name: str) -> dict:
        """``podman inspect`` of a container or image."""
        return json.loads(self.run("inspect", name).stdout)[0]

    def logs(self, name: str, lines: int = 40) -> str:
        """The last log lines of a container (empty when it is gone)."""
        done = self.run("logs", "--tail", str(lines), name, check=False)
        return (done.stdout + done.stderr).strip()

    def health(self, name: str) -> str:
        """Run the container's health check once (what podman's systemd timer does) and
        return its state: healthy, unhealthy or starting."""
        self.run("healthcheck", "run", name, check=False, timeout=60)
        state = self.inspect(name)["State"]
        return (state.get("Health") or state.get("Healthcheck") or {}).get("Status", "")

    def wait_healthy(self, name: str, timeout: float) -> float:
        """Seconds until the container's HEALTHCHECK reports healthy; raises naming it."""
        start = time.perf_counter()
        status = ""
        while time.perf_counter() - start < timeout:
            status = self.health(name)
            if status == "healthy":
                return time.perf_counter() - start
            if not self.inspect(name)["State"]["Running"]:
                break
            time.sleep(1)
        raise EngineError(
            f"container {name} is not healthy after {time.perf_counter() - start:.0f} s "
            f"(health: {status or 'none'}); its last log lines:\n{self.logs(name)}"
        )

    def remove(self, *names: str) -> None:
        """Remove containers (and their anonymous volumes), ignoring missing ones."""
        if names:
            self.run("rm", "-f", "-v", "-t", "5", *names, check=False, timeout=120)

    @contextlib.contextmanager
    def api_service(self) -> Iterator[str]:
        """podman's Docker-compatible API on a socket for the block (docker-compose drives it);
        yields ``DOCKER_HOST``."""
        sock = self.workdir / "podman.sock"
        service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{sock}"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not sock.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            yield f"unix://{sock}"
        finally:
            service.terminate()
            service.wait(timeout=30)

    @contextlib.contextmanager
    def health_ticker(self, every: float = 3.0) -> Iterator[None]:
        """Run every running container's health check each ``every`` seconds for the block:
        podman 4.3 schedules health checks with systemd timers, and a machine without systemd
        (this one) never runs them otherwise."""
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(every):
                ids = self.run("ps", "-q", "--filter", "health=starting", check=False).stdout
                ids += self.run("ps", "-q", "--filter", "health=healthy", check=False).stdout
                ids += self.run("ps", "-q", "--filter", "health=unhealthy", check=False).stdout
                for cid in set(ids.split()):
                    self.run("healthcheck", "run", cid, check=False, timeout=60)

        thread = threading.Thread(target=tick, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=60)


def http(
    url: str,
    *,
    token: str | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, bytes]:
    """One HTTP request: ``(status, body)``; connection errors are status 0."""
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}))
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def wait_http(url: str, status: int, timeout: float, **kwargs: object) -> float:
    """Seconds until ``url`` answers ``status``; raises with the last answer."""
    start = time.perf_counter()
    got: tuple[int, bytes] = (0, b"")
    while time.perf_counter() - start < timeout:
        got = http(url, **kwargs)  # type: ignore[arg-type]
        if got[0] == status:
            return time.perf_counter() - start
        time.sleep(0.1)
    raise EngineError(f"{url} answered {got[0]} {got[1][:300]!r}, not {status}, in {timeout} s")


def build_context(dest: Path) -> Path:
    """The repository's files as a user's checkout holds them (tracked and not ignored) in a
    fresh build context."""
    names = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, names):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def record(name: str, values: dict) -> None:
    """Merge measured values into ``reports/containers/<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    path.write_text(json.dumps({**old, **values}, indent=2) + "\n", encoding="utf-8")
