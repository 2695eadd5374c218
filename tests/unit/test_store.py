"""The prediction store on its embedded default (SQLite); PostgreSQL runs the same checks."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from obesity_risk.errors import StoreError
from obesity_risk.monitoring.store import PredictionStore
from tests.helpers.store_checks import assert_store_round_trip


def test_prediction_store_round_trip_on_sqlite(tmp_path: Path) -> None:
    assert_store_round_trip(f"sqlite:///{tmp_path}/nested/predictions.db")


def test_unusable_store_url_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="prediction store nosuch://x is unusable"):
        PredictionStore("nosuch://x")


def test_workers_opening_a_new_store_together_all_succeed(tmp_path: Path) -> None:
    """N processes create the same new store at once (uvicorn workers starting): none fails."""
    url = f"sqlite:///{tmp_path}/predictions.db"
    code = (
        "import sys, time; from obesity_risk.monitoring.store import PredictionStore\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "PredictionStore(sys.argv[1]).close()\n"
    )
    start_at = str(time.time() + 4)  # all processes past their imports, then go together
    processes = [
        subprocess.Popen([sys.executable, "-c", code, url, start_at], stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    errors = [p.communicate(timeout=60)[1].decode()[-500:] for p in processes]
    assert [p.returncode for p in processes] == [0] * 6, errors
