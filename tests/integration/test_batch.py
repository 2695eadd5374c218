"""Batch scoring on real Dask clusters: a LocalCluster, and a scheduler + two workers started
with the ``dask`` CLI, one of them killed (SIGKILL) in the middle of a job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest

from obesity_risk.config import load_settings
from obesity_risk.errors import DataValidationError
from obesity_risk.registry.client import load_champion
from obesity_risk.serving.batch import score_dask
from obesity_risk.serving.predictor import Predictor
from tests.helpers.batch import DASK, clean_environ, environment, scheduler_args, worker_args
from tests.helpers.cli import cli, tmp_env
from tests.helpers.net import free_port
from tests.helpers.paths import TRAIN_CSV, UCI_CSV

pytestmark = pytest.mark.slow


def with_bad_rows(path: Path) -> pd.DataFrame:
    """S4E2 rows (id kept, no target) with three bad rows at known data rows."""
    frame = pd.read_csv(TRAIN_CSV).drop(columns=["NObeyesdad"]).head(3000)
    frame.loc[9, "Age"] = np.nan  # data row 10
    frame.loc[1999, "MTRANS"] = "Teleport"  # data row 2000
    frame.loc[2500, "Weight"] = 900.0  # data row 2501: over the schema's maximum
    frame.to_csv(path, index=False)
    return frame


def test_local_cluster_scores_like_the_predictor_and_reports_rejects(
    champion, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, tmp = champion
    for key, value in environment(tmp).items():
        monkeypatch.setenv(key, value)  # the LocalCluster's workers inherit it
    settings = load_settings()
    frame = with_bad_rows(tmp / "input.csv")
    out = tmp / "scored"
    result = score_dask(settings, str(tmp / "input.csv"), out, progress=False)
    assert result.partitions > 3  # 64 KB blocks: several partitions
    assert (result.scored, result.rejected) == (2997, 3) and result.model_version == "9"
    parts = sorted(out.glob("part-*.parquet"))
    scored = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    good = frame.drop(index=[9, 1999, 2500])
    # input order, nothing dropped silently (ids are kept as the text they were in the file)
    assert scored["id"].tolist() == good["id"].astype(str).tolist()
    predictor = Predictor.configured(load_champion(settings), settings)
    expected = predictor.score_frame(good.drop(columns=["id"]))
    np.testing.assert_array_equal(
        scored.filter(like="proba_").to_numpy(), expected.filter(like="proba_").to_numpy()
    )
    rejects = pd.read_csv(result.rejects)
    assert rejects["row"].tolist() == [10, 2000, 2501]
    assert rejects["id"].tolist() == frame.loc[[9, 1999, 2500], "id"].tolist()
    # a bad value far past the first block is a reject too, not a dtype error for the job
    late = frame.astype({"FAF": object})
    late.loc[2990, "FAF"] = "often"
    late.to_csv(tmp / "late.csv", index=False)
    result = score_dask(settings, str(tmp / "late.csv"), tmp / "late", progress=False)
    assert result.rejected == 4 and result.scored == 2996
    assert pd.read_csv(result.rejects)["row"].tolist() == [10, 2000, 2501, 2991]
    assert "Age: missing value" in rejects["problems"][0]
    assert "MTRANS" in rejects["problems"][1] and "Teleport" in rejects["problems"][1]
    assert "Weight" in rejects["problems"][2]
    # a NUL byte inside a value: the whole value is rejected, not cut at the NUL and scored
    nul = frame.astype({"Gender": object})
    nul.loc[100, "Gender"] = f"{nul.loc[100, 'Gender']}\0x"
    nul.to_csv(tmp / "nul.csv", index=False)
    result = score_dask(settings, str(tmp / "nul.csv"), tmp / "nul", progress=False)
    assert (result.scored, result.rejected) == (2996, 4)
    nul_rejects = pd.read_csv(result.rejects)
    assert nul_rejects["row"].tolist() == [10, 101, 2000, 2501]
    assert "Gender" in nul_rejects["problems"][1] and "\\x00x" in nul_rejects["problems"][1]


def start(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [DASK, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@pytest.fixture
def cluster(champion):
    """``dask scheduler`` + two ``dask worker`` processes (no nanny: a killed worker stays dead)."""
    _, tmp = champion
    port = free_port()
    env = clean_environ() | environment(tmp, "256KB")
    address = f"tcp://127.0.0.1:{port}"
    scheduler = start(*scheduler_args(port), env=env)
    workers = [start(*worker_args(address, tmp / f"w{i}"), env=env) for i in range(2)]
    yield address, workers
    for process in [*workers, scheduler]:
        process.kill()
        process.wait(10)


def test_cli_on_a_cli_started_cluster_and_a_worker_killed_mid_job(champion, cluster) -> None:
    settings, tmp = champion
    address, workers = cluster
    big = pd.concat([pd.read_csv(TRAIN_CSV).drop(columns=["NObeyesdad"])] * 4, ignore_index=True)
    big["id"] = np.arange(len(big))
    big.to_csv(tmp / "big.csv", index=False)
    env = environment(tmp, "256KB")
    out = tmp / "big-scored"
    job = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "obesity_risk.cli",
            "predict",
            "--engine",
            "dask",
            "--scheduler",
            address,
            "-i",
            str(tmp / "big.csv"),
            "-o",
            str(out),
        ],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("OBESITY_RISK")},
            **env,
            "OBESITY_RISK__LOGGING__FILE": "false",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list(out.glob("part-*.parquet")):  # the job is under way
        assert job.poll() is None, job.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no partition written in 120 s"
        time.sleep(0.05)
    os.kill(workers[0].pid, signal.SIGKILL)
    _, stderr = job.communicate(timeout=600)
    assert job.returncode == 0, stderr[-3000:]
    assert workers[0].wait(10) == -signal.SIGKILL
    scored = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("part-*.parquet"))])
    assert scored["id"].astype(int).tolist() == big["id"].tolist()  # each row once, in order
    assert not (out / "rejects.csv").exists()
    # rejected rows: exit code 4 and the rejects file
    with_bad_rows(tmp / "bad.csv")
    result = cli(
        "predict",
        "--engine",
        "dask",
        "--scheduler",
        address,
        "-i",
        str(tmp / "bad.csv"),
        "-o",
        str(tmp / "bad-scored"),
        env=env,
    )
    assert result.returncode == 4, result.stderr[-3000:]
    assert "3 row(s) rejected" in result.stderr
    assert len(pd.read_csv(tmp / "bad-scored" / "rejects.csv")) == 3
    del settings


def test_missing_input_and_missing_column_are_one_line_errors(champion) -> None:
    _, tmp = champion
    env = tmp_env(tmp) | {"OBESITY_RISK__SERVING__MODEL_SOURCE": "local"}
    result = cli(
        "predict", "--engine", "dask", "-i", str(tmp / "nope-*.csv"), "-o", str(tmp / "o"), env=env
    )
    assert result.returncode == 2 and "no such file" in result.stderr
    pd.read_csv(UCI_CSV).drop(columns=["Weight"]).to_csv(tmp / "noweight.csv", index=False)
    result = cli(
        "predict",
        "--engine",
        "dask",
        "-i",
        str(tmp / "noweight.csv"),
        "-o",
        str(tmp / "o"),
        env=env,
    )
    assert result.returncode == 2 and "missing column(s): Weight" in result.stderr


def test_s3_input_through_a_real_s3_endpoint(
    champion, s3_endpoint: str, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A glob of CSVs in a bucket, read by the workers themselves with s3fs through the
    datastore's endpoint (moto's HTTP server); rejects name the object and its data row."""
    _, tmp = champion
    for key, value in environment(tmp).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OBESITY_RISK__DATASTORE__ENDPOINT_URL", s3_endpoint)
    settings = load_settings()
    frame = with_bad_rows(tmp / "survey.csv")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="survey")
    halves = {"2026/a.csv": frame.iloc[:2000], "2026/b.csv": frame.iloc[2000:]}
    for key, half in halves.items():
        s3.put_object(Bucket="survey", Key=key, Body=half.to_csv(index=False).encode())
    s3.put_object(Bucket="survey", Key="2026/notes.txt", Body=b"not matched by the glob")

    out = tmp / "from-s3"
    result = score_dask(settings, "s3://survey/2026/*.csv", out, progress=False)
    assert (result.scored, result.rejected) == (2997, 3)
    scored = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("part-*.parquet"))])
    assert scored["id"].tolist() == frame.drop(index=[9, 1999, 2500])["id"].astype(str).tolist()
    rejects = pd.read_csv(result.rejects)
    assert rejects["file"].tolist() == ["s3://survey/2026/a.csv"] * 2 + ["s3://survey/2026/b.csv"]
    assert rejects["row"].tolist() == [10, 2000, 501]  # data row within its own object

    with pytest.raises(DataValidationError, match="no such file"):
        score_dask(settings, "s3://survey/2027/*.csv", tmp / "none", progress=False)
    with pytest.raises(DataValidationError, match=r"s3://missing-bucket/x\.csv"):
        score_dask(settings, "s3://missing-bucket/x.csv", tmp / "none", progress=False)
