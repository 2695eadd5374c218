"""Errors the package raises on purpose: each carries a message meant for the user."""

import sys


class ObesityRiskError(Exception):
    """Base class: the CLI prints these as one clear line, never as a stack trace."""


class ConfigError(ObesityRiskError):
    """A configuration file or value is wrong; the message names the file and key."""


class DataValidationError(ObesityRiskError):
    """A data file does not match the schema; the message names file, column and row count."""


class ModelNotFoundError(ObesityRiskError):
    """No model could be loaded from the registry or the local export."""


class TrackingError(ObesityRiskError):
    """The MLflow tracking server or registry could not be reached or used."""


class StoreError(ObesityRiskError):
    """The prediction store cannot be opened or written."""


class ExplainError(ObesityRiskError):
    """The loaded model cannot be explained (no tree path, a class missing from training)."""


class ClusterError(ObesityRiskError):
    """The Dask scheduler cannot be reached or refused the connection (TLS, say)."""


def report_problems(problems: list[str]) -> int:
    """How a small command-line tool ends: each problem on stderr, exit code 1 if any, else 0."""
    for line in problems:
        sys.stderr.write(f"{line}\n")
    return 1 if problems else 0
