"""Plan how each image of one turn is cut into tiles, and what it costs in tokens.

The rules are those of DeepSeek-VL2's processor (``select_best_resolution`` and
``tokenize_with_images`` in ``deepseek_vl2/models/processing_deepseek_vl_v2.py``):

* a turn with at most 2 images is *tiled*: each image gets the candidate resolution that
  keeps the most of its pixels (``select_resolution``);
* a turn with 3 or more images is *padded*: every image becomes one 384x384 tile;
* the image costs ``h·(w+1) + 1 + th·h·(tw·w + 1)`` tokens, with h = w = 14 tokens per tile
  side: the global view (14 rows of 14 tokens plus a row separator), one separator between
  views, and the local tiles laid out as th·14 rows of tw·14 tokens plus a row separator.
  That is ``211 + 14·th·(14·tw + 1)``: 421 for one tile, 2017 for 3x3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from vl2ingest.vl2.candidates import CANDIDATE_RESOLUTIONS, TILE_SIZE

Layout = Literal["tiled", "padded"]

MAX_TILED_IMAGES = 2
"""A turn with more images than this is padded (no tiling), as in DeepSeek-VL2."""

PATCH_SIZE = 14
"""SigLIP patch side, in pixels."""

DOWNSAMPLE_RATIO = 2
"""The vision-language adaptor merges 2x2 patches into one token."""

TOKENS_PER_TILE_SIDE = math.ceil((TILE_SIZE // PATCH_SIZE) / DOWNSAMPLE_RATIO)
"""14: tokens along one side of a 384x384 view."""


@dataclass(frozen=True, slots=True)
class ImagePlan:
    """How one image is fed to the model.

    ``width``/``height`` are the original size; ``target_width``/``target_height`` the
    resolution of the local view (a candidate resolution, or 384x384 when padded);
    ``tiles_w``/``tiles_h`` the local tiles across and down.
    """

    width: int
    height: int
    target_width: int
    target_height: int
    tiles_w: int
    tiles_h: int
    image_tokens: int
    layout: Layout

    @property
    def tile_count(self) -> int:
        """Number of local tiles (the global view not counted)."""
        return self.tiles_w * self.tiles_h


def image_token_count(tiles_w: int, tiles_h: int) -> int:
    """Image tokens for one image whose local view is tiles_w x tiles_h tiles."""
    if tiles_w < 1 or tiles_h < 1:
        raise ValueError(f"tile counts must be >= 1, got {tiles_w}x{tiles_h}")
    side = TOKENS_PER_TILE_SIDE
    global_view = side * (side + 1)
    separator = 1
    local_view = (tiles_h * side) * (tiles_w * side + 1)
    return global_view + separator + local_view


def select_resolution(
    width: int,
    height: int,
    candidates: Sequence[tuple[int, int]] = CANDIDATE_RESOLUTIONS,
) -> tuple[int, int]:
    """The candidate (w, h) for an image of (width, height), exactly as DeepSeek-VL2 picks it.

    For each candidate in order: scale = min(w/width, h/height); effective =
    min(int(width·scale)·int(height·scale), width·height); wasted = w·h - effective. The first
    candidate with the largest effective wins; ties go to the smaller wasted. The arithmetic is
    the same float arithmetic as DeepSeek's, so rounding matches too.

    One deviation: DeepSeek's loop starts from effective 0 with a strict ">" and returns None
    (then crashes) when every candidate's effective is 0 (an image like 1x100000). Here the
    first candidate with the least waste, (384, 384), is returned instead.
    """
    _check_size(width, height)
    if not candidates:
        raise ValueError("no candidate resolutions")
    best: tuple[int, int] | None = None
    best_effective = -1
    best_wasted = 0
    for cand_w, cand_h in candidates:
        scale = min(cand_w / width, cand_h / height)
        scaled_w, scaled_h = int(width * scale), int(height * scale)
        effective = min(scaled_w * scaled_h, width * height)
        wasted = cand_w * cand_h - effective
        if effective > best_effective or (effective == best_effective and wasted < best_wasted):
            best = (cand_w, cand_h)
            best_effective = effective
            best_wasted = wasted
    if best is None:  # pragma: no cover - candidates is non-empty
        raise ValueError("no candidate resolutions")
    return best


def plan_images(sizes: Sequence[tuple[int, int]]) -> list[ImagePlan]:
    """One plan per image of ONE turn, from each image's (width, height), in order."""
    if not sizes:
        raise ValueError("a turn needs at least one image")
    for width, height in sizes:
        _check_size(width, height)
    return [plan_image(width, height, turn_size=len(sizes)) for width, height in sizes]


def plan_image(width: int, height: int, *, turn_size: int) -> ImagePlan:
    """The plan of one image in a turn of ``turn_size`` images (the layout depends on it).

    ``plan_images`` is this applied to every image of a turn; it lets a worker plan an image as
    soon as its header is read, without waiting for the other images of the turn.
    """
    _check_size(width, height)
    if turn_size < 1:
        raise ValueError(f"turn_size must be >= 1, got {turn_size}")
    layout: Layout = "tiled" if turn_size <= MAX_TILED_IMAGES else "padded"
    if layout == "tiled":
        target_w, target_h = select_resolution(width, height)
    else:
        target_w, target_h = TILE_SIZE, TILE_SIZE
    tiles_w, tiles_h = target_w // TILE_SIZE, target_h // TILE_SIZE
    return ImagePlan(
        width=width,
        height=height,
        target_width=target_w,
        target_height=target_h,
        tiles_w=tiles_w,
        tiles_h=tiles_h,
        image_tokens=image_token_count(tiles_w, tiles_h),
        layout=layout,
    )


def _check_size(width: int, height: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if type(value) is not int:
            raise TypeError(f"image {name} must be an int, got {type(value).__name__}")
        if value < 1:
            raise ValueError(f"image {name} must be positive, got {value}")
