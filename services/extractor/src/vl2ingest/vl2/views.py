"""Turn one image into the views DeepSeek-VL2 sees: a global view, then local tiles.

This mirrors ``tokenize_with_images`` in DeepSeek-VL2's processor:

* global view: ``ImageOps.pad(image, (384, 384), color=(127, 127, 127))``;
* local view: ``ImageOps.pad(image, (target_width, target_height), color=...)``, cut into
  384x384 tiles row by row (left to right, then top to bottom).

``ImageOps.pad`` resizes with ``ImageOps.contain`` (aspect preserved; the scaled side is
``round(...)``, not ``int(...)``) and pastes the result centred on a grey canvas. The grey is
DeepSeek's ``tuple(int(x * 255) for x in image_mean)`` with mean 0.5, i.e. (127, 127, 127).

Resample filter: BICUBIC. DeepSeek calls ``ImageOps.pad`` without ``method``, so it gets
Pillow's default, BICUBIC; we pass it explicitly so a change of Pillow's default cannot
silently change what the model sees. The model was trained on exactly these pixels.

Images are converted to RGB first (DeepSeek's ``load_pil_images`` does ``convert("RGB")``).
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageOps

from vl2ingest.vl2.candidates import TILE_SIZE
from vl2ingest.vl2.planner import ImagePlan

PAD_COLOR: tuple[int, int, int] = (127, 127, 127)
"""Grey canvas colour around a fitted image: int(0.5 * 255) per channel."""

RESAMPLE = Image.Resampling.BICUBIC
"""Resample filter used to fit images; DeepSeek-VL2 relies on ImageOps.pad's default."""


@dataclass(frozen=True, slots=True)
class ImageViews:
    """The views of one image: ``global_view`` (384x384 RGB) and row-major ``tiles``."""

    global_view: Image.Image
    tiles: tuple[Image.Image, ...]


def fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The image fitted into ``size`` (aspect kept), centred on a grey canvas, in RGB."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return ImageOps.pad(rgb, size, method=RESAMPLE, color=PAD_COLOR)


def prepare_image(image: Image.Image, plan: ImagePlan) -> ImageViews:
    """The global view and the local tiles of ``image``, as ``plan`` says.

    ``image`` is the image the plan was made for, or a reduced copy of it with the same aspect
    ratio (e.g. from DCT-domain draft decoding of a large JPEG): views of a reduced copy equal
    the reference views up to resampling differences, at a fraction of the decode cost.
    Raises ValueError for any other image.
    """
    if not _same_image_shape(image.size, (plan.width, plan.height)):
        raise ValueError(
            f"image is {image.width}x{image.height} but the plan is for {plan.width}x{plan.height}"
        )
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    global_view = fit(rgb, (TILE_SIZE, TILE_SIZE))
    local_view = fit(rgb, (plan.target_width, plan.target_height))
    tiles = tuple(
        local_view.crop((left, top, left + TILE_SIZE, top + TILE_SIZE))
        for top in range(0, plan.target_height, TILE_SIZE)
        for left in range(0, plan.target_width, TILE_SIZE)
    )
    return ImageViews(global_view=global_view, tiles=tiles)


def _same_image_shape(size: tuple[int, int], planned: tuple[int, int]) -> bool:
    """The planned size itself, or a reduction of it keeping the aspect ratio (±1 px)."""
    (width, height), (plan_w, plan_h) = size, planned
    if size == planned:
        return True
    if width > plan_w or height > plan_h:
        return False
    # |w/h - W/H| within one pixel of rounding at the reduced scale.
    return abs(width * plan_h - height * plan_w) <= max(plan_w, plan_h)
