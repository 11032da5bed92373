"""The embedded CPU OCR engine reads rendered text, and works with the network switched off."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest
from PIL import Image, ImageDraw, ImageFont

from vl2ingest.engines.rapidocr_engine import RapidOcrEngine
from vl2ingest.pipeline.models import EngineOutput, EngineRequest, PreparedImage
from vl2ingest.settings import EngineSettings
from vl2ingest.vl2 import plan_images
from vl2ingest_events import ExtractionRequested, ImageRef


def rendered(text: str, size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((20, 20), text, fill="black", font=ImageFont.load_default(size=40))
    return image


async def test_reads_text_and_scales_boxes_to_the_original_image() -> None:
    """Text rendered into an image comes back, with boxes in ORIGINAL pixel coordinates."""
    pixels = rendered("PARCEL 5521", (600, 100))
    # The engine received a half-size image; the original was 1200x200.
    (plan,) = plan_images([(1200, 200)])
    image = PreparedImage(uri="s3://b/k", width=1200, height=200, image=pixels, plan=plan)
    request = EngineRequest(
        request=ExtractionRequested(request_id="r", images=(ImageRef(uri="s3://b/k"),)),
        images=(image,),
        max_new_tokens=16,
    )
    engine = RapidOcrEngine(EngineSettings())
    async with engine:
        (output,) = await engine.infer([request])
    assert isinstance(output, EngineOutput)
    assert "PARCEL" in output.text
    assert "5521" in output.text
    (region,) = output.regions
    x1, y1, x2, y2 = region.box_px
    assert x1 < 120
    assert x2 > 400
    assert 0 <= y1 < y2 < 200
    assert region.box_norm[2] == x2 * 999 // 1200
    assert engine.info.supported_tasks == frozenset({"ocr"})


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_engine_runs_without_network() -> None:
    """In a process with no network namespace access, the engine loads its bundled models."""
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)  # noqa: S607
    if probe.returncode != 0:
        pytest.skip("user namespaces are not permitted here")
    script = textwrap.dedent(
        """
        import asyncio, socket
        from vl2ingest.engines.rapidocr_engine import RapidOcrEngine
        from vl2ingest.settings import EngineSettings
        try:
            socket.create_connection(("1.1.1.1", 443), timeout=2)
            raise SystemExit("network is reachable; the check would prove nothing")
        except OSError:
            pass
        async def main():
            async with RapidOcrEngine(EngineSettings()) as engine:
                assert await engine.check_health()
        asyncio.run(main())
        print("offline-ok")
        """
    )
    result = subprocess.run(  # noqa: S603  # fixed arguments
        ["unshare", "-rn", sys.executable, "-c", script],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "offline-ok" in result.stdout
