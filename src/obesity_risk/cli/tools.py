"""``obesity-risk keygen`` and ``config``: a signing key pair, the validated configuration."""

from __future__ import annotations

import typer

from obesity_risk.cli.common import ConfigOpt, load


def keygen() -> None:
    """Print a new Ed25519 key pair for model cards: the signing key for training alone, the
    verify key for every consumer (API, batch, monitor, notebooks)."""
    from obesity_risk import signing

    private, public = signing.generate()
    typer.echo(f"OBESITY_RISK__TRACKING__SIGNING_KEY={private}")
    typer.echo(f"OBESITY_RISK__TRACKING__VERIFY_KEY={public}")
    typer.echo("# the signing key signs models: give it to training only", err=True)


def show_config(config: ConfigOpt = None) -> None:
    """Print the validated configuration (after overrides) as YAML."""
    import yaml

    settings = load(config)
    typer.echo(yaml.safe_dump(settings.model_dump(mode="json", by_alias=True), sort_keys=False))
