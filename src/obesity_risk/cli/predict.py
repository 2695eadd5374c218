"""``obesity-risk predict``: score a file (pandas) or a folder of files (Dask)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer
from loguru import logger

from obesity_risk.cli.common import ConfigOpt, load


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
    settings = load(config)
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
