"""The tile geometry of DeepSeek-VL2 and its candidate resolutions.

DeepSeek-VL2 cuts an image into 384x384 tiles. The resolutions it may cut into are every
(384·a, 384·b) with a·b <= 9, listed in the order of the model's ``candidate_resolutions``
config; that order decides exact ties in the resolution selection (see ``planner``).
"""

from __future__ import annotations

TILE_SIZE = 384
"""Side of one tile (and of the global view), in pixels."""

MAX_TILES = 9
"""Largest number of local tiles one image may be cut into (a·b <= 9)."""


def generate_candidates(
    tile_size: int = TILE_SIZE, max_tiles: int = MAX_TILES
) -> tuple[tuple[int, int], ...]:
    """Every (tile_size·a, tile_size·b) with a·b <= max_tiles, in DeepSeek-VL2's order.

    The order is: by tile count a·b; within one count, by divisor d = 1, 2, ... up to the
    square root, giving (d, count/d) before (count/d, d), i.e. tall before wide.
    """
    out: list[tuple[int, int]] = []
    for count in range(1, max_tiles + 1):
        divisor = 1
        while divisor * divisor <= count:
            if count % divisor == 0:
                other = count // divisor
                out.append((tile_size * divisor, tile_size * other))
                if other != divisor:
                    out.append((tile_size * other, tile_size * divisor))
            divisor += 1
    return tuple(out)


CANDIDATE_RESOLUTIONS: tuple[tuple[int, int], ...] = generate_candidates()
"""(width, height) pairs, in selection order; 23 of them."""
