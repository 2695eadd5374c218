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


def homes_settings(tmp: Path) -> Settings:
    """Settings of the homes regression (schema as `obesity-risk init` writes it)."""
    return quiet_settings(
        tmp,
        data={
            "train_file": str(tmp / "homes.csv"),
            "external_file": None,
            "id_column": None,
            "target": "price",
            "task": "regression",
            "classes": None,
            "example": None,
            "columns": {
                "area": {"type": "numeric", "min": 0},
                "rooms": {"type": "numeric", "min": 0},
                "district": {
                    "type": "categorical",
                    "categories": ["centre", "harbour", "north", "outskirts"],
                },
                "condition": {
                    "type": "categorical",
                    "categories": ["poor", "fair", "good"],
                    "ordered": True,
                },
            },
        },
        features={"engineered": [], "selected": None},
        evaluation={"slices": None},
    )
