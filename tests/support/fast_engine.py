"""A fast engine of our own for delivery tests: implements the Engine protocol, answers at once.

It is injected into ``Service`` exactly as the real engines are (``Service(settings,
engine=...)``) and is unreachable from production settings (``VL2INGEST_ENGINE__NAME`` only
names real engines). Its answer names the image sizes, so results are checkable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from vl2ingest.errors import VL2IngestError
from vl2ingest.lifecycle import AsyncResource
from vl2ingest.pipeline.models import EngineInfo, EngineOutput, EngineRequest

FAST_INFO = EngineInfo(
    name="fast-test-engine",
    revision="1",
    engine="fast",
    backend="cpu",
    supported_tasks=frozenset({"ocr"}),
    max_image_side=512,
)


class FastEngine(AsyncResource):
    def __init__(self, *, per_batch_s: float = 0.0) -> None:
        self._per_batch_s = per_batch_s
        self.started = False

    @property
    def info(self) -> EngineInfo:
        return FAST_INFO

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def check_health(self) -> bool:
        return self.started

    async def infer(self, batch: Sequence[EngineRequest]) -> list[EngineOutput | VL2IngestError]:
        if self._per_batch_s:
            await asyncio.sleep(self._per_batch_s)
        return [
            EngineOutput(
                text=" ".join(f"{i.width}x{i.height}" for i in request.images),
                output_tokens=1,
            )
            for request in batch
        ]
