"""Build-time pages (mkdocs-gen-files): the API reference and the module map.

Both walk ``src/obesity_risk`` as it is on disk when the site is built, so a module that is
added, moved or removed shows up (or disappears) without editing anything here:

- ``reference/<package path>.md``: one page per module, rendered by mkdocstrings from its
  docstrings (``::: obesity_risk.x.y``), with ``reference/SUMMARY.md`` as the nav
  (mkdocs-literate-nav);
- ``module-map.md``: every package and module with the first paragraph of its docstring.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = "obesity_risk"


def modules() -> list[tuple[tuple[str, ...], Path]]:
    """(dotted parts, file) of every public module and package, in path order."""
    found = []
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = tuple(rel.parts)
        if any(p.startswith("_") and p != "__init__" for p in parts):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
            if not (path.parent / "__init__.py").is_file():
                continue
        found.append((parts, path))
    return sorted(found, key=lambda item: item[0])


def summary(path: Path) -> str:
    """The first paragraph of the module's docstring, on one line ('' when it has none)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    doc = ast.get_docstring(tree, clean=True) or ""
    first = doc.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in first.splitlines()).strip()


def page_of(parts: tuple[str, ...], path: Path) -> Path:
    """Reference page of a module: packages get an index.md, modules a <name>.md."""
    if path.name == "__init__.py":
        return Path("reference", *parts, "index.md")
    return Path("reference", *parts).with_suffix(".md")


def cell(text: str) -> str:
    """A table cell in Markdown: reST roles and ``literals`` of the docstrings as code spans."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", lambda m: "`" + m.group(1).rsplit(".", 1)[-1] + "`", text)
    return text.replace("``", "`").replace("|", "\\|") or "—"


nav = mkdocs_gen_files.Nav()
rows = []
for parts, path in modules():
    page = page_of(parts, path)
    dotted = ".".join(parts)
    nav[parts] = page.relative_to("reference").as_posix()
    with mkdocs_gen_files.open(page, "w") as out:
        out.write(f"::: {dotted}\n")
    mkdocs_gen_files.set_edit_path(page, path.relative_to(ROOT))
    depth = len(parts) - 1
    indent = "&nbsp;" * 4 * max(depth - 1, 0)
    rows.append(f"| {indent}[`{dotted}`]({page.as_posix()}) | {cell(summary(path))} |")

with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as out:
    out.writelines(nav.build_literate_nav())

with mkdocs_gen_files.open("module-map.md", "w") as out:
    out.write(
        "# Module map\n\n"
        "Every module of `src/obesity_risk/` as it is when this site was built, with the first"
        " paragraph of its docstring. It is generated at build time (`docs/gen/reference.py`)"
        " by walking the package, so it cannot go stale: a module added, moved or removed"
        " changes this table with no edit. Each name links to its API reference page.\n\n"
        "| module | what it is |\n| --- | --- |\n"
    )
    out.write("\n".join(rows) + "\n")
