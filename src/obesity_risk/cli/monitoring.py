"""``obesity-risk report``, ``monitor`` and ``prune``: reports, the scheduler, retention."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import click
import typer
from loguru import logger

from obesity_risk.cli.common import DRIFT_EXIT_CODE, ConfigOpt, load
from obesity_risk.monitoring import MAX_LAST


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
    settings = load(config)
    kinds = None if kind == "all" else [kind]
    with tqdm(total=len(kinds or [1, 2, 3, 4]), desc="reports", unit="report") as progress_bar:
        results = run_reports(
            settings,
            kinds,
            Window(csv=current, last=last, since=since),
            progress=lambda k: (progress_bar.set_postfix_str(k), progress_bar.update(1)),
        )
    fired = results.fired
    for result in results:
        logger.info(
            "{:<13} {}  ({})", result.kind, result.html, ", ".join(result.fired) or "no rule fired"
        )
    logger.info("index: {}", settings.reports_dir / "monitoring" / "index.html")
    if fired:
        logger.warning("drift rules fired: {}", ", ".join(fired))
        raise typer.Exit(DRIFT_EXIT_CODE)


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

    settings = load(config)
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

    settings = load(config)
    if predictions_older_than is None and reports_keep is None:
        raise click.UsageError("give --predictions-older-than and/or --reports-keep")
    if predictions_older_than is not None:
        count = prune_predictions(settings, parse_duration(predictions_older_than))
        logger.success("deleted {} prediction(s) older than {}", count, predictions_older_than)
    if reports_keep is not None:
        gone = prune_reports(settings.reports_dir / "monitoring", reports_keep)
        logger.success("deleted {} report file(s)", len(gone))
