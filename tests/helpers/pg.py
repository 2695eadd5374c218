"""A real, throw-away PostgreSQL server for tests (initdb + pg_ctl in a temp dir).

PostgreSQL refuses to run as root, so as root the server runs as ``nobody`` (runuser).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from tests.helpers.net import free_port


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (.ci/run installs postgresql)")
    return found


class PostgresServer:
    """Start with :meth:`start`, connect with :meth:`url`, stop with :meth:`stop`."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pg-test-"))
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = ["runuser", "-u", "nobody", "--", *args] if self.as_root else list(args)
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresServer:
        if self.as_root:
            os.chmod(self.dir, 0o777)
        data = self.dir / "data"
        self._run(
            _binary("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        self.resume()
        deadline = time.monotonic() + 30
        while True:
            try:
                with sa.create_engine(self.url("postgres")).connect():
                    break
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return self

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def halt(self) -> None:
        """Stop the server, keeping its data (a database outage)."""
        self._run(_binary("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        """Start the server (again, after :meth:`halt`) on its port and data."""
        self._run(
            _binary("pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "start",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on",
        )

    def _pids(self) -> list[int]:
        """The postmaster and every backend it forked."""
        postmaster = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        children = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and (p / "stat").exists() and _parent(p) == postmaster
        ]
        return [postmaster, *children]

    def freeze(self) -> None:
        """SIGSTOP the server and its backends: a database that hangs instead of failing."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT what :meth:`freeze` stopped."""
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        try:
            self._run(_binary("pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
