"""The research environment: every notebook runs top to bottom on the package (smoke
parameters, temporary MLflow store), and JupyterLab starts with a token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import papermill as pm
import pytest

from tests.helpers.cli import cli
from tests.helpers.datasets import make_homes, make_stays
from tests.helpers.net import free_port
from tests.helpers.paths import isolated_paths

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
PARAMS = {
    "01-eda.ipynb": {"sample_rows": 3000},
    "02-data-processing.ipynb": {"sample_rows": 1500},
    "03-experiments.ipynb": {"budget": "smoke", "families": "dt,lgbm", "height_weight_rows": 2000},
    "04-monitoring.ipynb": {},
}


def test_notebooks_are_numbered_parametrised_and_stripped() -> None:
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == sorted(PARAMS)
    for name in names:
        notebook = json.loads((NOTEBOOKS / name).read_text())
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert "parameters" in code[0]["metadata"].get("tags", []), name
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), name
        source = "".join("".join(c["source"]) for c in code)
        assert "from obesity_risk" in source, name
        assert "\ndef " not in "\n" + source, (
            f"{name} defines functions: move them into the package"
        )


def test_all_notebooks_execute_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in isolated_paths(tmp_path).items():
        monkeypatch.setenv(f"OBESITY_RISK__PATHS__{key.upper()}", value)
    monkeypatch.setenv("OBESITY_RISK__LOGGING__FILE", "false")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    figures = tmp_path / "figures"
    for name, params in PARAMS.items():
        extra = {"figures_dir": str(figures)} if name == "01-eda.ipynb" else {}
        pm.execute_notebook(
            str(NOTEBOOKS / name),
            str(tmp_path / name),
            parameters={**params, **extra},
            cwd=str(NOTEBOOKS),
            kernel_name="python3",
            progress_bar=False,
        )
    pngs = list(figures.glob("eda-*.png"))
    assert len(pngs) >= 6 and all(p.stat().st_size > 10_000 for p in pngs)
    summary = json.loads((tmp_path / "reports/training/summary.json").read_text())
    assert summary["champion"]["card"]["family"] in {"dt", "lgbm", "ensemble"}
    assert (tmp_path / "reports/monitoring/index.html").is_file()


OTHER_TASKS = {  # generator, target, extra `init` options
    "binary": (make_stays, "long_stay", ["--ordered", "severity=low,medium,high"]),
    "regression": (make_homes, "price", ["--ordered", "condition=poor,fair,good"]),
}


@pytest.mark.parametrize("task", list(OTHER_TASKS))
def test_the_notebooks_run_unchanged_on_another_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str
) -> None:
    """The same four notebooks on a config `obesity-risk init` wrote for a binary or a
    regression dataset: nothing in them belongs to the obesity data."""
    make, target, options = OTHER_TASKS[task]
    train, current, config = tmp_path / "train.csv", tmp_path / "current.csv", tmp_path / "c.yaml"
    make(900, 0).to_csv(train, index=False)
    make(300, 1).to_csv(current, index=False)
    result = cli("init", str(train), "--target", target, *options, "-o", str(config))
    assert result.returncode == 0, result.stderr
    for key, value in isolated_paths(tmp_path).items():
        monkeypatch.setenv(f"OBESITY_RISK__PATHS__{key.upper()}", value)
    monkeypatch.setenv("OBESITY_RISK_CONFIG", str(config))
    monkeypatch.setenv("OBESITY_RISK__LOGGING__FILE", "false")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    figures = tmp_path / "figures"
    params = {
        "01-eda.ipynb": {"sample_rows": None, "figures_dir": str(figures)},
        "02-data-processing.ipynb": {"sample_rows": 600},
        "03-experiments.ipynb": {
            "budget": "smoke",
            "families": "dt,lgbm",
            "height_weight_rows": 600,
        },
        "04-monitoring.ipynb": {"current_csv": str(current)},
    }
    for name, parameters in params.items():
        pm.execute_notebook(
            str(NOTEBOOKS / name),
            str(tmp_path / name),
            parameters=parameters,
            cwd=str(NOTEBOOKS),
            kernel_name="python3",
            progress_bar=False,
        )
    assert len(list(figures.glob("eda-*.png"))) == 6
    summary = json.loads((tmp_path / "reports/training/summary.json").read_text())
    assert summary["champion"]["card"]["task"] == task
    performance = sorted((tmp_path / "reports/monitoring").glob("*-performance.json"))
    assert performance, "04 built a performance report on the labelled current file"
    executed = json.loads((tmp_path / "03-experiments.ipynb").read_text())
    shown = json.dumps([c.get("outputs", []) for c in executed["cells"]])
    assert ("3-fold CV rmse" in shown) == (task == "regression")


def test_jupyterlab_requires_its_token(tmp_path: Path) -> None:
    port, token = free_port(), "s3cret-token-for-tests"
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,
        "LAB_PORT": str(port),
        "JUPYTER_RUNTIME_DIR": str(tmp_path),
    }
    log = (tmp_path / "lab.log").open("w")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "lab-server", f"LAB_PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if (
                    httpx.get(f"{base}/api/status", params={"token": token}, timeout=2).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("JupyterLab did not start: " + (tmp_path / "lab.log").read_text()[-2000:])
        assert httpx.get(f"{base}/api/status", params={"token": token}).status_code == 200
        assert httpx.get(f"{base}/api/status").status_code == 403
        assert httpx.get(f"{base}/api/status", params={"token": "wrong"}).status_code == 403
        contents = httpx.get(f"{base}/api/contents/notebooks", params={"token": token}).json()
        assert {c["name"] for c in contents["content"]} >= set(PARAMS)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
        log.close()
