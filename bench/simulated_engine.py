"""A simulated engine for benchmarks ONLY: it stands in for a GPU of a chosen speed.

Per batch it waits ``fixed_ms + per_image_ms * images + per_token_us * image_tokens / 1000``
without blocking the event loop, and answers every request. It lives in bench/, outside the
package, and is injected into ``Service`` the way tests inject engines: no setting can select it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from vl2ingest.errors import VL2IngestError
from vl2ingest.lifecycle import AsyncResource
from vl2ingest.pipeline.models import EngineInfo, EngineOutput, EngineRequest
from vl2ingest.vl2 import CONTEXT_TOKENS, PROMPT_VERSION


@dataclass(frozen=True)
class Speed:
    fixed_ms: float
    per_image_ms: float
    per_token_us: float = 0.0

    def batch_s(self, images: int, tokens: int) -> float:
        return (
            self.fixed_ms + self.per_image_ms * images + self.per_token_us * tokens / 1000
        ) / 1000

    @property
    def images_per_s(self) -> float:
        """Throughput at large batches (the fixed cost amortised away)."""
        return 1000 / self.per_image_ms


class SimulatedEngine(AsyncResource):
    def __init__(self, speed: Speed) -> None:
        self.speed = speed
        self.busy_s = 0.0
        self.images = 0
        self.batches = 0
        self._info = EngineInfo(
            name="simulated-gpu",
            revision="bench",
            engine="simulated",
            backend="sleep",
            supported_tasks=frozenset({"ocr"}),
            image_input="vl2_views",
            context_tokens=CONTEXT_TOKENS,
            prompt_version=PROMPT_VERSION,
        )

    @property
    def info(self) -> EngineInfo:
        return self._info

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def check_health(self) -> bool:
        return True

    async def infer(self, batch: Sequence[EngineRequest]) -> list[EngineOutput | VL2IngestError]:
        images = sum(r.image_count for r in batch)
        tokens = sum(r.image_tokens for r in batch)
        started = time.perf_counter()
        await asyncio.sleep(self.speed.batch_s(images, tokens))
        elapsed = time.perf_counter() - started
        self.busy_s += elapsed
        self.images += images
        self.batches += 1
        return [
            EngineOutput(text="simulated", output_tokens=16, infer_ms=elapsed * 1000) for _ in batch
        ]
