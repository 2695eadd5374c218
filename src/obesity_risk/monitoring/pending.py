"""A request waiting for the prediction log's group commit, and how its outcome reaches it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from obesity_risk.monitoring.idempotency import IdempotencyConflictError, Idempotent


@dataclass
class Pending:
    """One request's rows; the writer thread sets its outcome, then :meth:`release` s it."""

    rows: list[tuple[Any, ...]]
    once: Idempotent | None = None
    request_id: str = ""
    replay: bytes | None = None  # a retry: the original response (nothing logged)
    conflict: IdempotencyConflictError | None = None  # its key belongs to another request
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    future: asyncio.Future | None = None
    loop: asyncio.AbstractEventLoop | None = None

    @property
    def logs(self) -> bool:
        """Whether its rows are (to be) written: not failed, not answered by another request."""
        return self.error is None and self.replay is None and self.conflict is None

    def settle(self, fingerprint: str, response: str | bytes) -> None:
        """Answer it from the request logged under its key: that request's response when the
        fingerprints match, else a conflict."""
        assert self.once is not None
        if fingerprint == self.once.fingerprint:
            self.replay = response.encode() if isinstance(response, str) else response
        else:
            self.conflict = IdempotencyConflictError(self.once.key)

    def reset(self) -> None:
        """Forget an outcome its rolled-back transaction decided."""
        self.replay = self.conflict = None

    def release(self) -> None:
        """Wake the waiting request (a thread, or a coroutine on its event loop)."""
        self.done.set()
        if self.future is not None and self.loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                self.loop.call_soon_threadsafe(resolve, self.future)


def resolve(future: asyncio.Future) -> None:
    """Wake an awaiting request (on its loop)."""
    if not future.done():
        future.set_result(None)


def expire(future: asyncio.Future) -> None:
    """Time an awaiting request out (on its loop)."""
    if not future.done():
        future.set_exception(TimeoutError())
