"""``obesity-risk serve``: the API under uvicorn, one or several workers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from obesity_risk.cli.common import ConfigOpt, load


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: serving.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serving.port, 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: serving.workers).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Run the FastAPI service (uvicorn) on the champion model.

    With several workers, /metrics aggregates all of them (Prometheus multiprocess mode) and
    `kill -HUP <pid>` restarts the workers one by one, each loading the current champion.
    """
    import os
    import shutil

    import uvicorn

    from obesity_risk.api.server import uvicorn_options

    settings = load(config)
    if config is not None:  # worker processes rebuild the settings from the environment
        os.environ["OBESITY_RISK_CONFIG"] = str(config.resolve())
    n_workers = workers or settings.serving.workers
    metrics_dir, owned = None, False
    if n_workers > 1:
        metrics_dir, owned = _metrics_dir(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        uvicorn.run(
            "obesity_risk.api.app:create_app",
            factory=True,
            host=host or settings.serving.host,
            port=port or settings.serving.port,
            workers=n_workers,
            **uvicorn_options(settings),
        )
    finally:
        if owned:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _metrics_dir(given: str | None) -> tuple[Path, bool]:
    """Prometheus multiprocess directory: the user's (stale samples removed) or a temporary
    one this process owns; (path, owned)."""
    import tempfile

    if not given:
        return Path(tempfile.mkdtemp(prefix="obesity-risk-metrics-")), True
    path = Path(given)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path, False
