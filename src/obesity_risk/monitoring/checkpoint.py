"""SQLite WAL checkpoints off the commit path.

In WAL mode SQLite checkpoints automatically (every 1,000 pages) inside whichever commit crosses
the mark, and a checkpoint fsyncs the database: that one commit then waits for the disk (hundreds
of milliseconds here), and so does every request in its group. With
``serving.store.checkpoint_s`` set, the writer's connections never checkpoint
(``wal_autocheckpoint=0``) and this thread runs a ``PASSIVE`` checkpoint on its own connection
every ``checkpoint_s``: passive checkpoints never block writers or readers, so commits go on
appending to the WAL meanwhile. Durability is unchanged (a committed row is in the WAL).
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from loguru import logger


class WalCheckpointer:
    """A daemon thread checkpointing one SQLite database every ``interval_s``."""

    def __init__(self, engine: sa.Engine, interval_s: float) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.runs = 0  # checkpoints run, and the last one's (busy, log, checkpointed) frames
        self.last: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        raw: Any = None
        while not self._stop.wait(self.interval_s):
            try:
                if raw is None:
                    raw = self.engine.raw_connection()
                cursor = raw.cursor()
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                row = cursor.fetchone()
                cursor.close()
                self.last = (int(row[0]), int(row[1]), int(row[2])) if row else None
                self.runs += 1
            except Exception as exc:  # pylint: disable=broad-exception-caught
                # the store reports its own faults; a checkpoint that fails is retried next time
                logger.debug("WAL checkpoint failed: {}", exc)
                if raw is not None:
                    raw.invalidate()
                    raw = None
        if raw is not None:
            raw.close()

    def close(self) -> None:
        """Stop the thread (SQLite checkpoints what is left when the last connection closes)."""
        self._stop.set()
        self._thread.join(timeout=30)
