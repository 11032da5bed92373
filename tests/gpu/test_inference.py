"""Real DeepSeek-VL2 inference on a GPU, through the same prepare path the service uses."""

from __future__ import annotations

import pytest
from tests.gpu.conftest import SAMPLES, in_module_loop

from vl2ingest.engines.lmdeploy_engine import LmdeployEngine
from vl2ingest.imaging.preparer import prepare_one
from vl2ingest.pipeline.models import EngineOutput, EngineRequest, FetchedObject, S3Location
from vl2ingest_events import ExtractionRequested, ImageRef

pytestmark = [pytest.mark.gpu, pytest.mark.timeout(600), in_module_loop]

MAX_NEW_TOKENS = 256
"""Enough for the receipt's text; with random weights every answer is exactly this long."""


def engine_request(
    engine: LmdeployEngine,
    names: list[str],
    task: str,
    *,
    ref: str | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> EngineRequest:
    objects = [
        FetchedObject(location=S3Location(bucket="samples", key=n), data=(SAMPLES / n).read_bytes())
        for n in names
    ]
    images = tuple(prepare_one(o, len(objects), engine.info, 10**8) for o in objects)
    request = ExtractionRequested(
        request_id=f"gpu-{task}",
        images=tuple(ImageRef(uri=i.uri) for i in images),
        task=task,  # type: ignore[arg-type]
        ref=ref,
    )
    return EngineRequest(request=request, images=images, max_new_tokens=max_new_tokens)


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
