"""Raw-data versions in S3: content-addressed objects plus JSON manifests.

``push`` uploads each file of the raw-data directory as ``<prefix>/objects/<sha256>`` (skipped
when already there) and writes a manifest ``<prefix>/manifests/<UTC time>.json`` (file name ->
sha256, size) and ``<prefix>/manifests/latest.json``. ``pull`` downloads a manifest's files,
checks every hash, and only then moves them into place. Credentials come from the environment
or the standard AWS chain, never from the configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from pydantic import Field

from obesity_risk.config import Settings
from obesity_risk.contract import Contract, ContractError
from obesity_risk.errors import ObesityRiskError
from obesity_risk.files import file_sha256


class DatastoreError(ObesityRiskError):
    """The bucket cannot be used (credentials, missing bucket, corrupt object)."""


class ManifestFile(Contract):
    """One raw file of a data version."""

    sha256: str = Field(description="checked against the download before any file moves")
    size: int = Field(ge=0)


class DataManifest(Contract):
    """A data version: file name -> hash and size, and the files this push uploaded."""

    created_at: str | None = None
    files: dict[str, ManifestFile] = Field(default_factory=dict)
    uploaded: list[str] = Field(default_factory=list)
    version: str | None = Field(None, description="the manifest's name (set by push only)")


def _client(settings: Settings) -> Any:
    # a fresh session: credentials are read from the environment / AWS chain now, not cached
    return boto3.session.Session().client("s3", endpoint_url=settings.datastore.endpoint_url)


def _explain(exc: Exception, bucket: str) -> DatastoreError:
    if isinstance(exc, NoCredentialsError):
        return DatastoreError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile"
        )
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"NoSuchBucket", "404"}:
            return DatastoreError(f"bucket {bucket!r} does not exist")
        if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"}:
            return DatastoreError(
                f"access to bucket {bucket!r} denied ({code}): check the credentials"
            )
        return DatastoreError(f"S3 error on bucket {bucket!r}: {code or exc}")
    return DatastoreError(f"S3 unreachable: {exc}")


def push(settings: Settings, raw_dir: Path) -> DataManifest:
    """Upload the raw files that are not yet in the bucket; write and return the manifest."""
    cfg = settings.datastore
    s3 = _client(settings)
    files = sorted(p for p in raw_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    manifest: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": {},
        "uploaded": [],
    }
    try:
        s3.head_bucket(Bucket=cfg.bucket)
        for path in files:
            digest = file_sha256(path)
            key = f"{cfg.prefix}/objects/{digest}"
            manifest["files"][path.name] = {"sha256": digest, "size": path.stat().st_size}
            try:
                s3.head_object(Bucket=cfg.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in {
                    "404",
                    "NoSuchKey",
                    "NotFound",
                }:
                    raise
                s3.upload_file(str(path), cfg.bucket, key)
                manifest["uploaded"].append(path.name)
        body = json.dumps(DataManifest.model_validate(manifest).to_json(), indent=2).encode()
        stamp = manifest["created_at"].replace(":", "").replace("-", "")
        for name in (f"{stamp}.json", "latest.json"):
            s3.put_object(Bucket=cfg.bucket, Key=f"{cfg.prefix}/manifests/{name}", Body=body)
    except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
        raise _explain(exc, cfg.bucket) from exc
    return DataManifest.model_validate(manifest | {"version": stamp})


def _check_name(name: str) -> None:
    """A manifest names plain files of the raw-data folder: no paths, no hidden files."""
    if not name or Path(name).name != name or name.startswith(".") or "\\" in name:
        raise DatastoreError(f"manifest names {name!r}, which is outside data/raw; nothing pulled")


def pull(settings: Settings, raw_dir: Path, version: str = "latest") -> DataManifest:
    """Download a manifest's files into ``raw_dir``; every hash is checked before any file moves."""
    cfg = settings.datastore
    s3 = _client(settings)
    try:
        s3.head_bucket(Bucket=cfg.bucket)
        key = f"{cfg.prefix}/manifests/{version}.json"
        body = s3.get_object(Bucket=cfg.bucket, Key=key)["Body"]
        try:
            manifest = DataManifest.parse(body.read(), f"s3://{cfg.bucket}/{key}")
        except ContractError as exc:
            raise DatastoreError(f"{exc}; nothing pulled") from exc
        for name in manifest.files:
            _check_name(name)
        raw_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=raw_dir, prefix=".pull-") as tmp:
            staged = []
            for name, info in manifest.files.items():
                target = Path(tmp) / name
                s3.download_file(cfg.bucket, f"{cfg.prefix}/objects/{info.sha256}", str(target))
                actual = hashlib.sha256(target.read_bytes()).hexdigest()
                if actual != info.sha256:
                    raise DatastoreError(
                        f"{name}: hash mismatch ({actual} != {info.sha256}); nothing replaced"
                    )
                staged.append((target, raw_dir / name))
            for source, target in staged:
                os.replace(source, target)
    except s3.exceptions.NoSuchKey as exc:
        raise DatastoreError(
            f"no manifest {version!r} under s3://{cfg.bucket}/{cfg.prefix}/manifests/"
        ) from exc
    except (ClientError, BotoCoreError) as exc:
        raise _explain(exc, cfg.bucket) from exc
    return manifest
