"""Command line: one command per stage (``obesity-risk --help``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import click
import typer
from loguru import logger

from obesity_risk.errors import ObesityRiskError
from obesity_risk.monitoring import MAX_LAST

DRIFT_EXIT_CODE = 3  # `obesity-risk report`: a drift rule fired (errors exit with 2)

app = typer.Typer(
    help="Obesity-level classification: train, predict, serve, monitor.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Override YAML (default: $OBESITY_RISK_CONFIG)."),
]


def _settings(config: Path | None):
    from obesity_risk.config import load_settings
    from obesity_risk.logs import configure_logging
    from obesity_risk.registry.client import bound_mlflow_retries

    settings = load_settings(config)
    configure_logging(settings)
    bound_mlflow_retries(settings)
    return settings


@app.command()
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

    settings = _settings(config)
    families = [m.strip() for m in models.split(",") if m.strip()] if models else None
    summary = Trainer(
        settings, budget, families, storage, select_features, show_progress_bar=progress
    ).run()
    logger.info("summary: {}", settings.reports_dir / "training" / "summary.json")
    logger.info("model:   {} ({})", summary.champion.model_uri, summary.champion.alias_uri)
    logger.info("mlflow:  {}  (browse with `make mlflow`)", summary.tracking_uri)


@app.command()
def predict(
    input_csv: Annotated[
        str, typer.Option("--input", "-i", help="CSV to score (dask: CSV/Parquet file or glob).")
    ],
    output_csv: Annotated[
        Path, typer.Option("--output", "-o", help="Output CSV (dask: a folder of Parquet parts).")
    ],
    explain: Annotated[
        bool, typer.Option("--explain", help="Add the top input columns behind each label.")
    ] = False,
    engine: Annotated[
        str, typer.Option(help="pandas (one process) or dask (a cluster, for large files).")
    ] = "pandas",
    scheduler: Annotated[
        str | None,
        typer.Option(help="dask scheduler address; without it a LocalCluster is started."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Score a file with the champion: one output row per input row, in order.

    With ``--engine dask`` rows failing the schema go to ``OUTPUT/rejects.csv`` (file, row,
    problems) and the exit code is 4 when there are any."""
    settings = _settings(config)
    if engine == "dask":
        from obesity_risk.serving.batch import score_dask

        if explain:
            raise click.UsageError("--explain is available with --engine pandas")
        result = score_dask(settings, input_csv, output_csv, scheduler)
        logger.success(
            "scored {} rows in {} parts -> {}", result.scored, result.partitions, result.output
        )
        if result.rejected:
            logger.error("{} row(s) rejected: see {}", result.rejected, result.rejects)
            raise typer.Exit(4)
        return
    if engine != "pandas":
        raise click.UsageError(f"--engine must be pandas or dask, not {engine!r}")
    from obesity_risk.serving.files import predict_file

    written = predict_file(settings, Path(input_csv), output_csv, explain)
    logger.success("wrote {} predictions to {}", written, output_csv)


