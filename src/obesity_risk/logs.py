"""loguru set-up from the ``logging`` section of the settings (called by entry points only)."""

from __future__ import annotations

import logging
import sys

from loguru import logger

from obesity_risk.config import Settings

_FORMAT = "<green>{time:HH:mm:ss}</green> | <level>{level: <7}</level> | {message}"


def configure_logging(settings: Settings, *, stderr: bool = True) -> None:
    """Replace loguru's sinks: stderr (human or JSON) and an optional rotating file."""
    cfg = settings.logging
    # cloudpickle is chosen deliberately for the fitted pipeline (see registry.log_pipeline)
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
    # one line per Optuna trial is noise next to the studies' MLflow runs (what
    # optuna.logging.set_verbosity does, without importing optuna here)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    logger.remove()
    if stderr:
        logger.add(sys.stderr, level=cfg.level, serialize=cfg.json_, format=_FORMAT)
    if cfg.file:
        settings.logs_dir.mkdir(parents=True, exist_ok=True)
        logger.add(
            settings.logs_dir / "obesity-risk.log",
            level=cfg.level,
            serialize=cfg.json_,
            rotation=cfg.rotation,
            retention=cfg.retention,
            enqueue=True,
        )
