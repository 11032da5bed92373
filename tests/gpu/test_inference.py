"""Real DeepSeek-VL2 inference on a GPU, through the same prepare path the service uses."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from tests.gpu.conftest import SAMPLES, in_session_loop
from tests.support.fakes import (
    FakeClock,
    InlinePreparer,
    MemoryStore,
    RecordingSink,
    message,
    png_bytes,
)

from vl2ingest.engines.lmdeploy_engine import LmdeployEngine
from vl2ingest.errors import VL2IngestError
from vl2ingest.imaging.preparer import prepare_one
from vl2ingest.pipeline.batcher import MicroBatcher
from vl2ingest.pipeline.models import (
    EngineInfo,
    EngineOutput,
    EngineRequest,
    FetchedObject,
    S3Location,
)
from vl2ingest.pipeline.processor import Processor
from vl2ingest.settings import PipelineSettings
from vl2ingest_events import ExtractionRequested, ImageRef, encode

pytestmark = [pytest.mark.gpu, pytest.mark.timeout(600), in_session_loop]

MAX_NEW_TOKENS = 256
"""Enough for the receipt's text; with random weights every answer is exactly this long."""
SAMPLES_3 = ["receipt.png", "document-page.png", "sign-photo.jpg"]


class CountingEngine:
    """Our Engine protocol over the real engine, counting the requests that reach it."""

    def __init__(self, engine: LmdeployEngine) -> None:
        self._engine = engine
        self.requests = 0

    @property
    def info(self) -> EngineInfo:
        return self._engine.info

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def check_health(self) -> bool:
        return await self._engine.check_health()

    async def infer(self, batch: Sequence[EngineRequest]) -> list[EngineOutput | VL2IngestError]:
        self.requests += len(batch)
        return await self._engine.infer(batch)


