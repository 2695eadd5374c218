"""Shared fixtures: settings isolated in a temp dir, hand-made frames, the real data."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import pytest

from obesity_risk.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"
TRAIN_CSV = RAW / "obesity_s4e2_train.csv"
UCI_CSV = RAW / "obesity_uci_original.csv"


def _drop_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("OBESITY_RISK", "MLFLOW_")):
            monkeypatch.delenv(key)


@pytest.fixture(scope="module", autouse=True)
def _clean_env_module():
    """Module fixtures (a training run, say) never see the developer's overrides, nor the
    MLFLOW_TRACKING_URI that ``mlflow.set_tracking_uri`` exports in an earlier module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _drop_overrides(monkeypatch)
        yield


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's overrides."""
    _drop_overrides(monkeypatch)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http_ok(url: str, timeout: float, dead: Callable[[], str | None] = lambda: None) -> float:
    """Poll ``url`` until it answers 200; seconds waited. Fails the test when ``dead()``
    returns a reason (the server process exited) or ``timeout`` passes."""
    started = time.monotonic()
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        reason = dead()
        assert reason is None, reason
        assert time.monotonic() - started < timeout, f"{url} not ready in {timeout:.0f} s"
        time.sleep(0.05)


class RssGrowth:
    """``with RssGrowth(pid) as growth:`` the peak resident memory of process ``pid`` while the
    block ran, minus its resident memory before (bytes, in ``growth.bytes``; polled every 5 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.bytes = pid, 0
        self._before, self._peak = 0, 0
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._poll, daemon=True)

    def rss(self) -> int:
        """Resident bytes of the process now."""
        with open(f"/proc/{self.pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _poll(self) -> None:
        while not self._done.is_set():
            self._peak = max(self._peak, self.rss())
            time.sleep(0.005)

    def __enter__(self) -> RssGrowth:
        self._before = self._peak = self.rss()
        self._watcher.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._watcher.join()
        self.bytes = max(0, self._peak - self._before)


def isolated_paths(tmp: Path) -> dict[str, str]:
    """Path overrides that keep every generated file under ``tmp``."""
    return {
        "mlruns_dir": str(tmp / "mlruns"),
        "models_dir": str(tmp / "models"),
        "reports_dir": str(tmp / "reports"),
        "logs_dir": str(tmp / "logs"),
        "data_dir": str(tmp / "data"),
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings writing only under ``tmp_path``."""
    return load_settings(paths=isolated_paths(tmp_path), logging={"file": False})


@pytest.fixture(scope="session")
def train_frame() -> pd.DataFrame:
    """The S4E2 training file as read from disk."""
    return pd.read_csv(TRAIN_CSV)


@pytest.fixture
def tiny_records() -> pd.DataFrame:
    """Four hand-made valid rows (no target)."""
    return pd.DataFrame(
        {
            "Gender": ["Female", "Male", "Male", "Female"],
            "Age": [21.0, 35.0, 50.0, 19.0],
            "Height": [1.62, 1.80, 1.75, 1.55],
            "Weight": [64.0, 120.0, 80.0, 45.0],
            "family_history_with_overweight": ["yes", "yes", "no", "no"],
            "FAVC": ["no", "yes", "yes", "no"],
            "FCVC": [2.0, 3.0, 1.0, 2.5],
            "NCP": [3.0, 3.0, 1.0, 4.0],
            "CAEC": ["Sometimes", "Frequently", "no", "Always"],
            "SMOKE": ["no", "no", "yes", "no"],
            "CH2O": [2.0, 1.0, 3.0, 2.0],
            "SCC": ["no", "no", "yes", "no"],
            "FAF": [0.0, 1.0, 3.0, 2.0],
            "TUE": [1.0, 0.0, 2.0, 1.0],
            "CALC": ["no", "Sometimes", "Frequently", "no"],
            "MTRANS": ["Public_Transportation", "Automobile", "Walking", "Bike"],
        }
    )


def make_loaded(
    pipeline,
    version: str | None = "7",
    source: str = "test://small",
    family: str = "lgbm",
    **metrics,
):
    """A LoadedModel with a typed card (what the registry or the export would give)."""
    from obesity_risk.registry.client import LoadedModel

    return LoadedModel(pipeline, source, make_card(version, family, **metrics))


def make_card(version: str | None = "3", family: str = "lgbm", **metrics):
    """A model card as training writes it (artifact hashes are added by ``export_local``)."""
    from obesity_risk.config.settings import load_settings as _load
    from obesity_risk.registry.card import CardMetrics, ModelCard

    return ModelCard(
        name="obesity-risk",
        family=family,
        version=version,
        classes=list(_load(logging={"file": False}).data.classes),
        metrics=CardMetrics(**metrics),
    )


@pytest.fixture(scope="session")
def small_pipeline():
    """A real LightGBM pipeline (100 trees, 4,000 S4E2 rows), trained once per session."""
    from obesity_risk.data import load_dataset, sample_stratified
    from obesity_risk.features import build_pipeline
    from obesity_risk.training.families import effective_family, make_estimator

    settings = load_settings(logging={"file": False})
    data = load_dataset(TRAIN_CSV, settings.data)
    X, y = sample_stratified(data.X, data.y, 4000, 0)
    family = effective_family(settings, "lgbm")
    params = family.warm_start[0] | {"n_estimators": 100}
    estimator = make_estimator(settings, family, params)
    return build_pipeline(settings.data, settings.features, estimator).fit(X, y)
