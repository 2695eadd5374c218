"""The Prometheus and Grafana files of the stack."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.paths import ROOT

PROMETHEUS = ROOT / "docker" / "prometheus"
GRAFANA = ROOT / "docker" / "grafana"


def dashboards(folder: Path) -> dict[str, dict]:
    """The dashboards in ``folder``, by file name."""
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