def engine_request(
    engine: LmdeployEngine,
    names: list[str],
    task: str,
    *,
    ref: str | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> EngineRequest:
    """A request for bundled sample images, prepared as the service prepares them."""
    images = [(n, (SAMPLES / n).read_bytes()) for n in names]
    return request_for(engine, images, task, ref=ref, max_new_tokens=max_new_tokens)


def request_for(
    engine: LmdeployEngine,
    images: list[tuple[str, bytes]],
    task: str,
    *,
    ref: str | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> EngineRequest:
    objects = [
        FetchedObject(location=S3Location(bucket="samples", key=name), data=data)
        for name, data in images
    ]
    prepared = tuple(prepare_one(o, len(objects), engine.info, 10**8) for o in objects)
    request = ExtractionRequested(
        request_id=f"gpu-{task}-{len(images)}-{max_new_tokens}",
        images=tuple(ImageRef(uri=i.uri) for i in prepared),
        task=task,  # type: ignore[arg-type]
        ref=ref,
    )
    return EngineRequest(request=request, images=prepared, max_new_tokens=max_new_tokens)


def _answered(out: object, random_weights: bool) -> EngineOutput:
    """The structure every answer has; with random weights, exactly MAX_NEW_TOKENS tokens."""
    assert isinstance(out, EngineOutput), out
    assert out.input_tokens > 0
    assert out.infer_ms > 0
    if random_weights:
        assert (out.output_tokens, out.finish_reason) == (MAX_NEW_TOKENS, "length")
    else:
        assert out.output_tokens > 0
        assert out.finish_reason in {"stop", "length"}
    return out


async def test_backend_is_reported_truthfully(engine: LmdeployEngine) -> None:
    """DeepSeek-VL2 runs on the PyTorch engine, and the engine says so."""
    assert engine.info.backend == "pytorch"
    assert await engine.check_health()


async def test_ocr_reads_the_receipt(engine: LmdeployEngine, random_weights: bool) -> None:
    """OCR of the bundled receipt; real weights read its total."""
    (out,) = await engine.infer([engine_request(engine, ["receipt.png"], "ocr")])
    out = _answered(out, random_weights)
    if not random_weights:
        assert "TOTAL" in out.text.upper(), out.text
        assert "10.30" in out.text, out.text


async def test_grounding_returns_boxes_inside_the_image(
    engine: LmdeployEngine, random_weights: bool
) -> None:
    """Locating the sign: every region lies inside the 1024x768 photo; real weights find one."""
    request = engine_request(engine, ["sign-photo.jpg"], "locate", ref="the green sign")
    (out,) = await engine.infer([request])
    out = _answered(out, random_weights)
    if not random_weights:
        assert out.regions, out.text
    for region in out.regions:
        x1, y1, x2, y2 = region.box_px
        assert 0 <= x1 <= x2 < 1024
        assert 0 <= y1 <= y2 < 768


async def test_three_image_turn_is_padded_and_answered(
    engine: LmdeployEngine, random_weights: bool
) -> None:
    """A 3-image turn (padded 384x384 each, 421 tokens per image) runs and is answered."""
    names = ["receipt.png", "document-page.png", "sign-photo.jpg"]
    request = engine_request(engine, names, "caption")
    assert [i.plan.layout for i in request.images] == ["padded"] * 3
    (out,) = await engine.infer([request])
    out = _answered(out, random_weights)
    assert out.input_tokens >= 3 * 421
    if not random_weights:
        assert out.text.strip()


async def test_a_mixed_batch_is_answered_item_by_item(
    engine: LmdeployEngine, random_weights: bool
) -> None:
    """Eight requests of different shapes in one micro-batch: one answer each, in order."""
    shapes = [["receipt.png"], ["document-page.png"], ["sign-photo.jpg"], ["receipt.png"] * 2]
    batch = [engine_request(engine, names, "ocr") for names in shapes * 2]
    outs = await engine.infer(batch)
    assert len(outs) == len(batch)
    tokens = [_answered(out, random_weights).input_tokens for out in outs]
    assert tokens[:4] == tokens[4:]


async def test_each_answer_of_a_mixed_batch_belongs_to_its_request(
    engine: LmdeployEngine, random_weights: bool
) -> None:
    """Eight requests with distinct max_new_tokens in one batch: each answer has its own
    request's length (exactly, with random weights; at most, with real ones), so no answer is
    delivered to another request."""
    names = [["receipt.png"], ["document-page.png"], ["sign-photo.jpg"], ["receipt.png"] * 2]
    lengths = [17, 23, 31, 37, 41, 47, 53, 59]
    batch = [
        engine_request(engine, names[i % 4], "ocr", max_new_tokens=n) for i, n in enumerate(lengths)
    ]
    outs = await engine.infer(batch)
    assert len(outs) == len(batch)
    for out, wanted in zip(outs, lengths, strict=True):
        assert isinstance(out, EngineOutput), out
        if random_weights:
            assert (out.output_tokens, out.finish_reason) == (wanted, "length")
        else:
            assert 0 < out.output_tokens <= wanted


async def test_input_tokens_are_the_plans_image_tokens_plus_the_prompt(
    engine: LmdeployEngine,
) -> None:
    """For 1, 2 and 3 images (tiled, tiled, padded: different plans), input_tokens minus the
    plans' image tokens grows by the same prompt overhead per image: the engine saw exactly the
    image tokens the plan counted (a plan/engine mismatch in any one turn breaks the step)."""
    turns = [["document-page.png"], ["document-page.png", "sign-photo.jpg"], SAMPLES_3]
    # markdown: its instruction reads the same for any number of images (ocr's says "image" or
    # "images", one more token with the random checkpoint's byte-level tokenizer).
    requests = [engine_request(engine, names, "markdown", max_new_tokens=4) for names in turns]
    outs = await engine.infer(requests)
    text = []
    for request, out in zip(requests, outs, strict=True):
        assert isinstance(out, EngineOutput), out
        text.append(out.input_tokens - sum(image.plan.image_tokens for image in request.images))
    assert [i.plan.layout for i in requests[2].images] == ["padded"] * 3
    per_image = text[1] - text[0]
    assert text[2] - text[1] == per_image, text
    assert 0 <= per_image <= 4, text  # the placeholder's own newline, at most a few tokens
    assert 0 < text[0] < 64, text


async def test_an_input_longer_than_the_context_fails_context_overflow(
    engine: LmdeployEngine,
) -> None:
    """Two tall pages (a 1x9 tile plan each: 2 x 2101 image tokens) exceed the 4096-token
    context on input alone: LMDeploy refuses them, and that comes back as context_overflow."""
    tall = png_bytes(400, 3600, (255, 255, 255))
    request = request_for(engine, [("tall-1.png", tall), ("tall-2.png", tall)], "ocr")
    assert sum(i.plan.image_tokens for i in request.images) == 2 * 2101
    (out,) = await engine.infer([request])
    assert isinstance(out, VL2IngestError), out
    assert out.code == "context_overflow", out


async def test_the_pipeline_refuses_it_before_the_engine(engine: LmdeployEngine) -> None:
    """Through the real pipeline (processor, batcher) over this engine, the over-long request
    fails context_overflow and never reaches the engine."""
    counting = CountingEngine(engine)
    clock = FakeClock()
    batcher = MicroBatcher(counting, max_batch_images=8, linger_ms=0, clock=clock)
    store, sink = MemoryStore(), RecordingSink()
    uri = store.put("inbox", "page.png", (SAMPLES / "document-page.png").read_bytes())
    processor = Processor(
        store=store,
        preparer=InlinePreparer(),
        batcher=batcher,
        sink=sink,
        engine_info=engine.info,
        settings=PipelineSettings(),
        allowed_buckets=["inbox"],
        default_max_new_tokens=64,
        clock=clock,
    )
    value = encode(
        ExtractionRequested(request_id="long", images=(ImageRef(uri=uri),), max_new_tokens=4000)
    )
    runner = asyncio.create_task(batcher.run())
    try:
        await processor.handle(message(value))
    finally:
        runner.cancel()
    (failed,) = sink.failed
    assert failed.error.code == "context_overflow"
    assert counting.requests == 0
