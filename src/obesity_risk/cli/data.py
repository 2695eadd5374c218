"""``obesity-risk data push|pull``: the raw files versioned in S3."""

from __future__ import annotations

from typing import Annotated

import typer
from loguru import logger

from obesity_risk.cli.common import ConfigOpt, load

data_app = typer.Typer(help="Version the raw data files in S3 (content hashes + manifests).")


@data_app.command("push")
def data_push(config: ConfigOpt = None) -> None:
    """Upload data/raw files not yet in the bucket and write a manifest."""
    from obesity_risk.datastore import push

    settings = load(config)
    manifest = push(settings, settings.path(settings.data.train_file).parent)
    logger.success(
        "manifest {} ({} files, {} uploaded) in s3://{}/{}",
        manifest.version,
        len(manifest.files),
        len(manifest.uploaded),
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

    settings = load(config)
    manifest = pull(settings, settings.path(settings.data.train_file).parent, version)
    logger.success("restored {} files from manifest {}", len(manifest.files), version)
