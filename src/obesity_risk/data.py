"""Load CSV files and validate them against the schema declared in YAML.

Validation never drops or silently coerces rows: a file either passes whole, or fails with a
:class:`DataValidationError` naming the file, each failing column and how many rows fail.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from sklearn.model_selection import train_test_split

from obesity_risk.config import CategoricalColumn, DataSchema, NumericColumn
from obesity_risk.errors import DataValidationError

_MAX_EXAMPLES = 3
_MAX_ROWS = 10  # row numbers listed per failing column


@dataclass(frozen=True)
class Dataset:
    """Features and (optional) labels of one validated file."""

    X: pd.DataFrame
    y: pd.Series | None
    source: str
    ids: pd.Series | None = None


def pandera_schema(
    schema: DataSchema, *, require_target: bool, known_categories: bool
) -> pa.DataFrameSchema:
    """Build the pandera schema for ``schema``.

    Args:
        require_target: the target column must be present with a known class.
        known_categories: categorical features must take a declared value (training);
            at prediction time unknown values pass and the pipeline handles them.
    """
    columns: dict[str, pa.Column] = {}
    for name, spec in schema.columns.items():
        if isinstance(spec, NumericColumn):
            checks = []
            if spec.min is not None or spec.max is not None:
                checks.append(
                    pa.Check.in_range(
                        spec.min if spec.min is not None else float("-inf"),
                        spec.max if spec.max is not None else float("inf"),
                    )
                )
            checks.append(pa.Check(lambda s: ~s.isin([float("inf"), float("-inf")]), name="finite"))
            columns[name] = pa.Column(float, checks, nullable=spec.nullable, coerce=True)
        else:
            assert isinstance(spec, CategoricalColumn)
            checks = [pa.Check.isin(spec.categories)] if known_categories else []
            checks.append(pa.Check(lambda s: s.map(type).eq(str), name="is_text"))
            columns[name] = pa.Column(checks=checks, nullable=spec.nullable)
    if require_target:
        columns[schema.target] = target_column(schema)
    return pa.DataFrameSchema(columns, strict=False)


def target_column(schema: DataSchema) -> pa.Column:
    """The target's check: one of the classes, or a finite number in the declared range."""
    if schema.is_classification:
        return pa.Column(checks=pa.Check.isin(schema.labels), nullable=False)
    low = float("-inf") if schema.target_min is None else schema.target_min
    high = float("inf") if schema.target_max is None else schema.target_max
    checks = [
        pa.Check.in_range(low, high),
        pa.Check(lambda s: ~s.isin([float("inf"), float("-inf")]), name="finite"),
    ]
    return pa.Column(float, checks, nullable=False, coerce=True)


def validate_frame(
    frame: pd.DataFrame,
    schema: DataSchema,
    *,
    source: str = "<frame>",
    require_target: bool = True,
    known_categories: bool = True,
) -> pd.DataFrame:
    """Return ``frame`` with numeric columns as float64, or raise naming every problem."""
    if frame.empty:
        raise DataValidationError(f"{source}: no data rows")
    try:
        return pandera_schema(
            schema, require_target=require_target, known_categories=known_categories
        ).validate(frame, lazy=True)
    except SchemaErrors as exc:
        raise DataValidationError(_describe(exc.failure_cases, source, len(frame))) from None


def validate_rows(frame: pd.DataFrame, schema: DataSchema) -> tuple[pd.DataFrame, dict[Any, str]]:
    """(the valid rows, coerced like the API's; ``{index: "column: reason; ..."}`` of the
    others). One schema pass when every row is valid, the usual case.

    Raises:
        DataValidationError: a frame-level failure (a missing column): nothing can be scored.
    """
    checks = pandera_schema(schema, require_target=False, known_categories=True)
    try:
        return checks.validate(frame, lazy=True), {}
    except SchemaErrors as exc:
        failures = exc.failure_cases
    per_row = failures[failures["index"].notna()]
    if per_row.empty:  # a column-level failure only (a missing column...): nothing scores
        raise DataValidationError(
            "; ".join(f"{r.column}: {r.check}" for r in failures.itertuples())
        ) from None
    problems: dict[Any, list[str]] = {}
    for row in per_row.itertuples():
        reason = "missing value" if row.check == "not_nullable" else str(row.check)
        problems.setdefault(int(row.index), []).append(
            f"{row.column}: {reason} ({row.failure_case!r})"
        )
    good = frame.drop(index=list(problems))
    try:  # column-level failures caused by the bad rows (a failed coercion) go with them
        valid = checks.validate(good, lazy=True) if len(good) else good
    except SchemaErrors as exc:
        raise DataValidationError(
            "; ".join(f"{r.column}: {r.check}" for r in exc.failure_cases.itertuples())
        ) from None
    return valid, {k: "; ".join(v) for k, v in problems.items()}


def _describe(failures: pd.DataFrame, source: str, n_rows: int) -> str:
    lines = []
    missing = failures[failures["check"] == "column_in_dataframe"]["failure_case"].tolist()
    if missing:
        lines.append(f"  missing column(s): {', '.join(map(str, missing))}")
    per_row = failures[failures["index"].notna()]
    for (column, check), group in per_row.groupby(["column", "check"], sort=False):
        rows = group["index"].nunique()
        examples = ", ".join(
            repr(v) for v in group["failure_case"].drop_duplicates()[:_MAX_EXAMPLES]
        )
        reason = "missing values (NaN)" if check == "not_nullable" else f"fail {check}"
        labels = list(dict.fromkeys(group["index"]))
        numbers = [int(i) + 1 if isinstance(i, int | float) else i for i in labels]
        where = ", ".join(map(str, numbers[:_MAX_ROWS])) + (", ..." if rows > _MAX_ROWS else "")
        lines.append(
            f"  column {column!r}: {rows} of {n_rows} rows {reason}"
            + ("" if check == "not_nullable" else f" (e.g. {examples})")
            + f"; data row(s) {where}"
        )
    # a check that crashed on values already reported (a TypeError on text) adds nothing
    other = failures[
        failures["index"].isna()
        & (failures["check"] != "column_in_dataframe")
        & ~failures["column"].isin(per_row["column"])
    ]
    lines.extend(
        f"  column {r.column!r}: {r.check} ({r.failure_case!r})" for r in other.itertuples()
    )
    return f"{source}: does not match the data schema:\n" + "\n".join(lines)


