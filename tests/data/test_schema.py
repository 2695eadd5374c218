"""Schema validation: real files pass whole; every kind of bad file fails loudly, losing nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from obesity_risk.config import Settings
from obesity_risk.data import load_dataset, read_csv, sample_stratified, split, validate_frame
from obesity_risk.errors import DataValidationError
from tests.helpers.paths import TRAIN_CSV, UCI_CSV


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "bad.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_training_file_validates_whole(settings: Settings, train_frame: pd.DataFrame) -> None:
    data = load_dataset(TRAIN_CSV, settings.data)
    assert len(data.X) == len(train_frame) == 20758
    assert data.y is not None and set(data.y) == set(settings.data.classes)
    assert "id" not in data.X.columns and data.ids is not None
    assert data.X["Age"].dtype == np.float64


def test_uci_file_has_a_category_unseen_in_training(settings: Settings) -> None:
    with pytest.raises(DataValidationError, match=r"column 'CALC': 1 of 2111 rows fail isin"):
        # strict (training) mode: declared categories only... CALC=Always *is* declared,
        # so restrict the schema to what S4E2 has to prove the check fires
        schema = settings.data.model_copy(
            update={
                "columns": {
                    **settings.data.columns,
                    "CALC": settings.data.columns["CALC"].model_copy(
                        update={"categories": ["no", "Sometimes", "Frequently"]}
                    ),
                }
            }
        )
        load_dataset(UCI_CSV, schema)
    # prediction mode: unseen categories pass (the pipeline handles them)
    data = load_dataset(UCI_CSV, settings.data, labelled=None)
    assert len(data.X) == 2111 and data.y is not None


def test_missing_column(tmp_path: Path, settings: Settings, train_frame: pd.DataFrame) -> None:
    path = write(tmp_path, train_frame.head(50).drop(columns=["Weight"]))
    with pytest.raises(DataValidationError, match=rf"(?s){path}: .*missing column\(s\): Weight"):
        load_dataset(path, settings.data)


def test_missing_target_when_labels_required(
    tmp_path: Path, settings: Settings, train_frame: pd.DataFrame
) -> None:
    path = write(tmp_path, train_frame.head(50).drop(columns=["NObeyesdad"]))
    with pytest.raises(DataValidationError, match=r"(?s)missing column.*NObeyesdad"):
        load_dataset(path, settings.data)
    assert load_dataset(path, settings.data, labelled=False).y is None


def test_wrong_type_names_column_and_row_count(
    tmp_path: Path, settings: Settings, train_frame: pd.DataFrame
) -> None:
    bad = train_frame.head(100).astype({"Age": object})
    bad.loc[[3, 7, 9], "Age"] = "twenty"
    path = write(tmp_path, bad)
    with pytest.raises(DataValidationError, match=r"column 'Age': 3 of 100 rows fail .*'twenty'"):
        load_dataset(path, settings.data)


def test_out_of_range(tmp_path: Path, settings: Settings, train_frame: pd.DataFrame) -> None:
    bad = train_frame.head(100).copy()
    bad.loc[[1, 2], "Height"] = [170.0, 180.0]  # centimetres instead of metres
    path = write(tmp_path, bad)
    with pytest.raises(DataValidationError, match=r"column 'Height': 2 of 100 rows fail in_range"):
        load_dataset(path, settings.data)


def test_unknown_target_class(
    tmp_path: Path, settings: Settings, train_frame: pd.DataFrame
) -> None:
    bad = train_frame.head(100).copy()
    bad.loc[5, "NObeyesdad"] = "Obesity_Type_IV"
    path = write(tmp_path, bad)
    with pytest.raises(
        DataValidationError, match=r"column 'NObeyesdad': 1 of 100 rows fail isin.*Obesity_Type_IV"
    ):
        load_dataset(path, settings.data)


def test_nan_is_reported_not_dropped(
    tmp_path: Path, settings: Settings, train_frame: pd.DataFrame
) -> None:
    bad = train_frame.head(100).copy()
    bad.loc[[0, 50], "FAF"] = np.nan
    bad.loc[[10], "MTRANS"] = np.nan
    path = write(tmp_path, bad)
    with pytest.raises(DataValidationError) as info:
        load_dataset(path, settings.data, labelled=False)
    message = str(info.value)
    assert "column 'FAF': 2 of 100 rows missing values (NaN)" in message
    assert "column 'MTRANS': 1 of 100 rows missing values (NaN)" in message


def test_infinite_values_are_rejected(settings: Settings, tiny_records: pd.DataFrame) -> None:
    bad = tiny_records.assign(TUE=[1.0, np.inf, 0.0, 1.0])
    with pytest.raises(DataValidationError, match="column 'TUE': 1 of 4 rows fail"):
        validate_frame(bad, settings.data, require_target=False)


def test_numeric_value_in_categorical_column(
    settings: Settings, tiny_records: pd.DataFrame
) -> None:
    bad = tiny_records.assign(Gender=[0, 1, 1, 0])
    with pytest.raises(DataValidationError, match="column 'Gender': 4 of 4 rows fail is_text"):
        validate_frame(bad, settings.data, require_target=False, known_categories=False)


def test_malformed_csv(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text('a,b\n1,2\n3,4,5,6\n"unclosed,7\n')
    with pytest.raises(DataValidationError, match=rf"{path}: malformed CSV"):
        load_dataset(path, settings.data)


def test_empty_file_and_header_only(
    tmp_path: Path, settings: Settings, train_frame: pd.DataFrame
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataValidationError, match="empty file"):
        read_csv(empty)
    header = write(tmp_path, train_frame.head(0), "header.csv")
    with pytest.raises(DataValidationError, match="no data rows"):
        load_dataset(header, settings.data)


def test_missing_file(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(DataValidationError, match="file not found"):
        load_dataset(tmp_path / "nope.csv", settings.data)


def test_split_is_stratified_seeded_and_complete(settings: Settings) -> None:
    data = load_dataset(TRAIN_CSV, settings.data)
    X_tr, X_va, _, y_va = split(data, 0.15, 42)
    assert len(X_tr) + len(X_va) == len(data.X)
    assert set(X_tr.index).isdisjoint(X_va.index)
    share = y_va.value_counts(normalize=True) - data.y.value_counts(normalize=True)
    assert share.abs().max() < 0.005
    again = split(data, 0.15, 42)
    assert again[1].index.equals(X_va.index)


def test_sample_stratified(settings: Settings) -> None:
    data = load_dataset(TRAIN_CSV, settings.data)
    X, y = sample_stratified(data.X, data.y, 1000, 0)
    assert len(X) == len(y) == 1000 and X.index.equals(y.index)
    assert sample_stratified(data.X, data.y, None, 0)[0] is data.X


# ----------------------------------------------------------------------------- expectations
def test_expectation_classes_are_bmi_bands(settings: Settings) -> None:
    """The near-determinism of Height/Weight the project relies on."""
    data = load_dataset(TRAIN_CSV, settings.data)
    bmi = data.X["Weight"] / data.X["Height"] ** 2
    medians = bmi.groupby(data.y).median().reindex(settings.data.classes)
    assert medians.is_monotonic_increasing
    assert medians["Insufficient_Weight"] < 18.5 < medians["Normal_Weight"] < 25


def test_expectation_no_class_is_rare(settings: Settings) -> None:
    data = load_dataset(TRAIN_CSV, settings.data)
    assert data.y.value_counts(normalize=True).min() > 0.10


def test_expectation_raw_files_are_the_published_ones() -> None:
    from obesity_risk.files import file_sha256

    assert file_sha256(TRAIN_CSV).startswith("fec835cc642ffbc3")
    assert file_sha256(UCI_CSV).startswith("28b6991062855d3d")
