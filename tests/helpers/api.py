"""The admin token of the in-process API tests, and one UCI row as a request body."""

from __future__ import annotations

import numpy as np

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def record(uci, i: int = 0) -> dict:
    return {
        k: (float(v) if isinstance(v, (int, float, np.number)) else v)
        for k, v in uci.X.iloc[i].items()
    }
