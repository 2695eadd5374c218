"""Container health checks without curl: ``python -m obesity_risk.healthcheck URL``.

Exits 0 when ``URL`` answers 2xx within the timeout, 1 otherwise (one line on stderr). The
images then need no HTTP client binary of their own.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

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


def main(argv: list[str]) -> int:
    """Check each URL in ``argv``; the exit code."""
    if not argv:
        sys.stderr.write("usage: python -m obesity_risk.healthcheck URL...\n")
        return 2
    problems = [p for url in argv if (p := check(url))]
    return report_problems(problems)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
