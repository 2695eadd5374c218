"""What every command shares: the ``--config`` option and the settings it loads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DRIFT_EXIT_CODE = 3  # `obesity-risk report`: a drift rule fired (errors exit with 2)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Override YAML (default: $OBESITY_RISK_CONFIG)."),
]


def load(config: Path | None):
    """The validated settings, with logging configured and MLflow's retries bounded."""
    from obesity_risk.config import load_settings
    from obesity_risk.logs import configure_logging
    from obesity_risk.registry.client import bound_mlflow_retries

    settings = load_settings(config)
    configure_logging(settings)
    bound_mlflow_retries(settings)
    return settings
