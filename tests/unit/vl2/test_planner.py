"""Tiling plans: candidate resolutions, resolution selection, layouts and image tokens."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vl2ingest.vl2 import (
    CANDIDATE_RESOLUTIONS,
    ImagePlan,
    image_token_count,
    plan_images,
    select_resolution,
)
from vl2ingest.vl2.candidates import generate_candidates

FAST = settings(max_examples=200, deadline=None)

LITERAL_CANDIDATES = (
    (384, 384), (384, 768), (768, 384), (384, 1152), (1152, 384), (384, 1536), (1536, 384),
    (768, 768), (384, 1920), (1920, 384), (384, 2304), (2304, 384), (768, 1152), (1152, 768),
    (384, 2688), (2688, 384), (384, 3072), (3072, 384), (768, 1536), (1536, 768),
    (384, 3456), (3456, 384), (1152, 1152),
)  # fmt: skip

sizes = st.tuples(st.integers(1, 5000), st.integers(1, 5000))


def _effective(size: tuple[int, int], cand: tuple[int, int]) -> int:
    width, height = size
    scale = min(cand[0] / width, cand[1] / height)
    return min(int(width * scale) * int(height * scale), width * height)


def test_generated_candidates_equal_the_literal_list() -> None:
    """The rule-generated candidate list is DeepSeek-VL2's list, in the same order."""
    assert generate_candidates() == LITERAL_CANDIDATES
    assert CANDIDATE_RESOLUTIONS == LITERAL_CANDIDATES


def test_candidates_are_every_grid_of_at_most_nine_tiles() -> None:
    """The candidates are exactly every (384a, 384b) with a*b <= 9, each once."""
    expected = {(384 * a, 384 * b) for a in range(1, 10) for b in range(1, 10) if a * b <= 9}
    assert set(CANDIDATE_RESOLUTIONS) == expected
    assert len(CANDIDATE_RESOLUTIONS) == len(expected)


@pytest.mark.parametrize(
    ("tiles_w", "tiles_h", "tokens"),
    [(1, 1, 421), (3, 2, 1415), (2, 3, 1429), (4, 2, 1807), (3, 3, 2017), (8, 1, 1793),
     (1, 9, 2101)],
)  # fmt: skip
def test_image_tokens_golden_table(tiles_w: int, tiles_h: int, tokens: int) -> None:
    """The token count reproduces the golden table (tw x th -> tokens)."""
    assert image_token_count(tiles_w, tiles_h) == tokens


@pytest.mark.parametrize(
    ("tiles_w", "tiles_h"), [(w, h) for w in range(1, 10) for h in range(1, 10)]
)
def test_image_tokens_closed_form(tiles_w: int, tiles_h: int) -> None:
    """The token count equals 211 + 14*th*(14*tw + 1) for every tile grid."""
    assert image_token_count(tiles_w, tiles_h) == 211 + 14 * tiles_h * (14 * tiles_w + 1)


def test_image_tokens_rejects_empty_grid() -> None:
    """A tile grid with no tiles is refused."""
    with pytest.raises(ValueError, match="tile counts"):
        image_token_count(0, 1)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((100, 100), (384, 384)),  # small: upscaled into one tile
        ((384, 384), (384, 384)),  # exactly one tile
        ((385, 384), (768, 384)),  # one pixel too wide: smallest candidate that holds it
        ((384, 385), (384, 768)),
        ((800, 600), (1152, 768)),  # holds 800x600 at scale 1.28, least waste among holders
        ((600, 800), (768, 1152)),
        ((1000, 3000), (768, 1536)),  # nothing holds it: scale .512 keeps 512x1536
        ((1920, 1080), (1536, 768)),  # scale .711 keeps 1365x768
        ((4000, 50), (3456, 384)),  # very wide strip
        ((50, 4000), (384, 3456)),
        ((1, 100_000), (384, 384)),  # degenerate: every candidate keeps 0 px (see docstring)
    ],
)
def test_selection_examples(size: tuple[int, int], expected: tuple[int, int]) -> None:
    """Hand-checked images select the expected candidate resolution."""
    assert select_resolution(*size) == expected


def test_exact_tie_goes_to_the_earlier_candidate() -> None:
    """When effective and wasted tie, the candidate listed first wins."""
    assert select_resolution(500, 500, [(384, 768), (768, 384)]) == (384, 768)
    assert select_resolution(500, 500, [(768, 384), (384, 768)]) == (768, 384)


def test_equal_effective_goes_to_the_least_waste() -> None:
    """When effective resolutions tie, the smaller wasted area wins over list order."""
    assert select_resolution(100, 100, [(768, 768), (384, 384)]) == (384, 384)


