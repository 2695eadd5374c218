"""The input record of the package: one pydantic model generated from the YAML data schema.

Every caller validates records with it (the API's request bodies, the :class:`Predictor`'s
record path), so a category outside the schema, a wrong type, a missing field or NaN is refused
by the same rule everywhere.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from obesity_risk.config import CategoricalColumn, DataSchema, NumericColumn


def record_model(schema: DataSchema) -> type[BaseModel]:
    """A pydantic model of one input record: types, ranges and categories from the schema.

    Extra fields are rejected; NaN and infinities are rejected; categorical fields accept the
    declared categories (including ones never seen in training, which the pipeline handles).
    """
    fields: dict[str, Any] = {}
    for name, spec in schema.columns.items():
        if isinstance(spec, NumericColumn):
            annotation: Any = float
            # strict: a JSON number only (no true/false, no "1.5" strings); ints are accepted
            constraints = {"ge": spec.min, "le": spec.max, "allow_inf_nan": False, "strict": True}
        else:
            assert isinstance(spec, CategoricalColumn)
            annotation = Literal[tuple(spec.categories)]  # type: ignore[valid-type]
            constraints = {}
        if spec.nullable:
            annotation = annotation | None
        fields[name] = (
            annotation,
            Field(
                ...,
                description=spec.description or None,
                **{k: v for k, v in constraints.items() if v is not None},
            ),
        )
    example = schema.example or {
        name: (
            spec.categories[0]
            if isinstance(spec, CategoricalColumn)
            else float(spec.min if spec.min is not None else 0.0)
        )
        for name, spec in schema.columns.items()
    }
    return create_model(
        "Record",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [example]}),
        **fields,
    )
