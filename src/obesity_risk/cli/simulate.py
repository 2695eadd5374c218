"""``obesity-risk simulate``: real-looking traffic to a running API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer

from obesity_risk.cli.common import ConfigOpt, load


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

    settings = load(config)
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
