"""Command line: one command per stage (``obesity-risk --help``); one module per group."""

from __future__ import annotations

import sys

import click
import typer
from loguru import logger

from obesity_risk.cli import init, monitoring, predict, serve, simulate, tools, train
from obesity_risk.cli.data import data_app
from obesity_risk.errors import ObesityRiskError

app = typer.Typer(
    help="Tabular supervised learning (first configuration: obesity level): init, train,"
    " predict, serve, monitor.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(init.init)
app.command()(train.train)
app.command()(predict.predict)
app.command()(monitoring.report)
app.command()(monitoring.monitor)
app.command()(monitoring.prune)
app.command()(simulate.simulate)
app.command()(serve.serve)
app.add_typer(data_app, name="data")
app.command()(tools.keygen)
app.command("config")(tools.show_config)


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
