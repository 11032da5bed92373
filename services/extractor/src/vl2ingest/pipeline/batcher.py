"""Micro-batching in front of the engine.

Workers submit prepared requests and await their own result. One loop forms batches bounded by
image count, by estimated image tokens (the DeepSeek-VL2 plan) and by a linger time, and runs
them through the engine one at a time; while a batch is inferring, the next requests keep
arriving (they are fetched and prepared concurrently), so the next batch is ready the moment the
engine frees up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from vl2ingest.errors import EngineDead, VL2IngestError
from vl2ingest.pipeline.models import EngineOutput, EngineRequest
from vl2ingest.pipeline.ports import Clock, Engine, NullObserver, Observer


@dataclass(slots=True)
class _Pending:
    request: EngineRequest
    future: asyncio.Future[EngineOutput | VL2IngestError]


class MicroBatcher:
    def __init__(
        self,
        engine: Engine,
        *,
        max_batch_images: int,
        linger_ms: int,
        clock: Clock,
        max_batch_image_tokens: int | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._observer: Observer = observer or NullObserver()
        self._engine = engine
        self._max_images = max_batch_images
        self._max_tokens = max_batch_image_tokens
        self._linger_s = linger_ms / 1000
        self._clock = clock
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.busy_s = 0.0
        """Seconds the engine spent inside ``infer`` (for the busy ratio)."""
        self.batches = 0
        self._carry: _Pending | None = None
        """A request that did not fit the previous batch; it opens the next one."""

    async def submit(self, request: EngineRequest) -> EngineOutput | VL2IngestError:
        future: asyncio.Future[EngineOutput | VL2IngestError] = (
            asyncio.get_running_loop().create_future()
        )
        await self._queue.put(_Pending(request, future))
        return await future

    async def run(self) -> None:
        """Form and run batches until cancelled."""
        while True:
            batch = await self._next_batch()
            await self._run_batch(batch)

    async def _next_batch(self) -> list[_Pending]:
        first = self._carry or await self._queue.get()
        self._carry = None
        batch = [first]
        images = first.request.image_count
        tokens = first.request.image_tokens
        deadline = self._clock.monotonic() + self._linger_s
        while images < self._max_images:
            if self._queue.empty():
                remaining = deadline - self._clock.monotonic()
                if remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        item = await self._queue.get()
                except TimeoutError:
                    break
            else:
                item = self._queue.get_nowait()
            if not self._fits(images, tokens, item.request):
                self._carry = item
                break
            batch.append(item)
            images += item.request.image_count
            tokens += item.request.image_tokens
        return batch

    def _fits(self, images: int, tokens: int, request: EngineRequest) -> bool:
        if images + request.image_count > self._max_images:
            return False
        return self._max_tokens is None or tokens + request.image_tokens <= self._max_tokens

    async def _run_batch(self, batch: Sequence[_Pending]) -> None:
        live = [p for p in batch if not p.future.cancelled()]
        if not live:
            return
        started = self._clock.monotonic()
        try:
            results = await self._engine.infer([p.request for p in live])
        except VL2IngestError as exc:
            results = [exc] * len(live)
        finally:
            busy = self._clock.monotonic() - started
            self.busy_s += busy
            self.batches += 1
            self._observer.batch_finished(
                images=sum(p.request.image_count for p in live), busy_s=busy
            )
        if len(results) != len(live):
            raise EngineDead(f"engine returned {len(results)} results for {len(live)} requests")
        for pending, result in zip(live, results, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)
