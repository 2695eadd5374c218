"""One round-trip check of the prediction store, run on every database it supports."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

from obesity_risk.monitoring.store import PredictionStore


def assert_store_round_trip(url: str) -> None:
    """Writes (one and many records), reads by count and by time, ordering and values."""
    store = PredictionStore(url)
    try:
        for i in range(3):
            store.write(
                f"req-{i}",
                "4",
                [{"Age": 20.0 + i, "Gender": "Male"}],
                ["Normal_Weight"],
                [{"Normal_Weight": 0.9, "Obesity_Type_I": 0.1}],
            )
        time.sleep(0.05)
        cut = datetime.now(UTC)
        time.sleep(0.05)
        store.write(
            "req-batch",
            None,
            [{"Age": 30.0, "Gender": "Female"}, {"Age": 31.0, "Gender": "Male"}],
            ["Obesity_Type_I", "Normal_Weight"],
            [{"Obesity_Type_I": 1.0}, {"Normal_Weight": 1.0}],
        )
        frame = store.read()
        assert store.count() == 5
        assert list(frame["request_id"]) == ["req-0", "req-1", "req-2", "req-batch", "req-batch"]
        assert list(frame["Age"]) == [20.0, 21.0, 22.0, 30.0, 31.0]
        assert list(frame["prediction"])[-2:] == ["Obesity_Type_I", "Normal_Weight"]
        assert list(store.read(last=2)["Age"]) == [30.0, 31.0]
        assert list(store.read(since=cut)["Age"]) == [30.0, 31.0]
        # the same instant in another time zone, and naive (taken as UTC), select the same rows
        plus_two = cut.astimezone(timezone(timedelta(hours=2)))
        assert list(store.read(since=plus_two)["Age"]) == [30.0, 31.0]
        assert list(store.read(since=cut.replace(tzinfo=None))["Age"]) == [30.0, 31.0]
        assert store.read(since=datetime.now(UTC) + timedelta(hours=1)).empty
    finally:
        store.close()