@app.command()
def report(
    kind: Annotated[
        str, typer.Option(help="all, data-drift, data-quality, target-drift or performance.")
    ] = "all",
    current: Annotated[
        Path | None, typer.Option(help="CSV of current rows (labels optional).")
    ] = None,
    last: Annotated[
        int | None, typer.Option(min=1, max=MAX_LAST, help="The last N logged predictions.")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Logged predictions since this ISO time (UTC).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Build Evidently reports vs the champion's reference; exit 3 when a drift rule fires."""
    from tqdm import tqdm

    from obesity_risk.monitoring.service import Window, run_reports

    if sum(x is not None for x in (current, last, since)) != 1:
        raise click.UsageError("give exactly one of --current CSV, --last N, --since ISO")
    settings = _settings(config)
    kinds = None if kind == "all" else [kind]
    with tqdm(total=len(kinds or [1, 2, 3, 4]), desc="reports", unit="report") as progress_bar:
        results = run_reports(
            settings,
            kinds,
            Window(csv=current, last=last, since=since),
            progress=lambda k: (progress_bar.set_postfix_str(k), progress_bar.update(1)),
        )
    fired = sorted({name for r in results for name in r["fired"]})
    for result in results:
        logger.info(
            "{:<13} {}  ({})",
            result["kind"],
            result["html"],
            ", ".join(result["fired"]) or "no rule fired",
        )
    logger.info("index: {}", settings.reports_dir / "monitoring" / "index.html")
    if fired:
        logger.warning("drift rules fired: {}", ", ".join(fired))
        raise typer.Exit(DRIFT_EXIT_CODE)


@app.command()
def monitor(
    every: Annotated[
        str | None, typer.Option(help="Tick interval, e.g. 15m, 1h (default: monitoring.every).")
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(help="Log window per tick, e.g. 24h (default: monitoring.window)."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="One tick, then exit (cron, tests).")
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve Prometheus /metrics here (default: monitoring.metrics_port)."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Build the reports over the last WINDOW of the prediction log every EVERY, evaluate the
    rules, run their actions, prune per retention; one JSON status line per tick."""
    from obesity_risk.monitoring.metrics import MonitorMetrics
    from obesity_risk.monitoring.schedule import TickStatus, parse_duration, run_every, tick

    settings = _settings(config)
    span = parse_duration(window or settings.monitoring.window)
    if once:
        status = tick(settings, span)
        if not status.ok:
            raise typer.Exit(2)
        if status.fired:
            raise typer.Exit(DRIFT_EXIT_CODE)
        return
    interval = parse_duration(every or settings.monitoring.every)
    on_tick: Callable[[TickStatus], None] | None = None
    if port := metrics_port or settings.monitoring.metrics_port:
        metrics = MonitorMetrics(settings.reports_dir / "monitoring")
        metrics.serve(port, settings.serving.host)
        logger.info("monitor metrics on http://{}:{}/metrics", settings.serving.host, port)

        def on_tick(status: TickStatus) -> None:
            metrics.observe(status.ok, status.duration_s)

    logger.info("monitoring every {} over the last {} (Ctrl-C stops)", interval, span)
    run_every(settings, interval, span, on_tick=on_tick)


@app.command()
def prune(
    predictions_older_than: Annotated[
        str | None, typer.Option(help="Delete logged predictions older than this, e.g. 90d.")
    ] = None,
    reports_keep: Annotated[
        int | None, typer.Option(help="Keep the newest N reports of each kind.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Retention: delete old predictions (in short batches, safe beside a serving API) and old
    reports (the index is rewritten to match)."""
    from obesity_risk.monitoring.reports import prune_reports
    from obesity_risk.monitoring.schedule import parse_duration, prune_predictions

    settings = _settings(config)
    if predictions_older_than is None and reports_keep is None:
        raise click.UsageError("give --predictions-older-than and/or --reports-keep")
    if predictions_older_than is not None:
        count = prune_predictions(settings, parse_duration(predictions_older_than))
        logger.success("deleted {} prediction(s) older than {}", count, predictions_older_than)
    if reports_keep is not None:
        gone = prune_reports(settings.reports_dir / "monitoring", reports_keep)
        logger.success("deleted {} report file(s)", len(gone))


@app.command()
def simulate(  # pylint: disable=too-many-arguments,too-many-positional-arguments
    url: Annotated[str, typer.Option(help="The API's base URL.")] = "http://127.0.0.1:8000",
    rate: Annotated[float, typer.Option(min=0.1, help="Requests per second.")] = 20.0,
    duration: Annotated[str, typer.Option(help="How long to send, e.g. 90s, 5m.")] = "5m",
    max_requests: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many (default: rate x duration).")
    ] = None,
    drift: Annotated[
        str | None, typer.Option(help="e.g. 'Weight*1.15,FAVC=yes:0.3' (see the docs).")
    ] = None,
    labels_after: Annotated[
        str | None,
        typer.Option(help="Post the true classes this long after the start, e.g. 10m."),
    ] = None,
    bursty: Annotated[
        bool, typer.Option("--bursty", help="Poisson arrivals instead of a steady rate.")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(envvar="OBESITY_RISK_API_TOKEN", help="Admin token (to post labels)."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Records to sample (default: data.train_file).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Sampling and drift seed.")] = 42,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    config: ConfigOpt = None,
) -> None:
    """Send real-looking traffic to a running API (optionally drifted), then its labels.
    Exit 4 when any request failed or the labels were not posted."""
    from obesity_risk.monitoring.schedule import parse_duration
    from obesity_risk.simulate import Plan, simulate_traffic

    settings = _settings(config)
    later = parse_duration(labels_after).total_seconds() if labels_after else None
    if later is not None and not token:
        raise click.UsageError("--labels-after posts to /feedback: give --token (admin token)")
    plan = Plan(
        url=url,
        rate=rate,
        duration_s=parse_duration(duration).total_seconds(),
        max_requests=max_requests,
        drift=drift,
        labels_after_s=later,
        bursty=bursty,
        token=token,
        data=data or settings.path(settings.data.train_file),
        seed=seed,
    )
    summary = simulate_traffic(settings.data, plan, progress)
    typer.echo(summary.line())
    if summary.ok < summary.sent or summary.label_error:
        raise typer.Exit(4)


@app.command()
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

    settings = _settings(config)
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


data_app = typer.Typer(help="Version the raw data files in S3 (content hashes + manifests).")
app.add_typer(data_app, name="data")


@data_app.command("push")
def data_push(config: ConfigOpt = None) -> None:
    """Upload data/raw files not yet in the bucket and write a manifest."""
    from obesity_risk.datastore import push

    settings = _settings(config)
    manifest = push(settings, settings.path(settings.data.train_file).parent)
    logger.success(
        "manifest {} ({} files, {} uploaded) in s3://{}/{}",
        manifest["version"],
        len(manifest["files"]),
        len(manifest["uploaded"]),
        settings.datastore.bucket,
        settings.datastore.prefix,
    )


@data_app.command("pull")
def data_pull(
    version: Annotated[str, typer.Option(help="Manifest to restore (default: latest).")] = "latest",
    config: ConfigOpt = None,
) -> None:
    """Download a manifest's files into data/raw, verifying every hash."""
    from obesity_risk.datastore import pull

    settings = _settings(config)
    manifest = pull(settings, settings.path(settings.data.train_file).parent, version)
    logger.success("restored {} files from manifest {}", len(manifest["files"]), version)


@app.command()
def keygen() -> None:
    """Print a new Ed25519 key pair for model cards: the signing key for training alone, the
    verify key for every consumer (API, batch, monitor, notebooks)."""
    from obesity_risk import signing

    private, public = signing.generate()
    typer.echo(f"OBESITY_RISK__TRACKING__SIGNING_KEY={private}")
    typer.echo(f"OBESITY_RISK__TRACKING__VERIFY_KEY={public}")
    typer.echo("# the signing key signs models: give it to training only", err=True)


@app.command("config")
def show_config(config: ConfigOpt = None) -> None:
    """Print the validated configuration (after overrides) as YAML."""
    import yaml

    settings = _settings(config)
    typer.echo(yaml.safe_dump(settings.model_dump(mode="json", by_alias=True), sort_keys=False))


def main() -> None:
    """Console entry point: typer shows usage errors with the usage (exit 2) and exits with the
    commands' codes; known errors become one clear line and exit code 2."""
    try:
        app()  # standalone: typer's own exceptions (usage, exit codes) end in sys.exit
    except click.ClickException as exc:  # the commands' usage errors
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # outside a command (typer answers 130 inside one)
        logger.error("interrupted")
        sys.exit(130)
    except ObesityRiskError as exc:
        logger.error("{}", exc)
        sys.exit(2)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # a bug, not a user error: one line on the console, the traceback at DEBUG level
        logger.opt(exception=exc).debug("unexpected error")
        logger.error(
            "unexpected error: {}: {} (OBESITY_RISK__LOGGING__LEVEL=DEBUG shows the traceback)",
            type(exc).__name__,
            exc,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
