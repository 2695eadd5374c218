"""GET /: a small HTML form for one prediction, generated from the data schema."""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from obesity_risk.config import CategoricalColumn, DataSchema

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>obesity-risk</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{{font-family:system-ui,sans-serif;max-width:760px;margin:2rem auto;padding:0 1rem;color:#222}}
 form{{display:grid;grid-template-columns:1fr 1fr;gap:.5rem 1rem}}
 label{{display:flex;flex-direction:column;font-size:.9rem}} input,select{{padding:.3rem;font-size:1rem}}
 button{{grid-column:span 2;padding:.6rem;font-size:1rem}} table{{border-collapse:collapse;margin-top:1rem}}
 td{{padding:.15rem .8rem;border-bottom:1px solid #ddd}} #error{{color:#b00020}}
</style></head><body>
<h1>obesity-risk</h1>
<p>One prediction from the served model. API: <a href="/docs">/docs</a> ·
<a href="/model">/model</a> · <a href="/metrics">/metrics</a> · reports: <a href="/monitoring/reports/latest/data-drift">latest drift report</a></p>
<form id="form">{fields}<button type="submit">Predict</button></form>
<p id="error" role="alert"></p>
<div id="result" hidden><h2>Prediction: <span id="label"></span></h2>
<p>model version <span id="version"></span></p><table id="probs"></table></div>
<script>
const numeric = new Set({numeric});
document.getElementById("form").addEventListener("submit", async (event) => {{
  event.preventDefault();
  const record = {{}};
  for (const [key, value] of new FormData(event.target)) record[key] = numeric.has(key) ? Number(value) : value;
  const error = document.getElementById("error"); error.textContent = "";
  const response = await fetch("/predict", {{method: "POST", headers: {{"Content-Type": "application/json"}}, body: JSON.stringify(record)}});
  const body = await response.json();
  if (!response.ok) {{
    error.textContent = typeof body.detail === "string" ? body.detail : body.detail.map(d => d.loc.slice(-1)[0] + ": " + d.msg).join("; ");
    return;
  }}
  document.getElementById("label").textContent = body.label;
  document.getElementById("version").textContent = body.model_version;
  const rows = Object.entries(body.probabilities).sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `<tr><td>${{k}}</td><td>${{(100 * v).toFixed(1)}}%</td></tr>`).join("");
  document.getElementById("probs").innerHTML = rows;
  document.getElementById("result").hidden = false;
}});
</script></body></html>
"""


def render_form(schema: DataSchema, example: dict | None = None) -> str:
    """The page, one input per schema column (select for categories, number with range)."""
    example = example or {}
    fields = []
    for name, spec in schema.columns.items():
        label = html.escape(f"{name}" + (f" ({spec.description})" if spec.description else ""))
        if isinstance(spec, CategoricalColumn):
            options = "".join(
                f'<option{" selected" if c == example.get(name) else ""}>{html.escape(c)}</option>'
                for c in spec.categories
            )
            control = f'<select name="{html.escape(name)}" id="{html.escape(name)}">{options}</select>'
        else:
            bounds = "".join(
                f' {attr}="{value}"' for attr, value in (("min", spec.min), ("max", spec.max)) if value is not None
            )
            value = example.get(name, spec.min if spec.min is not None else 0)
            control = (
                f'<input type="number" step="any" required name="{html.escape(name)}" '
                f'id="{html.escape(name)}" value="{value}"{bounds}>'
            )
        fields.append(f"<label>{label}{control}</label>")
    numeric = [n for n, s in schema.columns.items() if not isinstance(s, CategoricalColumn)]
    return _PAGE.format(fields="".join(fields), numeric=numeric)


def build_router(schema: DataSchema, example: dict | None = None) -> APIRouter:
    """The page is rendered once, at app build time."""
    router = APIRouter(tags=["ui"])
    page = render_form(schema, example)

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        """The prediction form."""
        return HTMLResponse(page)

    return router
