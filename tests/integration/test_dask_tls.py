"""The batch cluster over mutual TLS, as compose runs it: a ``dask scheduler`` and a worker
started with the certificates of ``python -m obesity_risk.dask_tls``; ``obesity-risk predict
--engine dask`` with them scores a file; without them it cannot connect, nor can a plain-TCP
worker join."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from obesity_risk.dask_tls import dask_environment, make_certificates
from tests.helpers.batch import DASK, clean_environ, environment, scheduler_args, worker_args
from tests.helpers.cli import cli
from tests.helpers.net import free_port
from tests.helpers.paths import UCI_CSV

pytestmark = pytest.mark.slow


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([DASK, *args], env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))


def test_the_batch_cluster_speaks_mutual_tls_only(champion, tmp_path: Path) -> None:
    _, tmp = champion
    certs = make_certificates(tmp_path / "certs")
    assert oct((certs / "key.pem").stat().st_mode)[-3:] == "600"
    before = (certs / "ca.pem").read_bytes()
    make_certificates(certs)  # an existing set is kept
    assert (certs / "ca.pem").read_bytes() == before
    base = clean_environ()
    tls = base | environment(tmp, "256KB") | dask_environment(certs)
    port = free_port()
    address = f"tls://127.0.0.1:{port}"
    scheduler = _start(scheduler_args(port, "--protocol", "tls"), tls, tmp_path / "scheduler.log")
    worker = _start(worker_args(address, tmp_path / "w"), tls, tmp_path / "worker.log")
    intruder = _start(  # a worker without the certificates
        [
            "worker",
            f"tcp://127.0.0.1:{port}",
            "--no-nanny",
            "--dashboard-address",
            ":0",
            "--death-timeout",
            "5",
        ],
        base,
        tmp_path / "intruder.log",
    )
    try:
        frame = pd.read_csv(UCI_CSV).drop(columns=["NObeyesdad"]).head(300)
        frame.to_csv(tmp_path / "input.csv", index=False)
        args = [
            "predict",
            "--engine",
            "dask",
            "--scheduler",
            address,
            "-i",
            str(tmp_path / "input.csv"),
        ]
        deadline = time.monotonic() + 120
        while True:  # the scheduler and the worker are starting
            result = cli(*args, "-o", str(tmp_path / "out"), env={**tls, **environment(tmp)})
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert result.returncode == 0, result.stderr[-3000:]
        scored = pd.concat(pd.read_parquet(p) for p in sorted((tmp_path / "out").glob("*.parquet")))
        assert len(scored) == len(frame)
        plain = cli(
            *args,
            "-o",
            str(tmp_path / "out2"),
            env={
                **environment(tmp),
                "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s",
                "OBESITY_RISK__BATCH__CONNECT_TIMEOUT_S": "5",
            },
        )
        assert plain.returncode == 2, plain.stderr[-2000:]
        assert f"cannot connect to the Dask scheduler {address}" in plain.stderr
        assert "Traceback" not in plain.stderr and not list(tmp_path.glob("out2/*.parquet"))
        assert intruder.wait(60) != 0  # never joined: it gave up
    finally:
        for process in (intruder, worker, scheduler):
            process.kill()
            process.wait(10)
