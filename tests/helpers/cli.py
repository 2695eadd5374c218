"""The console script run as a user runs it: a subprocess, the developer's overrides dropped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import isolated_paths


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OBESITY_RISK", "MLFLOW_"))}
    base["OBESITY_RISK__LOGGING__FILE"] = "false"
    return subprocess.run(
        [sys.executable, "-m", "obesity_risk.cli", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tmp_env(tmp_path: Path) -> dict[str, str]:
    return {f"OBESITY_RISK__PATHS__{k.upper()}": v for k, v in isolated_paths(tmp_path).items()}