def test_plan_for_800x600_is_three_by_two() -> None:
    """An 800x600 image alone in a turn is tiled 3x2 and costs 1415 tokens."""
    assert plan_images([(800, 600)]) == [
        ImagePlan(
            width=800,
            height=600,
            target_width=1152,
            target_height=768,
            tiles_w=3,
            tiles_h=2,
            image_tokens=1415,
            layout="tiled",
        )
    ]


@pytest.mark.parametrize("count", [1, 2])
def test_one_or_two_images_are_tiled(count: int) -> None:
    """A turn with at most two images tiles each image."""
    plans = plan_images([(3000, 3000)] * count)
    assert [p.layout for p in plans] == ["tiled"] * count
    assert all((p.tiles_w, p.tiles_h, p.image_tokens) == (3, 3, 2017) for p in plans)


@pytest.mark.parametrize("count", [3, 4, 9, 16])
def test_three_or_more_images_are_padded(count: int) -> None:
    """A turn with three or more images pads every image into one 384x384 tile."""
    plans = plan_images([(3000, 3000), (10, 10), (4000, 50)] + [(800, 600)] * (count - 3))
    assert len(plans) == count
    for plan in plans:
        assert plan.layout == "padded"
        assert (plan.target_width, plan.target_height) == (384, 384)
        assert (plan.tiles_w, plan.tiles_h, plan.tile_count, plan.image_tokens) == (1, 1, 1, 421)


def test_plans_keep_original_sizes_in_order() -> None:
    """Each plan carries its image's original size, in the order given."""
    plans = plan_images([(10, 20), (30, 40)])
    assert [(p.width, p.height) for p in plans] == [(10, 20), (30, 40)]


def test_empty_turn_is_refused() -> None:
    """A turn without images is refused."""
    with pytest.raises(ValueError, match="at least one image"):
        plan_images([])


@pytest.mark.parametrize("size", [(0, 10), (10, 0), (-5, 10), (10, -1)])
def test_non_positive_sizes_are_refused(size: tuple[int, int]) -> None:
    """A zero or negative width or height is refused."""
    with pytest.raises(ValueError, match="positive"):
        plan_images([(100, 100), size])


def test_non_int_sizes_are_refused() -> None:
    """A size that is not an int (a float or a bool) is refused."""
    with pytest.raises(TypeError):
        plan_images([(100.0, 100)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        plan_images([(True, 100)])


@FAST
@given(st.lists(sizes, min_size=1, max_size=2))
def test_tiled_target_is_a_candidate(turn: list[tuple[int, int]]) -> None:
    """Every tiled plan's target is a candidate and its tiles and tokens follow from it."""
    for plan in plan_images(turn):
        assert (plan.target_width, plan.target_height) in CANDIDATE_RESOLUTIONS
        assert plan.tiles_w * 384 == plan.target_width
        assert plan.tiles_h * 384 == plan.target_height
        assert plan.tile_count <= 9
        assert plan.image_tokens == 211 + 14 * plan.tiles_h * (14 * plan.tiles_w + 1)


@FAST
@given(sizes)
def test_selection_keeps_the_most_pixels(size: tuple[int, int]) -> None:
    """The chosen candidate keeps as many pixels as any candidate, and wastes least among those."""
    chosen = select_resolution(*size)
    best = max(_effective(size, c) for c in CANDIDATE_RESOLUTIONS)
    assert _effective(size, chosen) == best
    ties = [c for c in CANDIDATE_RESOLUTIONS if _effective(size, c) == best]
    assert chosen[0] * chosen[1] - best == min(w * h - best for w, h in ties)
    first_least_waste = next(c for c in ties if c[0] * c[1] == chosen[0] * chosen[1])
    assert chosen == first_least_waste


@FAST
@given(st.tuples(st.integers(1, 1152), st.integers(1, 3456)))
def test_images_that_fit_get_the_smallest_holder(size: tuple[int, int]) -> None:
    """An image some candidate holds gets the smallest-area candidate holding it natively."""
    width, height = size
    holders = [(w, h) for w, h in CANDIDATE_RESOLUTIONS if width <= w and height <= h]
    if not holders:
        return
    chosen = select_resolution(width, height)
    assert width <= chosen[0]
    assert height <= chosen[1]
    assert chosen[0] * chosen[1] == min(w * h for w, h in holders)


@FAST
@given(st.lists(sizes, min_size=3, max_size=12))
def test_padded_layout_is_always_one_tile(turn: list[tuple[int, int]]) -> None:
    """With three or more images every plan is 384x384, one tile, 421 tokens."""
    for plan in plan_images(turn):
        assert (plan.layout, plan.target_width, plan.target_height) == ("padded", 384, 384)
        assert plan.image_tokens == 421
