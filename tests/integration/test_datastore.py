"""`obesity-risk data push|pull` against a real HTTP S3 endpoint (moto's server mode)."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest

from obesity_risk.config import load_settings
from obesity_risk.datastore import DatastoreError, pull, push
from obesity_risk.files import file_sha256
from tests.helpers.cli import cli
from tests.helpers.paths import RAW

pytestmark = pytest.mark.slow


def test_push_pull_round_trip_with_hash_check(tmp_path: Path, s3_endpoint: str, aws_env) -> None:
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="round-trip")
    settings = load_settings(datastore={"bucket": "round-trip", "endpoint_url": s3_endpoint})
    first = push(settings, RAW)
    assert set(first.files) == {"obesity_s4e2_train.csv", "obesity_uci_original.csv"}
    assert sorted(first.uploaded) == sorted(first.files)
    assert push(settings, RAW).uploaded == []  # content-addressed: nothing new to send

    target = tmp_path / "raw"
    pull(settings, target)
    for name, info in first.files.items():
        assert file_sha256(target / name) == info.sha256 == file_sha256(RAW / name)

    # a corrupted object is detected and nothing is replaced
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    key = f"raw/objects/{first.files['obesity_uci_original.csv'].sha256}"
    s3.put_object(Bucket="round-trip", Key=key, Body=b"tampered")
    (target / "obesity_uci_original.csv").write_text("local copy")
    with pytest.raises(DatastoreError, match="hash mismatch"):
        pull(settings, target)
    assert (target / "obesity_uci_original.csv").read_text() == "local copy"


def test_missing_bucket_and_wrong_credentials(
    tmp_path: Path, s3_endpoint: str, aws_env, monkeypatch
) -> None:
    settings = load_settings(datastore={"bucket": "no-such-bucket", "endpoint_url": s3_endpoint})
    with pytest.raises(DatastoreError, match="bucket 'no-such-bucket' does not exist"):
        push(settings, RAW)
    with pytest.raises(DatastoreError, match="bucket 'no-such-bucket' does not exist"):
        pull(settings, tmp_path)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(DatastoreError, match="no AWS credentials"):
        push(settings, RAW)


def test_cli_push_pull(tmp_path: Path, s3_endpoint: str) -> None:
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
    ).create_bucket(Bucket="cli-bucket")
    home = tmp_path / "home"
    shutil.copytree(RAW, home / "data" / "raw")
    env = {
        "OBESITY_RISK_HOME": str(home),
        "OBESITY_RISK__DATASTORE__BUCKET": "cli-bucket",
        "OBESITY_RISK__DATASTORE__ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    pushed = cli("data", "push", env=env)
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    assert "2 files, 2 uploaded" in pushed.stderr
    (home / "data" / "raw" / "obesity_uci_original.csv").unlink()
    pulled = cli("data", "pull", env=env)
    assert pulled.returncode == 0, pulled.stderr[-2000:]
    assert file_sha256(home / "data/raw/obesity_uci_original.csv") == file_sha256(
        RAW / "obesity_uci_original.csv"
    )
    wrong = cli("data", "push", env={**env, "OBESITY_RISK__DATASTORE__BUCKET": "nope"})
    assert wrong.returncode == 2 and "bucket 'nope' does not exist" in wrong.stderr


@pytest.mark.parametrize("name", ["../escape.csv", "/etc/cron.d/x", "sub/dir.csv", ".hidden"])
def test_manifest_names_outside_data_raw_are_refused(
    tmp_path: Path, s3_endpoint: str, aws_env, name: str
) -> None:
    import json

    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="hostile")
    s3.put_object(Bucket="hostile", Key="raw/objects/abc", Body=b"x")
    manifest = {"files": {name: {"sha256": "abc", "size": 1}}}
    s3.put_object(Bucket="hostile", Key="raw/manifests/latest.json", Body=json.dumps(manifest))
    settings = load_settings(datastore={"bucket": "hostile", "endpoint_url": s3_endpoint})
    target = tmp_path / "data" / "raw"
    with pytest.raises(DatastoreError, match="outside data/raw; nothing pulled"):
        pull(settings, target)
    assert not (tmp_path / "data" / "escape.csv").exists() and not target.exists()
