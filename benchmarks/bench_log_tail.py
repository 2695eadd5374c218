"""What the prediction log costs under load: the same API with the log as shipped (checkpoints
in their own thread), with SQLite's automatic checkpoints, and with the log off.

    python benchmarks/bench_log_tail.py   # -> reports/benchmarks/log-tail.json

One worker, the serving benchmark's reference pipeline exported locally, ``wrk`` at 1 and 16
clients, 6 s per level after 2 s of warm-up, two rounds per variant (every round reported).
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_serve import BIN, free_port, serve, stop  # noqa: E402
from serve_stages import exported_reference, served_env  # noqa: E402
from wrk_load import ensure_wrk, wrk_load  # noqa: E402
from wrk_load import version as wrk_version  # noqa: E402

VARIANTS = {
    "as shipped (checkpoint thread, checkpoint_s 1)": {},
    "SQLite automatic checkpoints (checkpoint_s 0)": {
        "OBESITY_RISK__SERVING__STORE__CHECKPOINT_S": "0"
    },
    "log off (log_predictions false)": {"OBESITY_RISK__SERVING__LOG_PREDICTIONS": "false"},
}


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-log-tail-"))
    _, records = exported_reference(tmp)
    out: dict[str, list[dict]] = {}
    for n, (name, extra) in enumerate(VARIANTS.items()):
        port = free_port()
        env = served_env(tmp, f"{tmp}/log-{n}.db", **extra)
        command = [str(BIN / "obesity-risk"), "serve", "--port", str(port), "--workers", "1"]
        process, _ = serve(command, env, f"http://127.0.0.1:{port}/ready")
        url = f"http://127.0.0.1:{port}/predict"
        try:
            wrk_load(url, records, 4, 2)
            out[name] = [wrk_load(url, records, c, 6) for _ in range(2) for c in (1, 16)]
        finally:
            stop(process)
    result = {
        "benchmark": "log-tail",
        "command": "python benchmarks/bench_log_tail.py",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_generator": wrk_version(ensure_wrk()),
        "variants": out,
    }
    path = ROOT / "reports/benchmarks/log-tail.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    for name, runs in out.items():
        for r in runs:
            print(f"{name}: {r['clients']:>2} clients {r['rps']:7.0f} req/s p99 {r['p99_ms']} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
