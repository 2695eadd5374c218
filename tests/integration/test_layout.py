"""The package layout holds: what every API and Dask worker imports stays light, and the
import direction is checked by import-linter (``make lint``, contracts in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("optuna", "matplotlib")


@pytest.mark.parametrize(
    "module",
    ["obesity_risk.serving.predictor", "obesity_risk.serving.batch", "obesity_risk.api.app"],
)
def test_serving_entry_points_load_no_training_libraries(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", f"{module} imports {result.stdout.strip()}"


def test_the_import_contracts_hold() -> None:
    from importlinter.cli import lint_imports

    assert lint_imports() == 0
