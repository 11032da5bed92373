"""Real DeepSeek-VL2 inference on a GPU, through the same prepare path the service uses."""

from __future__ import annotations

import pytest
from tests.gpu.conftest import SAMPLES

from vl2ingest.engines.lmdeploy_engine import LmdeployEngine
from vl2ingest.imaging.preparer import prepare_one
from vl2ingest.pipeline.models import EngineOutput, EngineRequest, FetchedObject, S3Location
from vl2ingest_events import ExtractionRequested, ImageRef

pytestmark = [pytest.mark.gpu, pytest.mark.timeout(600)]


def engine_request(
    engine: LmdeployEngine, names: list[str], task: str, *, ref: str | None = None
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
    return EngineRequest(request=request, images=images, max_new_tokens=256)


async def test_backend_is_reported_truthfully(engine: LmdeployEngine) -> None:
    """DeepSeek-VL2 runs on the PyTorch engine, and the engine says so."""
    assert engine.info.backend == "pytorch"
    assert await engine.check_health()


async def test_ocr_reads_the_receipt(engine: LmdeployEngine) -> None:
    """OCR of the bundled receipt returns text with its total."""
    (out,) = await engine.infer([engine_request(engine, ["receipt.png"], "ocr")])
    assert isinstance(out, EngineOutput), out
    assert out.text.strip()
    assert out.output_tokens > 0
    assert out.finish_reason in {"stop", "length"}


async def test_grounding_returns_boxes_inside_the_image(engine: LmdeployEngine) -> None:
    """Locating the sign yields at least one region inside the 1024x768 photo."""
    request = engine_request(engine, ["sign-photo.jpg"], "locate", ref="the green sign")
    (out,) = await engine.infer([request])
    assert isinstance(out, EngineOutput), out
    assert out.regions, out.text
    for region in out.regions:
        x1, y1, x2, y2 = region.box_px
        assert 0 <= x1 <= x2 < 1024
        assert 0 <= y1 <= y2 < 768


async def test_three_image_turn_is_padded_and_answered(engine: LmdeployEngine) -> None:
    """A 3-image turn (padded 384x384 each) runs and yields text."""
    names = ["receipt.png", "document-page.png", "sign-photo.jpg"]
    request = engine_request(engine, names, "caption")
    assert [i.plan.layout for i in request.images] == ["padded"] * 3
    (out,) = await engine.infer([request])
    assert isinstance(out, EngineOutput), out
    assert out.text.strip()
    assert out.input_tokens >= 3 * 421
