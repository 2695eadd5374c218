"""The model card as an HTML page: intended use, data, training, metrics, slices, calibration,
global importance, limitations. Rendered from the typed :class:`ModelCard` only (training writes
it to ``reports/model-card/``; the API serves the loaded model's at ``GET /model/card``)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from obesity_risk.files import atomic_write
from obesity_risk.registry.card import ModelCard

NO_PROSE = "Not configured: set data.{key} in the dataset's YAML."
GENERAL_LIMITATIONS = [
    "Accuracy differs between slices (table above); small slices are noisy.",
    "Probabilities are close to calibrated overall (ECE above) but per-class reliability varies.",
]
REGRESSION_LIMITATIONS = [
    "Errors differ between slices (table above); small slices are noisy.",
    "The interval's coverage holds on average over rows like the calibration rows, not for"
    " every row: its width is the same everywhere (split conformal, absolute residuals).",
]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:900px;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1rem} td,th{padding:.2rem .7rem;
border-bottom:1px solid #ddd;text-align:left} th{background:#f4f4f4} code{font-size:.85rem}
.bar{display:inline-block;height:.8rem;background:#2e86c1}
"""


def _table(rows: list[list[object]], head: list[str]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{cells}</tr>{body}</table>"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "n/a" if value is None else str(value)


def _residual_plot(bands: list[dict[str, float]]) -> str:
    """The residual bands as an inline SVG: median and 5-95% residual per predicted value."""
    if not bands:
        return ""
    width, height, pad = 560, 220, 30
    xs = [b["mean_predicted"] for b in bands]
    ys = [v for b in bands for v in (b["p05"], b["p95"], 0.0)]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)

    def x(v: float) -> float:
        return pad + (width - 2 * pad) * ((v - x0) / (x1 - x0) if x1 > x0 else 0.5)

    def y(v: float) -> float:
        return height - pad - (height - 2 * pad) * ((v - y0) / (y1 - y0) if y1 > y0 else 0.5)

    band = " ".join(f"{x(b['mean_predicted']):.1f},{y(b['p95']):.1f}" for b in bands)
    band += " " + " ".join(f"{x(b['mean_predicted']):.1f},{y(b['p05']):.1f}" for b in bands[::-1])
    line = " ".join(f"{x(b['mean_predicted']):.1f},{y(b['median']):.1f}" for b in bands)
    return (
        f'<svg id="residuals" width="{width}" height="{height}" role="img"'
        ' aria-label="residuals by predicted value">'
        f'<polygon points="{band}" fill="#aed6f1"/>'
        f'<line x1="{pad}" x2="{width - pad}" y1="{y(0.0):.1f}" y2="{y(0.0):.1f}" stroke="#888"/>'
        f'<polyline points="{line}" fill="none" stroke="#2e86c1" stroke-width="2"/>'
        f'<text x="{pad}" y="{height - 8}" font-size="11">predicted {x0:.4g} to {x1:.4g}</text>'
        f'<text x="{pad}" y="14" font-size="11">true - predicted: median (line), 5-95%'
        f" (band), {y0:.4g} to {y1:.4g}</text></svg>"
    )


def _regression_sections(card: ModelCard) -> tuple[str, str]:
    """A regression card's metrics (with the interval and residual plot) and error slices."""
    m, interval = card.metrics, card.interval
    metrics = _table(
        [
            ["test split (untouched)", m.test_rmse, m.test_mae, m.test_r2],
        ],
        ["data", "RMSE", "MAE", "R²"],
    )
    selected = _table(
        [[m.metric, m.cv_score, m.val_score, m.test_score]],
        ["selected on (models.metric)", "out-of-fold", "validation", "test"],
    )
    stated = (
        _table(
            [
                ["nominal coverage", interval.coverage],
                ["half-width (prediction ± this)", interval.half_width],
                ["calibration rows (validation split)", interval.rows],
                ["coverage achieved (test split)", m.test_coverage],
                ["width (test split)", m.test_interval_width],
            ],
            ["prediction interval", "value"],
        )
        + f"<p>{escape(interval.method)}</p>"
        if interval is not None
        else "<p>no prediction interval</p>"
    )
    bands = _table(
        [
            [b["mean_predicted"], b["p05"], b["median"], b["p95"], int(b["rows"])]
            for b in card.residuals
        ],
        ["mean predicted (test, by band)", "residual 5%", "median", "95%", "rows"],
    )
    slices = _table(
        [[s["column"], s["group"], s["rows"], s.get("rmse"), s.get("mae")] for s in card.slices],
        ["slice", "group", "rows", "RMSE", "MAE"],
    )
    plot = _residual_plot(card.residuals)
    return metrics + selected + stated + "<h3>Residuals</h3>" + plot + bands, slices


