"""``obesity-risk init``: a complete, commented configuration scaffolded from a data file.

Each column is typed from what the whole file holds (:mod:`.profile`): numbers become numeric
columns with their observed range, text with few distinct values becomes categories (ordered
where the user says so), and columns a model cannot use are left out with a line saying why
(empty, constant, free text, mixed numbers and text with many values). The target decides the
task; an id column is detected. The written file is validated by the package's own loader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obesity_risk.config.settings import dataset_name
from obesity_risk.errors import ConfigError, DataValidationError
from obesity_risk.scaffold.profile import ColumnProfile, FileProfile, profile_file
from obesity_risk.scaffold.writer import render

MAX_CATEGORIES = 50
_ID_NAME = re.compile(r"(^|_|\b)(id|uuid|key)$|Id$|ID$", re.IGNORECASE)


@dataclass
class Scaffold:
    """The configuration as data, and what was decided about each column."""

    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def render(self, output: str = "THIS_FILE") -> str:
        """The YAML text, commented (``output``: the file's own path, in the next steps)."""
        return render(self.data, self.notes, output)


def _sort_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _detect_id(profile: FileProfile, target: str) -> str | None:
    """The row id: a column with a value in every row, all different, named like an id
    (``id``, ``patient_id``, ``uuid``...) or holding text (a name per row is no feature)."""
    candidates = []
    for position, (name, col) in enumerate(profile.columns.items()):
        unique = col.n_distinct is None or col.n_distinct == col.rows
        named = bool(_ID_NAME.search(name))
        kind = (named and (col.texts > 0 or col.integers)) or col.texts == col.rows
        if name != target and col.missing == 0 and unique and kind:
            candidates.append((not named, position, name))
    return min(candidates)[2] if candidates else None


def _column(col: ColumnProfile, ordered: dict[str, list[str] | None], limit: int) -> tuple[
    dict[str, Any] | None, str | None
]:  # fmt: skip
    """The column's spec and a note, or (None, why it is left out)."""
    if col.present == 0:
        return None, f"{col.name}: left out (every value is empty)"
    if col.n_distinct == 1:
        return None, f"{col.name}: left out (constant: always {next(iter(col.distinct))!r})"
    nullable = {"nullable": True} if col.missing else {}
    if col.texts == 0 and col.name not in ordered:
        # the observed range is said, not enforced (new data beyond it is not refused); a
        # column never below zero gets min: 0, a bound new data keeps too
        low, high = (int(col.low), int(col.high)) if col.integers else (col.low, col.high)
        bound = {"min": 0} if col.low >= 0 else {}
        seen = f"observed {low} to {high}" + (" (whole numbers)" if col.integers else "")
        return {"type": "numeric", **bound, **nullable, "description": seen}, None
    many = col.n_distinct is None or col.n_distinct > limit
    if many:
        kind = "mixed numbers and text" if col.numbers else "free text"
        count = f"more than {col.n_distinct or 1000}" if col.n_distinct is None else col.n_distinct
        return None, f"{col.name}: left out ({kind} with {count} distinct values)"
    order = ordered.get(col.name)
    if order is not None and set(order) != col.distinct:
        missing, unknown = sorted(col.distinct - set(order)), sorted(set(order) - col.distinct)
        raise ConfigError(
            f"--ordered {col.name}: the order must list exactly the column's values"
            f" (not listed: {missing}, not in the data: {unknown})"
        )
    categories = order or sorted(col.distinct, key=_sort_key)
    spec: dict[str, Any] = {"type": "categorical", "categories": categories, **nullable}
    if col.name in ordered:
        spec["ordered"] = True
    note = None
    if col.numbers and col.texts:
        note = f"{col.name}: numbers and text mixed: read as {len(categories)} categories"
    return spec, note


def _task(col: ColumnProfile, task: str | None, limit: int) -> tuple[str, list[str] | None]:
    """The task and the classes (None: regression)."""
    numeric = col.texts == 0
    if task is None:
        if numeric and (col.n_distinct is None or col.n_distinct > 2):
            task = "regression"
        else:
            task = "binary" if col.n_distinct == 2 else "multiclass"
    if task == "regression":
        if not numeric:
            raise ConfigError(f"--task regression: target {col.name!r} holds text, not numbers")
        if col.n_distinct is not None and col.n_distinct < 2:
            raise ConfigError(f"target {col.name!r} has a single value: nothing to learn")
        return task, None
    if col.n_distinct is None or col.n_distinct > limit:
        raise ConfigError(
            f"target {col.name!r} has {col.n_distinct or 'more than 1000'} distinct values:"
            f" too many for classes (at most {limit}; --max-categories raises it)"
        )
    classes = sorted(col.distinct, key=_sort_key)
    if task == "binary" and len(classes) != 2:
        raise ConfigError(f"--task binary: target {col.name!r} has {len(classes)} classes")
    if len(classes) < 2:
        raise ConfigError(f"target {col.name!r} has a single class: nothing to learn")
    if task == "multiclass" and len(classes) == 2:
        task = "binary"
    return task, classes


def scaffold(
    path: Path,
    target: str,
    *,
    id_column: str | None = None,
    task: str | None = None,
    ordered: dict[str, list[str] | None] | None = None,
    max_categories: int = MAX_CATEGORIES,
    train_file: str | None = None,
) -> Scaffold:
    """Profile ``path`` and build its configuration.

    Raises:
        DataValidationError: the file cannot be read. ConfigError: the target or an option
            does not fit the data (the message says what to change).
    """
    ordered = ordered or {}
    profile = profile_file(path)
    names = list(profile.columns)
    for name in [target, id_column, *ordered]:
        if name is not None and name not in profile.columns:
            raise ConfigError(f"column {name!r} is not in {path} (columns: {', '.join(names)})")
    notes = [f"{path.name}: {profile.rows} rows, {len(names)} columns"]
    target_col = profile.columns[target]
    kind, classes = _task(target_col, task, max_categories)
    if kind == "regression":
        notes.append(
            f"{target}: a numeric target (regression), observed {target_col.low:g} to"
            f" {target_col.high:g}; add data.target_min/target_max to refuse values outside a"
            " valid range"
        )
    elif task is None:
        notes.append(f"{target}: {len(classes or [])} classes ({kind})")
    if target_col.missing:
        notes.append(f"{target}: {target_col.missing} rows have no target (training refuses them)")
    if id_column is None:
        id_column = _detect_id(profile, target)
        if id_column:
            notes.append(f"{id_column}: taken as the id column (unique per row)")
    columns: dict[str, Any] = {}
    for name, col in profile.columns.items():
        if name in (target, id_column):
            continue
        spec, note = _column(col, ordered, max_categories)
        if spec is not None:
            columns[name] = spec
        if note:
            notes.append(note)
    if not columns:
        raise DataValidationError(f"{path}: no usable feature column (see the notes above)")
    stem = dataset_name(path)
    data: dict[str, Any] = {
        "data": {
            "train_file": train_file or str(path),
            "external_file": None,
            "description": f"{target} from {len(columns)} columns of {path.name}.",
            "id_column": id_column,
            "target": target,
            "task": kind,
            "classes": classes,
            "columns": columns,
            "example": _example(profile, columns),
        },
        "tracking": {"experiment": stem, "registered_model": stem},
    }
    return Scaffold(data, notes)


def _example(profile: FileProfile, columns: dict[str, Any]) -> dict[str, Any] | None:
    """A real row of the file, typed like the schema (None when no early row is complete)."""
    complete = profile.head[list(columns)].dropna()
    if complete.empty:
        return None
    row = complete.iloc[0]
    out: dict[str, Any] = {}
    for name, spec in columns.items():
        value = str(row[name]).strip()
        if spec["type"] == "numeric":
            number = float(value)
            whole = number.is_integer() and profile.columns[name].integers
            out[name] = int(number) if whole else number
        else:
            out[name] = value
    return out


__all__ = ["MAX_CATEGORIES", "Scaffold", "scaffold"]
