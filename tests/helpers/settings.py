"""Settings for tests: no log file, and (given a temp dir) every generated file under it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from obesity_risk.config import Settings, load_settings
from tests.helpers.paths import isolated_paths


def quiet_settings(tmp: Path | None = None, **overrides: Any) -> Settings:
    """``load_settings`` with file logging off and, when ``tmp`` is given, the paths of
    ``isolated_paths(tmp)``; ``overrides`` are the other sections, as for ``load_settings``.

    ``quiet_settings()`` is ``load_settings(logging={"file": False})``;
    ``quiet_settings(tmp_path, serving={...})`` is
    ``load_settings(paths=isolated_paths(tmp_path), logging={"file": False}, serving={...})``.
    """
    if tmp is not None:
        overrides["paths"] = isolated_paths(tmp) | overrides.get("paths", {})
    overrides["logging"] = {"file": False} | overrides.get("logging", {})
    return load_settings(**overrides)
