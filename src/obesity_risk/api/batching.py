"""Adaptive micro-batching of concurrent ``POST /predict`` requests (one per worker process).

A request that finds the model idle is scored at once, alone: no added wait. Requests that
arrive while a model call runs queue, and the next call scores them together (up to
``serving.batching.max_batch``, after at most ``max_wait_ms`` more for stragglers when more than
one is waiting): one matrix through the compiled path and the booster instead of one call each.
The model call runs in the batcher's own thread, so the event loop keeps accepting, parsing and
validating requests (and committing their log rows) meanwhile. Each request gets its own row,
bit-identical to scoring it alone (``tests/model/test_batching.py``); a failed call fails only
the requests of its batch; a request whose client went away is skipped, never stalls the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from obesity_risk.serving.predictor import Predictions


@dataclass
class _Waiting:
    predictor: Any  # a Predictor (anything with ``predict_each``)
    record: Mapping[str, Any]
    future: asyncio.Future[Predictions] = field(repr=False)


class MicroBatcher:
    """Scores concurrent single-record requests in shared model calls."""

    def __init__(
        self,
        max_batch: int = 32,
        max_wait_ms: float = 0.0,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        self.max_batch = max_batch
        self.observe = observe  # told each call's batch size (the service's histogram)
        self.max_wait_s = max_wait_ms / 1000.0
        self._waiting: list[_Waiting] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.batches = 0  # model calls made, and the records they scored (the batch sizes)
        self.records = 0

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:  # created on first use: no thread before a request
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="model")
        return self._executor

    async def predict(self, predictor: Any, record: Mapping[str, Any]) -> Predictions:
        """The predictions of one validated record (one row), scored with whatever else is
        waiting for the same model."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(predictor, record, loop.create_future())
        self._waiting.append(waiting)
        if not self._draining:
            self._draining = True
            self._task = loop.create_task(self._drain())  # kept: a task needs a reference
        return await waiting.future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                if 1 < len(self._waiting) < self.max_batch and self.max_wait_s > 0:
                    await asyncio.sleep(self.max_wait_s)  # concurrent traffic: a few more
                batch = self._take()
                if not batch:
                    continue
                records = [w.record for w in batch]
                try:
                    out = await loop.run_in_executor(
                        self._pool(), batch[0].predictor.predict_each, records
                    )
                except Exception as exc:  # pylint: disable=broad-exception-caught
                    for w in batch:  # this batch only: the next one gets its own chance
                        if not w.future.done():
                            w.future.set_exception(exc)
                    continue
                self.batches += 1
                self.records += len(batch)
                if self.observe is not None:
                    self.observe(len(batch))
                for i, w in enumerate(batch):
                    if not w.future.done():  # a cancelled request (client gone) is skipped
                        w.future.set_result(out[i])
        finally:
            self._draining = False

    def _take(self) -> list[_Waiting]:
        """The next batch: up to ``max_batch`` waiting requests of the first one's model,
        in arrival order (requests already cancelled are dropped)."""
        self._waiting = [w for w in self._waiting if not w.future.done()]
        if not self._waiting:
            return []
        model = self._waiting[0].predictor
        batch, rest = [], []
        for w in self._waiting:
            if w.predictor is model and len(batch) < self.max_batch:
                batch.append(w)
            else:
                rest.append(w)
        self._waiting = rest
        return batch

    def close(self) -> None:
        """Stop the model thread (the app's shutdown)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
