"""The prepare stage: decode and plan the images of one turn in a worker pool."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from vl2ingest.imaging.decode import DecodedImage, decode_image
from vl2ingest.pipeline.models import FetchedObject, PreparedImage
from vl2ingest.settings import ImagingSettings
from vl2ingest.vl2 import plan_images


class ImagePreparer:
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

    async def __aenter__(self) -> ImagePreparer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def prepare(
        self, objects: Sequence[FetchedObject], *, max_image_side: int | None
    ) -> tuple[PreparedImage, ...]:
        if self._executor is None:
            raise RuntimeError("ImagePreparer is not started")
        loop = asyncio.get_running_loop()
        decoded: list[DecodedImage] = await asyncio.gather(
            *(
                loop.run_in_executor(self._executor, self._decode, obj.data, max_image_side)
                for obj in objects
            )
        )
        plans = plan_images([(d.width, d.height) for d in decoded])
        return tuple(
            PreparedImage(
                uri=obj.location.uri, width=d.width, height=d.height, image=d.image, plan=plan
            )
            for obj, d, plan in zip(objects, decoded, plans, strict=True)
        )

    def _decode(self, data: bytes, max_side: int | None) -> DecodedImage:
        return decode_image(data, max_pixels=self._settings.max_pixels, max_side=max_side)