def refuse_duplicate_columns(
    path: Path | str,
    storage_options: dict[str, Any] | None = None,
    engine: Literal["c", "python"] = "c",
) -> None:
    """pandas renames a repeated header name (``Age``, ``Age.1``) and the schema reads the first
    column only: refuse the file instead, naming the column(s).

    Raises:
        DataValidationError: the header names a column twice.
    """
    try:
        header = pd.read_csv(
            path,
            header=None,
            nrows=1,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            engine=engine,
            storage_options=storage_options,
        ).iloc[0]
    except pd.errors.EmptyDataError:
        return  # no header: the file's reader says so
    repeated = sorted({str(name) for name in header[header.duplicated()]})
    if repeated:
        raise DataValidationError(
            f"{path}: column(s) named more than once in the header: {', '.join(repeated)}"
        )


def csv_engine(
    path: Path | str, storage_options: dict[str, Any] | None = None
) -> Literal["c", "python"]:
    """The pandas CSV engine that reads this file whole: ``python`` when it holds a NUL byte
    (the C engine cuts a value at the NUL, so ``"Male\\x00x"`` would pass as ``"Male"``)."""
    import fsspec

    with fsspec.open(str(path), "rb", **(storage_options or {})) as handle:
        chunks = iter(lambda: handle.read(1 << 20), b"")
        return "python" if any(b"\0" in chunk for chunk in chunks) else "c"


def read_csv(path: Path | str, text_columns: Collection[str] = ()) -> pd.DataFrame:
    """Read a CSV file, turning parser failures into a :class:`DataValidationError`.

    ``text_columns`` are read as text (categories and class labels such as ``0``/``1`` stay
    the strings the schema names); a file with NUL bytes is read by pandas' Python engine:
    the C one cuts a value at the NUL (``"Male\\x00x"`` would pass as ``"Male"``), the
    Python one keeps it whole for the schema.
    """
    path = Path(path)
    if path.is_dir():
        raise DataValidationError(f"{path}: is a directory, not a CSV file")
    if not path.is_file():
        raise DataValidationError(f"{path}: file not found")
    try:
        engine = csv_engine(path)
        frame = pd.read_csv(
            path,
            dtype=dict.fromkeys(text_columns, str),
            keep_default_na=True,
            na_values=[""],
            skipinitialspace=True,
            engine=engine,
        )
        refuse_duplicate_columns(path, engine=engine)
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{path}: empty file (no header, no rows)") from None
    except OSError as exc:
        raise DataValidationError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataValidationError(f"{path}: malformed CSV: {exc}".strip()) from None
    return frame


def load_dataset(path: Path | str, schema: DataSchema, *, labelled: bool | None = True) -> Dataset:
    """Read and validate a file; split features from the target.

    Args:
        labelled: True = target required (training); False = features only (prediction);
            None = use the target when the file has it (monitoring, external evaluation).

    Categories outside the schema are refused in every case (the rule the API applies too).
    """
    text = [*schema.categorical, *([schema.target] if schema.is_classification else [])]
    frame = read_csv(path, text)
    has_target = schema.target in frame.columns
    require_target = bool(labelled) or (labelled is None and has_target)
    frame = validate_frame(
        frame,
        schema,
        source=str(path),
        require_target=require_target,
    )
    y = None
    if require_target:
        target = frame[schema.target]
        y = target.astype(str) if schema.is_classification else target.astype("float64")
    ids = frame[schema.id_column] if schema.id_column in frame.columns else None
    X = frame.drop(columns=[c for c in (schema.target, schema.id_column) if c in frame.columns])
    return Dataset(X=X, y=y, source=str(path), ids=ids)


def split(
    data: Dataset, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Stratified, seeded train/validation split."""
    if data.y is None:
        raise DataValidationError(f"{data.source}: cannot split unlabelled data")
    X_train, X_val, y_train, y_val = train_test_split(
        data.X, data.y, test_size=test_size, stratify=strata(data.y), random_state=seed
    )
    return X_train, X_val, y_train, y_val


def strata(y: pd.Series) -> pd.Series:
    """What splits stratify on: the labels, or a numeric target's deciles (rank-based, so ties
    never merge bins; fewer bins below 200 rows) so every split sees the whole range."""
    if not pd.api.types.is_numeric_dtype(y):
        return y
    bins = max(1, min(10, len(y) // 20))
    return pd.Series(
        pd.qcut(y.rank(method="first"), q=bins, labels=False), index=y.index, name=y.name
    )


def sample_stratified(
    X: pd.DataFrame, y: pd.Series, n_rows: int | None, seed: int
) -> tuple[pd.DataFrame, pd.Series]:
    """Stratified subsample to ``n_rows`` (no-op when the data is already smaller)."""
    if n_rows is None or n_rows >= len(X):
        return X, y
    X_s, _, y_s, _ = train_test_split(
        X, y, train_size=n_rows, stratify=strata(y), random_state=seed
    )
    return X_s, y_s
