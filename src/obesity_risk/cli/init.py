"""``obesity-risk init``: scaffold a configuration from a data file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from obesity_risk.errors import ConfigError


def _ordered(values: list[str]) -> dict[str, list[str] | None]:
    """``COL`` (sorted order) or ``COL=low,mid,high`` (this order), repeatable."""
    out: dict[str, list[str] | None] = {}
    for value in values:
        name, _, order = value.partition("=")
        out[name] = [v.strip() for v in order.split(",")] if order else None
    return out


def init(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file to describe.")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    id_column: Annotated[
        str | None, typer.Option(help="Row id column (default: detected, e.g. `id`).")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="binary or multiclass (default: inferred from the target).")
    ] = None,
    ordered: Annotated[
        list[str] | None,
        typer.Option(help="An ordered categorical: COL, or COL=low,mid,high. Repeatable."),
    ] = None,
    max_categories: Annotated[
        int, typer.Option(min=2, help="More distinct text values: free text, left out.")
    ] = 50,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Config file (default: <data stem>.yaml).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing config file.")] = False,
) -> None:
    """Write a complete, commented config for DATA: columns typed, id detected, task inferred."""
    from obesity_risk.config import load_settings
    from obesity_risk.files import atomic_write
    from obesity_risk.scaffold import scaffold

    if task not in (None, "binary", "multiclass", "regression"):
        raise ConfigError(f"--task {task}: use binary, multiclass or regression")
    output = output or Path(f"{data.stem}.yaml")
    if output.exists() and not force:
        raise ConfigError(f"{output} already exists: pass --force to overwrite it")
    result = scaffold(
        data,
        target,
        id_column=id_column,
        task=task,
        ordered=_ordered(ordered or []),
        max_categories=max_categories,
        train_file=str(data.resolve()),
    )
    for note in result.notes:
        typer.echo(note, err=True)
    text = result.render(str(output))
    atomic_write(output, text)
    try:
        load_settings(output)
    except ConfigError as exc:  # a bug of the scaffold: say so, keep the file to look at
        raise ConfigError(f"{output} was written but does not validate: {exc}") from None
    typer.echo(f"wrote {output} (validated); next: obesity-risk train --config {output}", err=True)
