"""Memory of a process while a block runs."""

from __future__ import annotations

import threading
import time


class RssGrowth:
    """``with RssGrowth(pid) as growth:`` the peak resident memory of process ``pid`` while the
    block ran, minus its resident memory before (bytes, in ``growth.bytes``; polled every 5 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.bytes = pid, 0
        self._before, self._peak = 0, 0
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._poll, daemon=True)

    def rss(self) -> int:
        """Resident bytes of the process now."""
        with open(f"/proc/{self.pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _poll(self) -> None:
        while not self._done.is_set():
            self._peak = max(self._peak, self.rss())
            time.sleep(0.005)

    def __enter__(self) -> RssGrowth:
        self._before = self._peak = self.rss()
        self._watcher.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._watcher.join()
        self.bytes = max(0, self._peak - self._before)
