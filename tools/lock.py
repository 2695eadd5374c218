"""Hashed locks of the pinned requirements: ``python tools/lock.py`` compiles them (uv),
``python tools/lock.py --check`` says offline whether any is stale.

The ``requirements*.txt`` files are edited by hand; each lock records every transitive package
with its hashes and, in its header, the SHA-256 of the inputs it was compiled from. Every lock
is compiled under the pins of the research image's lock, so a package has the same
version in the serving image, the research image and the development environment.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INPUTS_LINE = "# inputs-sha256: "
_INCLUDE = re.compile(r"^\s*-r\s+(\S+)")
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;#]+)")


@dataclass(frozen=True)
class Lock:
    """One lock file: the inputs it is compiled from and the Python it targets."""

    name: str
    inputs: tuple[str, ...]
    python: str
    omit: tuple[str, ...] = ()  # declared dependencies left out (each imported only to plot)


# the research image's lock first (Python 3.11.0 and later: a Debian-based image has 3.11.2):
# the others are compiled under its pins
LOCKS = (
    Lock("requirements.lock", ("requirements.txt",), "3.11"),
    # catboost declares matplotlib, plotly and graphviz but imports them only to draw: the
    # serving image leaves them out (about 170 MB; every family is scored in the image's test)
    Lock(
        "requirements-serving.lock",
        ("requirements-serving.txt",),
        "3.11",
        omit=(
            "matplotlib",
            "plotly",
            "graphviz",
            "pillow",
            "fonttools",
            "contourpy",
            "kiwisolver",
            "cycler",
            "pyparsing",
        ),
    ),
    Lock("requirements-build.lock", ("requirements-build.txt",), "3.11"),
    Lock("requirements-dev.lock", ("requirements.txt", "requirements-dev.txt"), "3.11.5"),
    Lock("requirements-checkov.lock", ("requirements-checkov.txt",), "3.11.5"),
)


def input_files(names: tuple[str, ...], root: Path = ROOT) -> list[Path]:
    """The inputs and every file they include with ``-r``, in order, each once."""
    seen: list[Path] = []

    def visit(path: Path) -> None:
        if path in seen:
            return
        seen.append(path)
        for line in path.read_text(encoding="utf-8").splitlines():
            if match := _INCLUDE.match(line):
                visit((path.parent / match.group(1)).resolve())

    for name in names:
        visit((root / name).resolve())
    return seen


def inputs_digest(lock: Lock, root: Path = ROOT) -> str:
    """SHA-256 over the target Python and the bytes of every input file."""
    digest = hashlib.sha256(f"python {lock.python}\nomit {' '.join(lock.omit)}\n".encode())
    for path in input_files(lock.inputs, root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\n")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def pins(path: Path) -> dict[str, str]:
    """``{normalised name: version}`` of the ``name==version`` lines of a requirements file."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := _PIN.match(line):
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(3)
    return found


def problems(lock: Lock, root: Path = ROOT) -> list[str]:
    """Why a lock is stale (empty: it is current): missing, compiled from other inputs, or a
    direct pin that the lock holds at another version (or not at all)."""
    path = root / lock.name
    if not path.is_file():
        return [f"{lock.name} is missing (run: make lock)"]
    text = path.read_text(encoding="utf-8")
    found = [line for line in text.splitlines() if line.startswith(INPUTS_LINE)]
    if found != [INPUTS_LINE + inputs_digest(lock, root)]:
        return [
            f"{lock.name} was compiled from other inputs than {', '.join(lock.inputs)}"
            " as they are now (run: make lock)"
        ]
    locked = pins(path)
    wrong = []
    for source in input_files(lock.inputs, root):
        for name, version in pins(source).items():
            if locked.get(name) != version:
                wrong.append(
                    f"{lock.name}: {name}=={version} of {source.name} is locked as "
                    f"{locked.get(name, 'nothing')}"
                )
    if "--hash=sha256:" not in text:
        wrong.append(f"{lock.name} carries no hashes")
    return wrong


def compile_lock(lock: Lock, uv: str, constraints: Path | None) -> None:
    """Compile one lock with uv and stamp the digest of its inputs into its header."""
    out = ROOT / lock.name
    command = [
        uv,
        "pip",
        "compile",
        "--quiet",
        "--generate-hashes",
        "--no-header",
        "--python-version",
        lock.python,
        "--python-platform",
        "x86_64-manylinux_2_28",
        *lock.inputs,
        "-o",
        str(out),
    ]
    if constraints is not None:
        command += ["--constraint", str(constraints)]
    for package in lock.omit:
        command += ["--no-emit-package", package]
    subprocess.run(command, cwd=ROOT, check=True)
    body = out.read_text(encoding="utf-8")
    out.write_text(
        f"# {lock.name}: compiled by `make lock` (python tools/lock.py) from "
        f"{', '.join(lock.inputs)} for Python {lock.python}"
        f"{' without ' + ', '.join(lock.omit) if lock.omit else ''}; do not edit.\n"
        f"{INPUTS_LINE}{inputs_digest(lock)}\n{body}",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    """Compile every lock, or (``--check``) list the stale ones and exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="offline staleness check")
    parser.add_argument("--uv", default=str(Path(sys.executable).with_name("uv")))
    args = parser.parse_args(argv)
    if args.check:
        stale = [problem for lock in LOCKS for problem in problems(lock)]
        for problem in stale:
            print(problem, file=sys.stderr)
        return 1 if stale else 0
    widest = ROOT / LOCKS[0].name
    for index, lock in enumerate(LOCKS):
        checkov = lock.name == "requirements-checkov.lock"  # its own environment
        compile_lock(lock, args.uv, None if index == 0 or checkov else widest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
