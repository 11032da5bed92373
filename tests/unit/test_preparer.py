"""The prepare stage: images leave it planned and at the size the engine consumes."""

from __future__ import annotations

import dataclasses
import io

from PIL import Image, ImageChops, ImageDraw, ImageStat
from tests.support.fakes import FAKE_INFO, VL2_INFO

from vl2ingest.imaging.preparer import ImagePreparer
from vl2ingest.pipeline.models import FetchedObject, S3Location
from vl2ingest.settings import ImagingSettings
from vl2ingest.vl2 import plan_images, prepare_image


def photo_jpeg(size: tuple[int, int]) -> bytes:
    """A JPEG with structure (gradient + shapes), so resampling differences are measurable."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for i in range(0, size[0], size[0] // 8):
        draw.rectangle((i, size[1] // 4, i + size[0] // 16, size[1] // 2), fill=(200, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def fetched(data: bytes, key: str = "k.jpg") -> FetchedObject:
    return FetchedObject(location=S3Location(bucket="b", key=key), data=data)


async def test_vl2_views_are_cut_from_a_draft_decoded_photo() -> None:
    """A 12 MP photo for a VL2 engine arrives as global view + tiles, never at full size."""
    data = photo_jpeg((4000, 3000))
    async with ImagePreparer(ImagingSettings(workers=2)) as preparer:
        (image,) = await preparer.prepare([fetched(data)], engine=VL2_INFO)
    plan = image.plan
    assert (image.width, image.height) == (4000, 3000)
    assert (plan.layout, plan.target_width, plan.target_height) == ("tiled", 1152, 1152)
    assert max(image.image.size) <= max(plan.target_width, plan.target_height)
    assert image.views is not None
    assert image.views.global_view.size == (384, 384)
    assert len(image.views.tiles) == plan.tiles_w * plan.tiles_h == 9
    # Equal to the views of a full decode up to resampling differences.
    full = Image.open(io.BytesIO(data)).convert("RGB")
    reference = prepare_image(full, plan_images([(4000, 3000)])[0])
    diff = ImageChops.difference(image.views.tiles[5], reference.tiles[5])
    assert max(ImageStat.Stat(diff).mean) < 3.0


async def test_three_images_in_a_turn_are_padded_single_tiles() -> None:
    """With three images every plan is padded: one 384x384 local tile and 421 tokens each."""
    objects = [fetched(photo_jpeg((900 + i * 100, 700)), f"{i}.jpg") for i in range(3)]
    async with ImagePreparer(ImagingSettings(workers=2)) as preparer:
        images = await preparer.prepare(objects, engine=VL2_INFO)
    assert [(i.plan.layout, i.plan.image_tokens) for i in images] == [("padded", 421)] * 3
    assert all(i.views is not None and len(i.views.tiles) == 1 for i in images)
    assert [i.uri for i in images] == ["s3://b/0.jpg", "s3://b/1.jpg", "s3://b/2.jpg"]


async def test_pixel_engines_get_reduced_pixels_and_no_views() -> None:
    """An engine that takes pixels gets them shrunk to its max side, without VL2 views."""
    engine = dataclasses.replace(FAKE_INFO, max_image_side=1000)
    async with ImagePreparer(ImagingSettings(workers=1)) as preparer:
        (image,) = await preparer.prepare([fetched(photo_jpeg((3000, 2000)))], engine=engine)
    assert image.views is None
    assert max(image.image.size) == 1000
    assert (image.width, image.height) == (3000, 2000)
