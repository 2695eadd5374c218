"""What a data file holds, column by column, read in chunks (any size, bounded memory): how
many values are missing, parse as numbers or as text, their range and distinct values."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from obesity_risk.data import csv_engine, refuse_duplicate_columns
from obesity_risk.errors import DataValidationError

CHUNK_ROWS = 100_000
DISTINCT_CAP = 1_000  # distinct values remembered per column (more: "many")


@dataclass
class ColumnProfile:
    """One column over the whole file."""

    name: str
    rows: int = 0
    missing: int = 0
    numbers: int = 0  # non-missing values that parse as numbers
    texts: int = 0  # non-missing values that do not
    low: float = float("inf")
    high: float = float("-inf")
    integers: bool = True  # every number is whole
    distinct: set[str] = field(default_factory=set)
    many: bool = False  # more than DISTINCT_CAP distinct values

    @property
    def present(self) -> int:
        """Non-missing values."""
        return self.rows - self.missing

    @property
    def n_distinct(self) -> int | None:
        """Distinct values, None when more than :data:`DISTINCT_CAP`."""
        return None if self.many else len(self.distinct)

    def add(self, values: pd.Series) -> None:
        """Account for one chunk of the column (values as text, missing as NaN)."""
        self.rows += len(values)
        text = values.dropna().astype(str).str.strip()
        text = text[text != ""]
        self.missing += len(values) - len(text)
        numbers = pd.to_numeric(text, errors="coerce")
        parsed = numbers.dropna()
        parsed = parsed[parsed.abs() != float("inf")]
        self.numbers += len(parsed)
        self.texts += len(text) - len(parsed)
        if len(parsed):
            self.low, self.high = min(self.low, parsed.min()), max(self.high, parsed.max())
            self.integers = self.integers and bool((parsed == parsed.round()).all())
        if not self.many:
            self.distinct.update(text.unique().tolist())
            if len(self.distinct) > DISTINCT_CAP:
                self.many, self.distinct = True, set()


@dataclass
class FileProfile:
    """Every column of a file, in file order, and one complete row (the example)."""

    path: Path
    columns: dict[str, ColumnProfile]
    rows: int
    head: pd.DataFrame  # the first rows, as text: where the example record comes from


def _chunks(path: Path) -> Iterator[pd.DataFrame]:
    """The file in chunks, every value as text (CSV: a repeated header name is refused first,
    and the file is scanned once for NUL bytes to pick the engine)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK_ROWS):
            frame = batch.to_pandas()
            yield frame.astype(object).where(frame.notna(), None)
        return
    engine = csv_engine(path)
    refuse_duplicate_columns(path, engine=engine)  # pandas would rename one
    reader = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=True,
        na_values=[""],
        chunksize=CHUNK_ROWS,
        engine=engine,
    )
    yield from reader


def profile_file(path: Path) -> FileProfile:
    """Profile ``path`` (CSV or Parquet).

    Raises:
        DataValidationError: missing, unreadable, malformed, empty or with a repeated header.
    """
    if not path.is_file():
        raise DataValidationError(f"{path}: file not found")
    columns: dict[str, ColumnProfile] = {}
    head = pd.DataFrame()
    try:
        for chunk in _chunks(path):
            if not columns:
                columns = {str(c): ColumnProfile(str(c)) for c in chunk.columns}
            for name, profile in columns.items():
                profile.add(chunk[name])
            if head.empty:
                head = chunk.head(1000)
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{path}: empty file (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(f"{path}: cannot be read: {first}") from None
    rows = next(iter(columns.values())).rows if columns else 0
    if rows == 0:
        raise DataValidationError(f"{path}: no data rows")
    return FileProfile(path, columns, rows, head)