def _classification_sections(card: ModelCard) -> tuple[str, str]:
    """A classifier card's metrics, calibration, decision threshold and slices."""
    m = card.metrics
    metrics = _table(
        [
            ["cross-validation (out-of-fold, training folds)", m.cv_accuracy, m.cv_f1_macro],
            ["validation split (promotion, gate)", m.val_accuracy, m.val_f1_macro],
            ["test split (untouched)", m.test_accuracy, m.test_f1_macro],
            ["external file (data.external_file)", m.external_accuracy, m.external_f1_macro],
        ],
        ["data", "accuracy", "macro-F1"],
    )
    rows_of_calibration = [
        ["log-loss (test)", m.test_log_loss],
        ["expected calibration error (test)", m.test_ece],
    ]
    if m.test_roc_auc is not None or m.test_brier is not None:  # a binary task
        rows_of_calibration += [
            ["ROC AUC (test)", m.test_roc_auc],
            ["PR AUC, average precision (test)", m.test_pr_auc],
            ["Brier score (test)", m.test_brier],
        ]
    calibration = _table(rows_of_calibration, ["calibration and ranking", "value"])
    curve = (
        _table(
            [[b["mean_predicted"], b["observed"], int(b["rows"])] for b in card.calibration_curve],
            [f"predicted P({card.classes[1]}) (test, by bin)", "observed rate", "rows"],
        )
        if card.calibration_curve and len(card.classes) == 2
        else ""
    )
    selected = _table(
        [[m.metric, m.cv_score, m.val_score, m.test_score]],
        ["selected on (models.metric)", "out-of-fold", "validation", "test"],
    )
    decision = (
        f"<p>decision threshold: the positive class <b>{escape(card.classes[1])}</b> is"
        f" predicted at probability &ge; {card.threshold:.2f} (chosen on the validation"
        " split)</p>"
        if card.threshold is not None and len(card.classes) == 2
        else ""
    )
    slices = _table(
        [[s["column"], s["group"], s["rows"], s["accuracy"], s["f1_macro"]] for s in card.slices],
        ["slice", "group", "rows", "accuracy", "macro-F1"],
    )
    return metrics + selected + decision + calibration + curve, slices


def render(card: ModelCard) -> str:
    """The card as a self-contained HTML page (every value escaped)."""
    regression = card.task == "regression"
    metrics, slices = (_regression_sections if regression else _classification_sections)(card)
    general = REGRESSION_LIMITATIONS if regression else GENERAL_LIMITATIONS
    top = max(card.importance.values(), default=1.0) or 1.0
    importance = "".join(
        f"<tr><td>{escape(k)}</td><td><span class=bar style='width:{200 * v / top:.0f}px'>"
        f"</span> {v:.4f}</td></tr>"
        for k, v in card.importance.items()
    )
    members = (
        _table([[k, v] for k, v in card.members.items()], ["member", "blend weight"])
        if card.members
        else ""
    )
    data = _table([[k, v] for k, v in card.data.items()], ["file", "sha256"])
    rows = _table([[k, v] for k, v in card.rows.items()], ["part", "rows"])
    params = escape(json.dumps(card.params, indent=1, default=str))
    limits = "".join(f"<li>{escape(t)}</li>" for t in [*card.limitations, *general])
    intended = card.intended_use or NO_PROSE.format(key="intended_use")
    about = card.description or NO_PROSE.format(key="description")
    title = f"{card.name} v{card.version or '-'}: model card"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{escape(title)}</title><style>{_STYLE}</style></head><body>
<h1>{escape(title)}</h1>
<p>family <b>{escape(card.family)}</b> · budget {escape(str(card.budget))} · trained
{escape(str(card.trained_at))} · package {escape(str(card.package_version))} · run
<code>{escape(str(card.run_id))}</code></p>
<h2>Intended use</h2><p>{escape(intended)}</p>
<h2>Data</h2><p>{escape(about)}</p>{data}{rows}
<h2>Training</h2>{members}
<p>class weights: {escape(_fmt(card.class_weights))} · calibration:
{escape(card.calibration or "none")}</p>
<details><summary>parameters</summary><pre>{params}</pre></details>
<h2>Metrics</h2>{metrics}
<h2>Slices (test split)</h2>{slices}
<h2>Global importance</h2><p>mean |TreeSHAP contribution| to the served
{"value" if regression else "probability of the predicted class"}
({escape(str(card.importance_space))})</p><table id="importance">{importance}</table>
<h2>Limitations</h2><ul>{limits}</ul>
</body></html>
"""


def write(card: ModelCard, folder: Path, champion: bool) -> Path:
    """``folder/<name>-v<version>.html``; also ``folder/index.html`` for the champion."""
    folder.mkdir(parents=True, exist_ok=True)
    page = render(card)
    path = folder / f"{card.name}-v{card.version or 'local'}.html"
    targets = [path, folder / "index.html"] if champion else [path]
    for target in targets:  # a reader never sees half a page
        atomic_write(target, page)
    return path
