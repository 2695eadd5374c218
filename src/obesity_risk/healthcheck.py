"""Container health checks without curl: ``python -m obesity_risk.healthcheck URL...``.

Exits 0 when every ``URL`` answers 2xx within the timeout, 1 otherwise (one line on stderr).
An argument ``fresh:PATH:SECONDS`` checks instead that the file was written less than SECONDS
ago (a scheduled job's heartbeat). No argument holds a space, which podman's Docker-compatible
API would split, and the images need no HTTP client or shell of their own.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from obesity_risk.errors import report_problems

TIMEOUT_S = 3.0


def check(url: str, timeout: float = TIMEOUT_S) -> str | None:
    """None when ``url`` (http(s) only) answers 2xx in time; else why not."""
    if not url.startswith(("http://", "https://")):
        return f"not an http(s) URL: {url!r}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"{url}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"{url}: {getattr(exc, 'reason', exc)}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


def fresh(spec: str) -> str | None:
    """None when ``fresh:PATH:SECONDS`` names a file modified less than SECONDS ago."""
    path, _, seconds = spec.removeprefix("fresh:").rpartition(":")
    try:
        age = time.time() - Path(path).stat().st_mtime
        limit = float(seconds)
    except (OSError, ValueError) as exc:
        return f"{spec}: {exc}"
    return None if age < limit else f"{path}: last written {age:.0f} s ago (limit {limit:.0f} s)"


def main(argv: list[str]) -> int:
    """Check each URL in ``argv``; the exit code."""
    if not argv:
        sys.stderr.write("usage: python -m obesity_risk.healthcheck URL|fresh:PATH:SECONDS...\n")
        return 2
    problems = [p for arg in argv if (p := fresh(arg) if arg.startswith("fresh:") else check(arg))]
    return report_problems(problems)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
