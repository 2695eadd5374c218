"""MkDocs hooks: the pages link figures as ``../reports/figures/X.png`` (the path that works
when GitHub renders ``docs/*.md``); in the site those figures are served from
``assets/figures/``, copied from ``reports/figures/`` at build time."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "reports" / "figures"
SITE_DIR = "assets/figures"
_LINK = re.compile(r"\]\((?:\.\./)+reports/figures/([^)\s]+)")


def on_files(files: Files, config) -> Files:
    """Add every figure of reports/figures/ to the site under assets/figures/."""
    for figure in sorted(FIGURES.glob("*.png")):
        files.append(File.generated(config, f"{SITE_DIR}/{figure.name}", abs_src_path=str(figure)))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Point ``../reports/figures/X`` links at the copies in assets/figures/."""
    prefix = posixpath.relpath(SITE_DIR, posixpath.dirname(page.file.src_uri) or ".")
    return _LINK.sub(lambda m: f"]({prefix}/{m.group(1)}", markdown)
