"""The screenshots and plots shown by the README and the docs (``reports/figures/*.png``).

A test writes its figure under its temp dir (``figure_path``) and hands it to
``publish_figure``, which copies it into ``$OBESITY_RISK_FIGURES`` only when that is set:
``make figures`` sets it to ``reports/figures``; a plain test run leaves the checkout as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.helpers.paths import ROOT

ENV = "OBESITY_RISK_FIGURES"
# read when the test modules are imported: the autouse fixtures of tests/conftest.py drop every
# OBESITY_RISK* variable before a test runs
TARGET = os.environ.get(ENV)


def figure_path(tmp: Path, name: str) -> Path:
    """Where a test writes the figure ``name``: under its temp dir, never in the checkout."""
    folder = tmp / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    assert ROOT not in path.resolve().parents, f"{path} is inside the checkout"
    return path


def publish_figure(path: Path) -> Path | None:
    """Copy the figure at ``path`` into ``$OBESITY_RISK_FIGURES`` (relative to the repository)
    when that is set; the copy's path, or None."""
    assert path.is_file() and path.stat().st_size > 0, f"{path} was not written"
    assert ROOT not in path.resolve().parents, f"{path} is inside the checkout"
    if not TARGET:
        return None
    folder = Path(TARGET) if Path(TARGET).is_absolute() else ROOT / TARGET
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(path, folder / path.name))
