"""``obesity-risk train``: tune, register and promote."""

from __future__ import annotations

from typing import Annotated

import typer
from loguru import logger

from obesity_risk.cli.common import ConfigOpt, load


def train(
    budget: Annotated[
        str, typer.Option(help="Budget from models.yaml: smoke, default, full.")
    ] = "default",
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated families, e.g. lgbm,xgb (default: the budget's)."),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(help="Optuna RDB URL shared by several workers (default: in memory)."),
    ] = None,
    select_features: Annotated[
        bool | None,
        typer.Option("--select-features/--no-select-features", help="Run feature selection first."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show Optuna progress bars.")] = True,
    config: ConfigOpt = None,
) -> None:
    """Tune every model family with Optuna + MLflow, register and promote the champion."""
    from obesity_risk.training.trainer import Trainer

    settings = load(config)
    families = [m.strip() for m in models.split(",") if m.strip()] if models else None
    summary = Trainer(
        settings, budget, families, storage, select_features, show_progress_bar=progress
    ).run()
    logger.info("summary: {}", settings.reports_dir / "training" / "summary.json")
    logger.info("model:   {} ({})", summary.champion.model_uri, summary.champion.alias_uri)
    logger.info("mlflow:  {}  (browse with `make mlflow`)", summary.tracking_uri)
