"""HTTP load from ``wrk`` (a compiled load generator, Debian's ``wrk`` 4.1): fixed duration,
one connection per client, bodies rotated from a file, figures printed by a Lua ``done`` hook.

The Python generator (``bench_serve.load``) was the bottleneck at 16 clients: its ceiling
figure fell below its 1-client figure, so every server looked alike. ``wrk`` drives the same
loopback load from one C thread; a run whose ceiling does not scale with clients is marked
invalid by the caller.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

LUA = r"""
local bodies, i = {}, 0
for line in io.lines(os.getenv("WRK_BODIES")) do bodies[#bodies + 1] = line end
request = function()
  i = i + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
                    bodies[(i % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "duration_us": %d, "socket_errors": %d, "non_2xx": %d,'
    .. ' "p50_us": %.1f, "p90_us": %.1f, "p99_us": %.1f, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


def ensure_wrk() -> str:
    """The ``wrk`` binary, installed from Debian's packages when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and could not be installed")
    return found


def version(binary: str) -> str:
    """``wrk -v``'s first line."""
    run = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (run.stdout or run.stderr).splitlines()[0].strip()


def wrk_load(
    url: str, bodies: list[dict], clients: int, seconds: float, threads: int = 1
) -> dict[str, float | int | str]:
    """``clients`` keep-alive connections posting the bodies for ``seconds``: req/s and
    latency percentiles (ms), socket errors and non-2xx answers."""
    binary = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="wrk-") as tmp:
        script, data = Path(tmp) / "post.lua", Path(tmp) / "bodies.jsonl"
        script.write_text(LUA)
        data.write_text("".join(json.dumps(b, separators=(",", ":")) + "\n" for b in bodies))
        command = [
            binary, "-t", str(min(threads, clients)), "-c", str(clients),
            "-d", f"{seconds:g}s", "--timeout", "30s", "-s", str(script), url,
        ]  # fmt: skip
        run = subprocess.run(
            command, capture_output=True, text=True, check=True, env={"WRK_BODIES": str(data)}
        )
    line = next(x for x in run.stdout.splitlines() if x.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    wall = raw["duration_us"] / 1e6
    return {
        "clients": clients,
        "requests": raw["requests"],
        "errors": raw["socket_errors"] + raw["non_2xx"],
        "rps": raw["requests"] / wall,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "mean_ms": raw["mean_us"] / 1000,
        "generator": f"wrk -t{min(threads, clients)} -c{clients} -d{seconds:g}s (Lua POST bodies)",
    }
