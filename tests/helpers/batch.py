"""The Dask command line and the environment of a batch client and its workers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.helpers.cli import tmp_env

DASK = str(Path(sys.executable).with_name("dask"))


def environment(tmp: Path, blocksize: str = "64KB") -> dict[str, str]:
    """The configuration of the client and of every worker: workers read their own environment
    (nothing but the pinned model hash travels with a job)."""
    return tmp_env(tmp) | {
        "OBESITY_RISK__SERVING__MODEL_SOURCE": "local",
        "OBESITY_RISK__BATCH__BLOCKSIZE": blocksize,
        "OBESITY_RISK__LOGGING__FILE": "false",
    }


def clean_environ() -> dict[str, str]:
    """This process's environment without the developer's package or MLflow overrides."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OBESITY_RISK", "MLFLOW_"))}


def scheduler_args(port: int, *extra: str) -> list[str]:
    """``dask scheduler`` on 127.0.0.1:``port``, no dashboard port of its own."""
    return [
        "scheduler",
        *extra,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dashboard-address",
        ":0",
    ]


def worker_args(address: str, local_directory: Path) -> list[str]:
    """``dask worker`` with one thread and no nanny (a killed worker stays dead)."""
    return [
        "worker",
        address,
        "--nthreads",
        "1",
        "--no-nanny",
        "--dashboard-address",
        ":0",
        "--local-directory",
        str(local_directory),
    ]
