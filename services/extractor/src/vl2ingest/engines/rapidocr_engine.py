"""Embedded CPU OCR with RapidOCR (PP-OCR models in ONNX, shipped inside the wheel).

It serves the ``ocr`` task: the recognised lines in reading order as ``text``, and each line's
box as a region labelled with its text. Other tasks are reported unsupported by the pipeline
before any work is done. Inference runs in one dedicated thread (ONNX Runtime parallelises each
call internally), so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import numpy as np

from vl2ingest.errors import EngineDead, InferenceFailed, VL2IngestError
from vl2ingest.lifecycle import AsyncResource
from vl2ingest.pipeline.models import EngineInfo, EngineOutput, EngineRequest, PreparedImage
from vl2ingest.settings import EngineSettings
from vl2ingest_events import Region

# RapidOCR's own detector works at up to 2000 px on the longest side; larger input is wasted.
MAX_IMAGE_SIDE: Final = 2000
_NORM_GRID: Final = 999


class RapidOcrEngine(AsyncResource):
    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._ocr: Any = None
        self._executor: ThreadPoolExecutor | None = None
        version = importlib.metadata.version("rapidocr")
        self._info = EngineInfo(
            name="rapidocr-ppocr",
            revision=version,
            engine="rapidocr",
            backend="onnxruntime-cpu",
            supported_tasks=frozenset({"ocr"}),
            max_image_side=MAX_IMAGE_SIDE,
        )

    @property
    def info(self) -> EngineInfo:
        return self._info

    async def start(self) -> None:
        if self._executor is not None:
            raise RuntimeError("RapidOcrEngine already started")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rapidocr")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._load)

    def _load(self) -> None:
        from rapidocr import RapidOCR  # heavy import, only when this engine runs

        params: dict[str, Any] = {"Global.log_level": "error"}
        if self._settings.threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = self._settings.threads
        self._ocr = RapidOCR(params=params)
        # Warm up: the first call initialises the ONNX sessions.
        self._ocr(np.full((64, 256, 3), 255, dtype=np.uint8))

    async def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._ocr = None

    async def check_health(self) -> bool:
        return self._ocr is not None and self._executor is not None

    async def infer(self, batch: Sequence[EngineRequest]) -> list[EngineOutput | VL2IngestError]:
        if self._executor is None or self._ocr is None:
            raise EngineDead("the OCR engine is not running")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._infer_sync, list(batch))

    def _infer_sync(self, batch: list[EngineRequest]) -> list[EngineOutput | VL2IngestError]:
        results: list[EngineOutput | VL2IngestError] = []
        for request in batch:
            started = time.monotonic()
            try:
                texts: list[str] = []
                regions: list[Region] = []
                for index, image in enumerate(request.images):
                    lines = self._recognise(image, index)
                    texts.extend(region.label for region in lines)
                    regions.extend(lines)
            except (RuntimeError, ValueError) as exc:  # ONNX Runtime errors subclass these
                results.append(InferenceFailed(f"OCR failed: {exc}"))
                continue
            results.append(
                EngineOutput(
                    text="\n".join(texts),
                    regions=tuple(regions),
                    infer_ms=(time.monotonic() - started) * 1000,
                )
            )
        return results

    def _recognise(self, image: PreparedImage, index: int) -> list[Region]:
        pixels = np.asarray(image.image)
        output = self._ocr(pixels)
        if output.txts is None or output.boxes is None:
            return []
        scale_x = image.width / image.image.width
        scale_y = image.height / image.image.height
        regions = []
        for text, points in zip(output.txts, output.boxes, strict=True):
            xs = [float(p[0]) * scale_x for p in points]
            ys = [float(p[1]) * scale_y for p in points]
            box_px = (
                _clamp(min(xs), image.width),
                _clamp(min(ys), image.height),
                _clamp(max(xs), image.width),
                _clamp(max(ys), image.height),
            )
            box_norm = (
                box_px[0] * _NORM_GRID // image.width,
                box_px[1] * _NORM_GRID // image.height,
                box_px[2] * _NORM_GRID // image.width,
                box_px[3] * _NORM_GRID // image.height,
            )
            regions.append(
                Region(image_index=index, label=str(text), box_px=box_px, box_norm=box_norm)
            )
        return regions


def _clamp(value: float, limit: int) -> int:
    return max(0, min(int(value), limit - 1))
