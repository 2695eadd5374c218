"""The Dask command line and the environment of a batch client and its workers."""

from __future__ import annotations

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
