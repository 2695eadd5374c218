"""GET /: a small HTML form for one prediction, generated from the data schema."""

from __future__ import annotations

import html
import json
from importlib import resources
from string import Template

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from obesity_risk.config import CategoricalColumn, DataSchema

_PAGE = Template(
    resources.files("obesity_risk.api").joinpath("templates/form.html").read_text(encoding="utf-8")
)


def render_form(schema: DataSchema, example: dict | None = None) -> str:
    """The page, one input per schema column (select for categories, number with range)."""
    example = example or {}
    fields = []
    for name, spec in schema.columns.items():
        label = html.escape(f"{name}" + (f" ({spec.description})" if spec.description else ""))
        if isinstance(spec, CategoricalColumn):
            options = "".join(
                f"<option{' selected' if c == example.get(name) else ''}>{html.escape(c)}</option>"
                for c in spec.categories
            )
            control = (
                f'<select name="{html.escape(name)}" id="{html.escape(name)}">{options}</select>'
            )
        else:
            bounds = "".join(
                f' {attr}="{value}"'
                for attr, value in (("min", spec.min), ("max", spec.max))
                if value is not None
            )
            value = example.get(name, spec.min if spec.min is not None else 0)
            control = (
                f'<input type="number" step="any" required name="{html.escape(name)}" '
                f'id="{html.escape(name)}" value="{value}"{bounds}>'
            )
        fields.append(f"<label>{label}{control}</label>")
    numeric = [n for n, s in schema.columns.items() if not isinstance(s, CategoricalColumn)]
    return _PAGE.substitute(fields="".join(fields), numeric=json.dumps(numeric))


def build_router(schema: DataSchema, example: dict | None = None) -> APIRouter:
    """The page is rendered once, at app build time."""
    router = APIRouter(tags=["ui"])
    page = render_form(schema, example)

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        """The prediction form."""
        return HTMLResponse(page)

    return router
