"""The supply-chain checks of ``make lint``: pip-audit on each image's lock (known
vulnerabilities: none, or each listed in ``.pip-audit-ignore`` with why it does not apply;
skipped with a printed reason when no advisory source answers) and a CycloneDX SBOM of each
image's Python environment under ``reports/sbom/`` (the container test checks that each image
holds exactly its lock, so the lock's SBOM is the image's)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = {"serving": "requirements-serving.lock", "research": "requirements.lock"}
IGNORES = ROOT / ".pip-audit-ignore"


def ignored() -> dict[str, str]:
    """``{advisory id: reason}`` from ``.pip-audit-ignore`` (``ID  reason`` per line)."""
    if not IGNORES.is_file():
        return {}
    found = {}
    for line in IGNORES.read_text(encoding="utf-8").splitlines():
        ident, _, reason = line.strip().partition(" ")
        if ident and not ident.startswith("#"):
            if not reason.strip():
                raise SystemExit(f"{IGNORES.name}: {ident} has no reason")
            found[ident] = reason.strip()
    return found


def audit(lock: str, tool: Path) -> list[str]:
    """Problems pip-audit found in one lock (empty: none, or the audit was not possible)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        done = subprocess.run(
            [
                str(tool),
                "-r",
                str(ROOT / lock),
                "--require-hashes",
                "--disable-pip",
                "--progress-spinner",
                "off",
                "-f",
                "json",
                "-o",
                str(out),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if not out.is_file():
            print(f"pip-audit {lock}: skipped, it could not run: {done.stderr.strip()[-300:]}")
            return []
        report = json.loads(out.read_text(encoding="utf-8"))
    packages = report.get("dependencies", [])
    audited = [p for p in packages if "skip_reason" not in p]
    if not audited:
        print(
            f"pip-audit {lock}: skipped, no advisory source answered from here "
            f"(0 of {len(packages)} packages audited): this is not a clean audit"
        )
        return []
    allowed = ignored()
    problems = [
        f"{p['name']} {p['version']}: {v['id']} (fix: {', '.join(v.get('fix_versions', []))})"
        for p in audited
        for v in p.get("vulns", [])
        if v["id"] not in allowed
    ]
    print(
        f"pip-audit {lock}: {len(audited)} of {len(packages)} packages audited, "
        f"{len(problems)} known vulnerabilities not listed in {IGNORES.name}"
    )
    return problems


def sbom(image: str, lock: str, tool: Path) -> Path:
    """The CycloneDX JSON SBOM of one image's Python environment (from its lock)."""
    out = ROOT / "reports" / "sbom" / f"{image}.cdx.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(tool),
            "requirements",
            str(ROOT / lock),
            "--output-format",
            "JSON",
            "--output-reproducible",
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    components = len(json.loads(out.read_text(encoding="utf-8")).get("components", []))
    print(f"sbom {image}: {components} components -> {out.relative_to(ROOT)}")
    return out


def main() -> int:
    """Audit both image locks and write their SBOMs; exit 1 on an unlisted vulnerability."""
    bin_dir = Path(sys.executable).parent
    problems = []
    for image, lock in IMAGES.items():
        problems += audit(lock, bin_dir / "pip-audit")
        sbom(image, lock, bin_dir / "cyclonedx-py")
    for problem in problems:
        print(f"known vulnerability: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
