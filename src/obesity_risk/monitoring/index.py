"""``reports/monitoring/index.html``: the page an operator reads.

Newest first, one row per report: time, kind, model version, the window as a readable range,
the verdict and links (HTML and JSON); a filter by kind; and, per rule, the trend of its value
over the last reports as a small inline SVG chart with its threshold. Built from the reports'
JSON files only, so any process (CLI, API job, the monitor) rewrites the same page.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from string import Template
from typing import Any, NamedTuple

from loguru import logger

from obesity_risk.monitoring.contracts import ContractError, ReportSummary

TREND_POINTS = 30
_PAGE = Template(
    """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>obesity-risk reports</title><link rel="icon" href="data:,">
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.bad{color:#b00020;font-weight:bold}.ok{color:#1b5e20}.trends{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;border:1px solid #ddd;padding:.5rem}figcaption{font-size:.85rem}
.range{white-space:nowrap}</style></head><body>
<h1>Monitoring reports</h1>
<h2>Rule trends (last $points reports each)</h2><div class="trends">$trends</div>
<h2>Reports</h2>
<label>kind <select id="kind"><option value="">all</option>$options</select></label>
<table id="reports"><tr><th>time (UTC)</th><th>kind</th><th>model version</th><th>window</th>
<th>verdict</th><th>files</th></tr>$rows</table>
<script>
document.getElementById("kind").addEventListener("change", (event) => {
  for (const row of document.querySelectorAll("#reports tr[data-kind]"))
    row.hidden = event.target.value !== "" && row.dataset.kind !== event.target.value;
});
</script></body></html>
"""
)


def _short(stamp: str | None) -> str:
    """``2026-11-23T10:00:00+00:00`` -> ``2026-11-23 10:00``."""
    return "?" if not stamp else stamp.replace("T", " ")[:16]


def window_text(summary: ReportSummary) -> str:
    """The window as a reader wants it: its source or time range, and its rows."""
    window = summary.window
    rows = f"{window.rows if window is not None else 0:,} rows"
    if window is not None and window.sampled:
        rows += f" (sampled to {window.rows_used or 0:,})"
    if window is not None and (window.from_ or window.to):
        span = f"{_short(window.from_)} → {_short(window.to)} UTC"
    else:
        span = str(summary.source or "current data")
    return f"{span} · {rows}"


class Listed(NamedTuple):
    """A report on disk: its summary and its files' names."""

    summary: ReportSummary
    json_name: str
    html_name: str


def read_reports(out_dir: Path) -> list[Listed]:
    """The reports in ``out_dir``, newest first; a JSON that does not match the contract is
    logged (naming the file) and left out, a file gone meanwhile is skipped."""
    found = []
    for path in sorted(out_dir.glob("*Z-*.json"), reverse=True):
        try:
            summary = ReportSummary.read(path)
        except OSError:
            continue  # pruned by another process right now
        except ContractError as exc:
            logger.warning("report left out of the index: {}", exc)
            continue
        found.append(Listed(summary, path.name, path.with_suffix(".html").name))
    return found


def _row(listed: Listed) -> str:
    info = listed.summary
    fired = info.fired()
    verdict = ("DRIFT: " + ", ".join(fired)) if fired else "no rule fired"
    version = info.model_version or "unversioned export"
    cells = [
        escape(_short(info.created_at)),
        escape(info.kind),
        escape(str(version)),
        f'<span class="range">{escape(window_text(info))}</span>',
        f'<span class="{"bad" if fired else "ok"}">{escape(verdict)}</span>',
        f'<a href="{escape(listed.html_name)}">report</a> · '
        f'<a href="{escape(listed.json_name)}">json</a>',
    ]
    kind = escape(info.kind)
    return f'<tr data-kind="{kind}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def trend_svg(values: list[float], threshold: float, width: int = 260, height: int = 70) -> str:
    """A polyline of ``values`` (oldest first) with a dashed threshold line."""
    top = max([*values, threshold]) * 1.1 or 1.0
    step = width / max(len(values) - 1, 1)

    def y(v: float) -> float:
        return height - v / top * height

    points = " ".join(f"{i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    fired = [
        f'<circle cx="{i * step:.1f}" cy="{y(v):.1f}" r="2.5" fill="#b00020"/>'
        for i, v in enumerate(values)
        if v >= threshold
    ]
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
        f'<line x1="0" x2="{width}" y1="{y(threshold):.1f}" y2="{y(threshold):.1f}" '
        'stroke="#b00020" stroke-dasharray="4 3"/>'
        f'<polyline fill="none" stroke="#2e86c1" stroke-width="2" points="{points}"/>'
        + "".join(fired)
        + "</svg>"
    )


def _trends(found: list[Listed], points: int) -> str:
    series: dict[str, list[float]] = {}
    thresholds: dict[str, float] = {}
    for listed in reversed(found):  # oldest first; the newest threshold wins
        for name, decision in listed.summary.decisions.items():
            if decision.value is not None:
                series.setdefault(name, []).append(decision.value)
                thresholds[name] = decision.threshold
    figures = [
        f'<figure data-rule="{escape(name)}">{trend_svg(values[-points:], thresholds[name])}'
        f"<figcaption>{escape(name)}: last {values[-1]:.3f}, threshold {thresholds[name]:g} "
        f"({len(values[-points:])} reports)</figcaption></figure>"
        for name, values in series.items()
    ]
    return "".join(figures) or "<p>no rule evaluated yet</p>"


def write_index(out_dir: Path, write: Any, points: int = TREND_POINTS) -> Path:
    """Rewrite ``index.html`` from the reports on disk (``write(path, text)`` writes atomically;
    the caller holds the folder's lock)."""
    found = read_reports(out_dir)
    kinds = sorted({listed.summary.kind for listed in found})
    page = _PAGE.substitute(
        points=points,
        trends=_trends(found, points),
        options="".join(f'<option value="{escape(k)}">{escape(k)}</option>' for k in kinds),
        rows="".join(_row(info) for info in found),
    )
    index = out_dir / "index.html"
    write(index, page)
    return index
