"""The simulator's drift terms: parsing against the schema (clear errors) and their effect."""

from __future__ import annotations

import pandas as pd
import pytest

from obesity_risk.errors import DataValidationError
from obesity_risk.simulate import SimulationSummary, apply_drift, parse_drift
from tests.helpers.settings import quiet_settings


@pytest.fixture(scope="module")
def schema():
    return quiet_settings().data


def test_terms_are_parsed_and_applied(schema) -> None:
    terms = parse_drift("Weight*1.15, Age+5 ,FAVC=yes:0.3", schema)
    assert [(t.column, t.op, t.value, t.share) for t in terms] == [
        ("Weight", "*", 1.15, 1.0),
        ("Age", "+", 5.0, 1.0),
        ("FAVC", "=", "yes", 0.3),
    ]
    frame = pd.DataFrame({"Weight": [100.0] * 2000, "Age": [20.0] * 2000, "FAVC": ["no"] * 2000})
    drifted = apply_drift(frame, terms, seed=1)
    assert drifted["Weight"].to_numpy() == pytest.approx(115.0)
    assert drifted["Age"].eq(25.0).all()
    assert 0.27 < drifted["FAVC"].eq("yes").mean() < 0.33
    assert frame["Weight"].eq(100.0).all()  # the input is not changed
    assert parse_drift(None, schema) == [] and parse_drift("", schema) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Weight/2", "not understood"),
        ("Height*", "not understood"),
        ("Gender*2", "'Gender' is not a numeric column"),
        ("Weight=80:0.5", "'Weight' is not a categorical column"),
        ("Nope+1", "'Nope' is not a numeric column"),
        ("FAVC=yes:1.5", "the share must be within 0..1"),
    ],
)
def test_bad_terms_say_what_is_wrong(schema, spec: str, message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        parse_drift(spec, schema)


def test_summary_line() -> None:
    summary = SimulationSummary(
        sent=10, ok=9, statuses={"200": 9, "503": 1}, seconds=2.0, rate=5.0,
        p50_ms=4.0, p99_ms=9.5, labels_posted=9,
    )  # fmt: skip
    assert summary.line() == (
        "sent 10 requests in 2.0 s (5.0/s): 9 ok, 1 failed {'503': 1}; "
        "p50 4.0 ms, p99 9.5 ms; 9 labels posted"
    )
