"""The prepare stage: decode and plan the images of one turn in a worker pool.

Each image is planned from its header (DeepSeek-VL2's rule depends only on its size and the
number of images in the turn), then decoded at no more than the resolution the engine will use,
so a 12 MP photo never travels further than this stage at full size.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from vl2ingest.imaging.decode import load_image, open_image
from vl2ingest.lifecycle import AsyncResource
from vl2ingest.pipeline.models import EngineInfo, FetchedObject, PreparedImage
from vl2ingest.settings import ImagingSettings
from vl2ingest.vl2 import plan_image, prepare_image


class ImagePreparer(AsyncResource):
    """Pillow releases the GIL while decoding and resampling, so threads scale across cores."""

    def __init__(self, settings: ImagingSettings) -> None:
        self._settings = settings
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        if self._executor is not None:
            raise RuntimeError("ImagePreparer already started")
        workers = self._settings.workers or os.cpu_count() or 1
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prepare")

    async def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    async def prepare(
        self, objects: Sequence[FetchedObject], *, engine: EngineInfo
    ) -> tuple[PreparedImage, ...]:
        if self._executor is None:
            raise RuntimeError("ImagePreparer is not started")
        loop = asyncio.get_running_loop()
        turn = len(objects)
        return tuple(
            await asyncio.gather(
                *(
                    loop.run_in_executor(
                        self._executor, prepare_one, obj, turn, engine, self._settings.max_pixels
                    )
                    for obj in objects
                )
            )
        )


def prepare_one(
    obj: FetchedObject, turn: int, engine: EngineInfo, max_pixels: int
) -> PreparedImage:
    """One image of a turn of ``turn`` images: header, plan, then decode only as many pixels as
    the engine will use, and cut DeepSeek-VL2's views when the engine takes them."""
    opened = open_image(obj.data, max_pixels=max_pixels)
    plan = plan_image(opened.width, opened.height, turn_size=turn)
    if engine.image_input == "vl2_views":
        # The local view is at most the planned resolution; the global view is 384x384.
        max_side: int | None = max(plan.target_width, plan.target_height)
    else:
        max_side = engine.max_image_side
    decoded = load_image(opened, max_side=max_side)
    views = prepare_image(decoded.image, plan) if engine.image_input == "vl2_views" else None
    return PreparedImage(
        uri=obj.location.uri,
        width=decoded.width,
        height=decoded.height,
        image=decoded.image,
        plan=plan,
        views=views,
    )
