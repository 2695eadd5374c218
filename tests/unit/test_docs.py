"""The README stays an overview and its links into the documentation site resolve; every page
in docs/ is in the site's navigation. (The site itself is built with `mkdocs build --strict` in
CI, which fails on any broken link or docstring warning.)"""

from __future__ import annotations

import re

import yaml

from tests.helpers.paths import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 220, f"README.md has {len(lines)} lines: move detail into docs/"


def test_readme_links_into_docs_exist() -> None:
    targets = [t for t in LINK.findall(README.read_text(encoding="utf-8")) if "://" not in t]
    docs_links = [t for t in targets if t.startswith("docs/")]
    assert docs_links, "README.md links no page of docs/"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README.md links files that do not exist: {missing}"


def _nav_pages(node: object) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, list):
        return set().union(*(_nav_pages(item) for item in node)) if node else set()
    if isinstance(node, dict):
        return set().union(*(_nav_pages(value) for value in node.values()))
    return set()


def test_every_docs_page_is_in_the_nav() -> None:
    # mkdocs.yml uses !!python/name tags (superfences' mermaid fence): read it without them
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)
    nav = _nav_pages(config["nav"])
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.glob("*.md")}
    assert pages - nav == set(), f"docs pages missing from mkdocs.yml nav: {sorted(pages - nav)}"
    generated = {"module-map.md", "configuration-reference.md"}
    assert nav - pages - generated - {"reference/"} == set(), "nav names pages that do not exist"


def test_docs_figures_exist() -> None:
    for page in DOCS.glob("*.md"):
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith("../"):
                assert (page.parent / target).resolve().exists(), f"{page.name}: {target}"
