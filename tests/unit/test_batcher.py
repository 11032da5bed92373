"""Micro-batching: bounded by images, filled from what is waiting, one engine call at a time."""

from __future__ import annotations

import asyncio

from PIL import Image
from tests.support.fakes import FakeClock, FakeEngine

from vl2ingest.errors import EngineOverloaded
from vl2ingest.pipeline.batcher import MicroBatcher
from vl2ingest.pipeline.models import EngineOutput, EngineRequest, PreparedImage
from vl2ingest.vl2 import plan_images
from vl2ingest_events import ExtractionRequested, ImageRef


def engine_request(n_images: int, request_id: str = "r") -> EngineRequest:
    plans = plan_images([(10, 10)] * n_images)
    images = tuple(
        PreparedImage(
            uri="s3://b/k", width=10, height=10, image=Image.new("RGB", (10, 10)), plan=plan
        )
        for plan in plans
    )
    request = ExtractionRequested(
        request_id=request_id, images=tuple(ImageRef(uri="s3://b/k") for _ in plans)
    )
    return EngineRequest(request=request, images=images, max_new_tokens=8)


async def test_waiting_requests_share_a_batch_up_to_the_image_bound() -> None:
    """Requests queued while the engine is busy form the next batch, never above max images."""
    engine = FakeEngine(gate=asyncio.Event())
    batcher = MicroBatcher(engine, max_batch_images=4, linger_ms=0, clock=FakeClock())
    runner = asyncio.create_task(batcher.run())
    first = asyncio.create_task(batcher.submit(engine_request(1)))
    await asyncio.sleep(0.01)  # the first batch (1 request) is now inside the engine
    rest = [asyncio.create_task(batcher.submit(engine_request(n))) for n in (2, 2, 3)]
    await asyncio.sleep(0.01)
    engine.gate.set()  # type: ignore[union-attr]
    results = await asyncio.gather(first, *rest)
    runner.cancel()
    assert all(isinstance(r, EngineOutput) for r in results)
    # 1 | 2+2 (=4) | 3: the 3-image request did not fit and opened its own batch.
    assert engine.batches == [1, 2, 1]


async def test_engine_error_for_the_whole_batch_reaches_every_request() -> None:
    """When the engine raises a classified error, each waiting request receives it."""
    engine = FakeEngine(fail_with=EngineOverloaded("busy"))
    batcher = MicroBatcher(engine, max_batch_images=8, linger_ms=0, clock=FakeClock())
    runner = asyncio.create_task(batcher.run())
    results = await asyncio.gather(*(batcher.submit(engine_request(1, str(i))) for i in range(3)))
    runner.cancel()
    assert all(isinstance(r, EngineOverloaded) for r in results)


async def test_image_token_budget_bounds_a_batch() -> None:
    """With a 1000-token budget, two 421-token images share a batch and the third waits."""
    engine = FakeEngine(gate=asyncio.Event())
    batcher = MicroBatcher(
        engine, max_batch_images=8, linger_ms=0, clock=FakeClock(), max_batch_image_tokens=1000
    )
    runner = asyncio.create_task(batcher.run())
    first = asyncio.create_task(batcher.submit(engine_request(1, "first")))
    await asyncio.sleep(0.01)
    rest = [asyncio.create_task(batcher.submit(engine_request(1, str(i)))) for i in range(3)]
    await asyncio.sleep(0.01)
    engine.gate.set()  # type: ignore[union-attr]
    await asyncio.gather(first, *rest)
    runner.cancel()
    assert engine.batches == [1, 2, 1]
