"""The prediction store on its embedded default (SQLite); PostgreSQL runs the same checks."""

from __future__ import annotations

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
