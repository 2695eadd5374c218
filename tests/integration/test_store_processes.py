"""The prediction store opened by several processes at once (moved from tests/unit/test_store.py:
it starts processes)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


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
