"""Request/response schemas. The record schema is generated from the YAML data schema."""

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


class Prediction(BaseModel):
    """One prediction."""

    label: str = Field(description="most probable class")
    probabilities: dict[str, float] = Field(description="probability per class")


class PredictionResponse(Prediction):
    """Answer of ``POST /predict``."""

    request_id: str
    model_name: str
    model_version: str | None


class BatchResponse(BaseModel):
    """Answer of ``POST /predict/batch``: one prediction per record, in order."""

    request_id: str
    model_name: str
    model_version: str | None
    predictions: list[Prediction]


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether a model is loaded, and if not, why."""

    ready: bool
    model_version: str | None = None
    source: str | None = None
    reason: str | None = None


class ModelInfo(BaseModel):
    """What is being served."""

    name: str
    family: str | None
    version: str | None
    alias: str | None
    run_id: str | None
    source: str
    metrics: dict[str, float | None]
    features: dict[str, list[str]]
    classes: list[str]
    trained_at: str | None
    loaded_at: str


class VersionInfo(BaseModel):
    """Package and model versions."""

    package_version: str
    model_version: str | None


class ReloadResult(BaseModel):
    """Outcome of ``POST /model/reload``."""

    reloaded: bool
    model_version: str | None
    previous_version: str | None
    source: str | None


class ErrorBody(BaseModel):
    """Error payload (FastAPI's ``detail`` convention)."""

    detail: str | list[dict[str, Any]]
