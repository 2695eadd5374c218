"""``obesity-risk init``'s scaffold: odd files get a clear decision or a one-line refusal, and
whatever it writes validates and reads its own file back whole (property-based)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obesity_risk.config import load_settings
from obesity_risk.data import load_dataset
from obesity_risk.errors import ConfigError, DataValidationError
from obesity_risk.scaffold import profile as profiling
from obesity_risk.scaffold import scaffold


def _written(tmp_path: Path, frame: pd.DataFrame, target: str, **options):
    """Scaffold ``frame`` saved as CSV; the validated settings and the scaffold."""
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    result = scaffold(data, target, **options)
    config = tmp_path / "config.yaml"
    config.write_text(result.render(str(config)), encoding="utf-8")
    return load_settings(config, logging={"file": False}), result, data


def test_odd_columns_are_typed_or_left_out_with_a_reason(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "row_id": np.arange(n),
            "size": rng.normal(5, 2, n).round(3),  # negative values too: no min
            "count": rng.integers(0, 9, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "comment": [f"free text {i}" for i in range(n)],
            "empty": [None] * n,
            "constant": ["same"] * n,
            "code": [str(i % 5) if i % 4 else "x" for i in range(n)],  # numbers and text
            "Größe ✓": rng.choice(["S", "M"], n),  # unicode name
            "label": rng.choice(["a", "b", "c"], n),
        }
    )
    frame.loc[3, "size"] = np.nan
    loaded, result, _ = _written(tmp_path, frame, "label", ordered={"count": None})
    columns = loaded.data.columns
    assert loaded.data.id_column == "row_id" and loaded.data.task == "multiclass"
    assert set(columns) == {"size", "count", "colour", "code", "Größe ✓"}
    assert columns["size"].nullable and columns["size"].min is None
    assert columns["count"].type == "categorical" and columns["count"].ordered
    assert columns["count"].categories == [str(i) for i in range(9)]  # numeric order
    assert columns["code"].categories == ["0", "1", "2", "3", "4", "x"]
    notes = "\n".join(result.notes)
    for expected in (
        "comment: left out (free text with 300 distinct values)",
        "empty: left out (every value is empty)",
        "constant: left out (constant: always 'same')",
        "code: numbers and text mixed: read as 6 categories",
        "row_id: taken as the id column",
    ):
        assert expected in notes
    assert loaded.data.example is not None and set(loaded.data.example) == set(columns)


def test_binary_targets_with_numbers_for_classes_read_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.random(200), "sick": rng.choice([0, 1], 200, p=[0.9, 0.1])})
    loaded, _, data = _written(tmp_path, frame, "sick")
    assert loaded.data.task == "binary" and loaded.data.classes == ["0", "1"]
    dataset = load_dataset(data, loaded.data)
    assert len(dataset.X) == 200 and set(dataset.y) == {"0", "1"}  # labels read as text


@pytest.mark.parametrize(
    ("target", "options", "message"),
    [
        ("nope", {}, "column 'nope' is not in"),
        ("one", {"task": "regression"}, "--task regression: target 'one' holds text"),
        ("kind", {"task": "binary"}, "--task binary: target 'kind' has 3 classes"),
        ("one", {}, "target 'one' has a single class"),
        ("text", {}, "too many for classes"),
        ("kind", {"ordered": {"colour": ["red"]}}, "--ordered colour: the order must list"),
    ],
)
def test_targets_and_options_that_do_not_fit_are_one_line_errors(
    tmp_path: Path, target: str, options: dict, message: str
) -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "amount": rng.random(200),
            "colour": rng.choice(["red", "blue"], 200),
            "kind": rng.choice(["a", "b", "c"], 200),
            "one": ["x"] * 200,
            "text": [f"t{i}" for i in range(200)],
        }
    )
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    with pytest.raises(ConfigError) as caught:
        scaffold(data, target, **options)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"a,b\n", "no data rows"),
        (b"a,a\n1,2\n", "column(s) named more than once in the header: a"),
        (b'a,b\n"1,2\n', "cannot be read"),
    ],
)
def test_unreadable_files_are_one_line_errors(tmp_path: Path, content: bytes, message: str) -> None:
    data = tmp_path / "bad.csv"
    data.write_bytes(content)
    with pytest.raises(DataValidationError, match=re.escape(message)):
        scaffold(data, "b")


def test_large_files_are_read_in_chunks_and_parquet_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Categories and ranges cover every chunk (a rare value in the last chunk is kept)."""
    monkeypatch.setattr(profiling, "CHUNK_ROWS", 64)
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"v": rng.random(1000), "c": ["a"] * 999 + ["rare"], "y": ["p", "q"] * 500}
    )
    loaded, _, data = _written(tmp_path, frame, "y")
    assert loaded.data.columns["c"].categories == ["a", "rare"]
    assert len(load_dataset(data, loaded.data).X) == 1000
    parquet = tmp_path / "data.parquet"
    frame.to_parquet(parquet)
    assert scaffold(parquet, "y").data["data"]["columns"]["c"]["categories"] == ["a", "rare"]


def test_a_nul_byte_is_kept_in_the_category(tmp_path: Path) -> None:
    data = tmp_path / "nul.csv"
    data.write_bytes(b"c,y\na\x00b,p\nz,q\nz,p\n")
    assert scaffold(data, "y").data["data"]["columns"]["c"]["categories"] == ["a\x00b", "z"]


_cells = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from(["a", "b", "ä", " c", "x y", "1", "2.5", "#", "-"]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    columns=st.lists(st.lists(_cells, min_size=30, max_size=30), min_size=1, max_size=4),
    labels=st.lists(st.sampled_from(["yes", "no", "maybe"]), min_size=30, max_size=30),
)
def test_whatever_it_writes_validates_and_reads_its_file_whole(
    tmp_path: Path, columns: list[list], labels: list[str]
) -> None:
    frame = pd.DataFrame({f"f{i}": values for i, values in enumerate(columns)})
    frame["target"] = labels
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    try:
        result = scaffold(data, "target")
    except (ConfigError, DataValidationError) as exc:  # a refusal is one clear line
        assert "\n" not in str(exc) and str(exc)
        return
    config = tmp_path / "config.yaml"
    config.write_text(result.render(), encoding="utf-8")
    loaded = load_settings(config, logging={"file": False})
    assert yaml.safe_load(config.read_text())["data"]["target"] == "target"
    dataset = load_dataset(data, loaded.data)  # every row of its own file is valid
    assert len(dataset.X) == len(frame)
