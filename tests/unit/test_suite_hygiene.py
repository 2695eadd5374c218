"""The test suites stand alone: a test module imports helpers (``tests.helpers``), never another
test module nor a conftest; helpers hold no tests and no fixtures; the unit suite needs no
external program and starts no process. (Read with ``ast``; nothing is run.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT

TESTS = ROOT / "tests"
SUITES = ("unit", "model", "data", "integration")
PROCESS_MODULES = {"subprocess", "multiprocessing", "concurrent.futures.process", "pty"}
PROCESS_CALLS = {"Popen", "ProcessPoolExecutor", "fork", "system", "spawnv", "execv", "which"}


def _sources() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if ".venv" not in p.parts)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``, nested ones included, relative ones resolved."""
    package = _module_name(path).rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _is_test_module_or_conftest(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "tests" and any(p == "conftest" or p.startswith("test_") for p in parts)


def test_the_files_are_found() -> None:
    names = {_module_name(p) for p in _sources()}
    assert "tests.conftest" in names and "tests.helpers.paths" in names
    assert all(any(n.startswith(f"tests.{s}.test_") for n in names) for s in SUITES)


def test_nothing_imports_a_test_module_or_a_conftest() -> None:
    bad = [
        f"{path.relative_to(TESTS)}:{line} imports {module}"
        for path in _sources()
        for line, module in _imported(path)
        if _is_test_module_or_conftest(module)
    ]
    assert not bad, "import from tests.helpers (fixtures go in a conftest.py): " + str(bad)


def test_helpers_hold_no_tests_and_no_fixtures() -> None:
    for path in sorted((TESTS / "helpers").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                assert not node.name.lower().startswith("test"), f"{path.name}: {node.name}"
                for decorator in getattr(node, "decorator_list", []):
                    assert "fixture" not in ast.unparse(decorator), f"{path.name}: {node.name}"


@pytest.mark.parametrize("path", sorted((TESTS / "unit").rglob("*.py")), ids=lambda p: p.name)
def test_the_unit_suite_starts_no_process(path: Path) -> None:
    """A unit test needs neither an external program (promtool, ...) nor a subprocess: those
    tests live in tests/integration."""
    if path.name == "test_suite_hygiene.py":  # names the forbidden things in its own constants
        return
    tree = ast.parse(path.read_text(), str(path))
    for line, module in _imported(path):
        assert module.split(".")[0] not in PROCESS_MODULES, f"{path.name}:{line} {module}"
        assert module not in PROCESS_MODULES, f"{path.name}:{line} {module}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PROCESS_CALLS:
            owner = ast.unparse(node.value)
            assert owner not in {"os", "shutil", "subprocess", "pty"}, (
                f"{path.name}:{node.lineno} {owner}.{node.attr}"
            )


def test_no_test_writes_into_the_tracked_figures() -> None:
    """Figures go under a temp dir (``tests.helpers.figures``); only ``make figures`` copies
    them to reports/figures, so a test run leaves the checkout clean."""
    allowed = {TESTS / "helpers" / "figures.py", Path(__file__).resolve()}
    bad = []
    for path in _sources():
        if path.resolve() in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                text = ast.unparse(node)
                if "ROOT" in text and "'figures'" in text:
                    bad.append(f"{path.relative_to(TESTS)}:{node.lineno} {text}")
    assert not bad, bad
