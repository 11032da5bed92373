"""The stage loop: commits after processing, respects the in-flight bound, drains on stop."""

from __future__ import annotations

import asyncio

import msgspec
from tests.support.fakes import (
    FakeClock,
    FakeEngine,
    InlinePreparer,
    ListSource,
    MemoryStore,
    RecordingSink,
    message,
    png_bytes,
)

from vl2ingest.pipeline.batcher import MicroBatcher
from vl2ingest.pipeline.clock import SystemClock
from vl2ingest.pipeline.processor import Processor
from vl2ingest.pipeline.runner import Runner
from vl2ingest.settings import PipelineSettings
from vl2ingest_events import ExtractionRequested, ImageRef, encode


def build(n: int, *, max_in_flight: int, gate: asyncio.Event | None = None):  # type: ignore[no-untyped-def]
    store = MemoryStore()
    uri = store.put("inbox", "a.png", png_bytes(16, 16))
    messages = [
        message(
            encode(ExtractionRequested(request_id=f"r{i}", images=(ImageRef(uri=uri),))),
            offset=100 + i // 2,
            partition=i % 2,
        )
        for i in range(n)
    ]
    source = ListSource(messages, per_poll=5)
    engine = FakeEngine(gate=gate)
    sink = RecordingSink()
    clock = SystemClock()
    settings = msgspec.convert(
        {"max_in_flight_messages": max_in_flight, "linger_ms": 0}, PipelineSettings
    )
    batcher = MicroBatcher(engine, max_batch_images=4, linger_ms=0, clock=clock)
    processor = Processor(
        store=store,
        preparer=InlinePreparer(),
        batcher=batcher,
        sink=sink,
        engine_info=engine.info,
        settings=settings,
        allowed_buckets=["inbox"],
        default_max_new_tokens=8,
        clock=FakeClock(),
    )
    runner = Runner(
        source=source,
        processor=processor,
        batcher=batcher,
        settings=settings,
        commit_interval_ms=5,
        clock=clock,
    )
    return runner, source, sink, engine


async def test_every_message_is_processed_and_committed_past_its_offset() -> None:
    """After a drain, each partition is committed at its last offset + 1 and all results exist."""
    runner, source, sink, _ = build(20, max_in_flight=64)
    source.on_empty = _stop_when_done(runner, sink, 20)
    await asyncio.wait_for(runner.run(), timeout=10)
    assert sorted(e.request_id for e in sink.completed) == sorted(f"r{i}" for i in range(20))
    assert source.committed() == {("vl2ingest.requests", 0): 110, ("vl2ingest.requests", 1): 110}


async def test_in_flight_bound_pauses_the_source() -> None:
    """With a bound of 4 and a stalled engine, the source is paused and polling continues."""
    gate = asyncio.Event()
    runner, source, sink, _ = build(12, max_in_flight=4, gate=gate)
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(0.1)
    assert source.paused
    assert runner.in_flight <= 5
    assert source.commits == []  # nothing finished, nothing committed
    gate.set()
    source.on_empty = _stop_when_done(runner, sink, 12)
    await asyncio.wait_for(task, timeout=10)
    assert len(sink.completed) == 12
    assert source.pause_count >= 1


def _stop_when_done(runner: Runner, sink: RecordingSink, n: int):  # type: ignore[no-untyped-def]
    async def check() -> None:
        if len(sink.results) >= n:
            runner.stop()

    return check
