"""Profile a running API worker under load with py-spy; print where the time goes.

    python benchmarks/profile_serve.py [--clients 1] [--seconds 10]

Exports a LightGBM pipeline, starts ``obesity-risk serve`` (1 worker, production settings),
drives ``/predict`` with the serving benchmark's load while ``py-spy record`` samples the
worker (all threads, idle frames excluded), then prints the share of samples per leaf-most
package function (self time) and per function on the stack (total time).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import BIN, free_port, load, wait_ready


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    from serve_stages import exported_reference, served_env

    tmp = Path(tempfile.mkdtemp(prefix="profile-serve-"))
    _, records = exported_reference(tmp)
    port = free_port()
    env = served_env(tmp, f"{tmp}/p.db")
    server = subprocess.Popen(
        [str(BIN / "obesity-risk"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    raw = tmp / "profile.txt"
    try:
        wait_ready(f"http://127.0.0.1:{port}/ready", server)
        url = f"http://127.0.0.1:{port}/predict"
        asyncio.run(load(url, records, 4, 2.0))
        spy = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(server.pid),
                "--format",
                "raw",
                "--duration",
                str(int(args.seconds) - 1),
                "--rate",
                "500",
                "-o",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result: dict = {}
        thread = threading.Thread(
            target=lambda: result.update(
                asyncio.run(load(url, records, args.clients, args.seconds))
            )
        )
        thread.start()
        spy.wait(args.seconds + 30)
        thread.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    self_time: collections.Counter = collections.Counter()
    total: collections.Counter = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        samples += n
        self_time[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    print(
        f"load: {result.get('rps', 0):.0f} req/s, p50 {result.get('p50_ms', 0):.2f} ms "
        f"({args.clients} clients); {samples} samples"
    )
    print("\nself time (leaf frames):")
    for frame, n in self_time.most_common(args.top):
        print(f"  {100 * n / samples:5.1f}%  {frame}")
    print("\ntotal time (on the stack):")
    for frame, n in total.most_common(args.top):
        print(f"  {100 * n / samples:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
