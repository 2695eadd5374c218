"""What an unauthenticated client can make the server do: oversize and explained batches, over
HTTP against a real ``obesity-risk serve`` process, in one run.

    python benchmarks/bench_limits.py  # -> reports/benchmarks/limits.json

The reference model (``serve_stages.exported_reference``) behind one worker with the shipped
limits. Each case posts one pre-encoded body (UCI records, repeated) and records the answer's
status, the wall seconds until it arrived, and the server's resident memory growth (peak RSS
during the request, polled from ``/proc`` every 5 ms, minus RSS before it). The run before the
record count and explain limit existed is kept in ``limits-before.json``:

- ``batch_100000``: 100,000 records, ten times ``serving.max_batch`` (refused, 413);
- ``batch_max``: ``serving.max_batch`` records (answered);
- ``explain_1000``: 1,000 records with ``?explain=true`` (refused, 413);
- ``explain_max``: ``serving.max_explain_batch`` records with ``?explain=true`` (answered).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))


def measure(http: httpx.Client, pid: int, url: str, body: bytes) -> dict[str, Any]:
    """Post ``body``; status, seconds to the answer, server RSS growth while it ran (MB)."""
    from tests.conftest import RssGrowth

    with RssGrowth(pid) as growth:
        started = time.perf_counter()
        response = http.post(url, content=body, headers={"content-type": "application/json"})
        elapsed = time.perf_counter() - started
    return {
        "status": response.status_code,
        "seconds": elapsed,
        "body_mb": len(body) / 2**20,
        "server_rss_growth_mb": growth.bytes / 2**20,
        "detail": response.json().get("detail") if response.status_code != 200 else None,
    }


def batch(records: list[dict], n: int) -> bytes:
    """``{"records": [...]}`` with ``n`` records (the given ones, cycled)."""
    return orjson.dumps({"records": [records[i % len(records)] for i in range(n)]})


def main() -> int:
    from serve_stages import exported_reference, served_env

    from tests.conftest import free_port, wait_http_ok

    with tempfile.TemporaryDirectory() as tmp:
        settings, records = exported_reference(Path(tmp))
        limits = settings.serving
        port = free_port()
        server = subprocess.Popen(
            [str(BIN / "obesity-risk"), "serve", "--port", str(port), "--workers", "1"],
            env=served_env(Path(tmp), f"{tmp}/predictions.db"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http_ok(
                f"{base}/ready",
                120,
                lambda: (
                    server.stderr.read().decode()[-2000:] if server.poll() is not None else None
                ),
            )
            cases = {
                "batch_100000": ("/predict/batch", 100_000),
                "batch_max": ("/predict/batch", limits.max_batch),
                "explain_1000": ("/predict/batch?explain=true", 1000),
                "explain_max": (
                    "/predict/batch?explain=true",
                    limits.max_explain_batch,
                ),
            }
            results = {}
            with httpx.Client(timeout=300) as http:
                http.post(f"{base}/predict/batch", json={"records": records[:100]})  # warm up
                for name, (path, n) in cases.items():
                    results[name] = {
                        "records": n,
                        **measure(http, server.pid, base + path, batch(records, n)),
                    }
                    print(name, results[name], flush=True)
        finally:
            server.terminate()
            server.wait(30)
    out = {
        "benchmark": "limits",
        "command": "python benchmarks/bench_limits.py",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "max_batch": limits.max_batch,
        "max_explain_batch": limits.max_explain_batch,
        "cases": results,
    }
    target = ROOT / "reports" / "benchmarks" / "limits.json"
    target.write_text(json.dumps(out, indent=2) + "\n")
    print(f"-> {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
