"""What every config module shares: the strict base model, the refusal of placeholder
secrets, and the project root relative paths resolve from."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from obesity_risk.errors import ConfigError

ENV_HOME = "OBESITY_RISK_HOME"


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_PLACEHOLDERS = ("change-me", "changeme", "password", "secret", "admin")


def no_placeholder(value: SecretStr | None, key: str) -> SecretStr | None:
    """Empty means unset; a placeholder value is refused."""
    if value is None or not value.get_secret_value():
        return None
    if value.get_secret_value().lower().startswith(_PLACEHOLDERS):
        raise ValueError(f"{key} is a placeholder value: set a real secret")
    return value


def resolve_root(configured: Path | None = None) -> Path:
    """Project root: configured value, else ``$OBESITY_RISK_HOME``, else the source checkout."""
    if configured is not None:
        return Path(configured).expanduser().resolve()
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser().resolve()
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "obesity_risk").is_dir():
            return parent
    raise ConfigError(
        f"cannot find the project root: set {ENV_HOME} or paths.root"
        " (the package is not running from its source checkout)"
    )
