"""Views: the grey-padded global view and the row-major local tiles, checked pixel by pixel."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from vl2ingest.vl2 import PAD_COLOR, ImagePlan, plan_images, prepare_image

GREY = (127, 127, 127)
RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
YELLOW = (255, 255, 0)


def _solid(size: tuple[int, int], color: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", size, color)


def _blocks(
    size: tuple[int, int], grid: tuple[int, int], colors: list[tuple[int, int, int]]
) -> Image.Image:
    """An image cut into grid[0] x grid[1] equal blocks, coloured row-major."""
    image = Image.new("RGB", size)
    block_w, block_h = size[0] // grid[0], size[1] // grid[1]
    for index, color in enumerate(colors):
        col, row = index % grid[0], index // grid[0]
        left, top = col * block_w, row * block_h
        image.paste(color, (left, top, left + block_w, top + block_h))
    return image


def _only_color(image: Image.Image) -> object:
    """The image's single colour, or None when it has more than one."""
    colors = image.getcolors(maxcolors=1)
    return None if colors is None else colors[0][1]


def _plan(size: tuple[int, int]) -> ImagePlan:
    return plan_images([size])[0]


def test_pad_color_is_deepseeks_mean_grey() -> None:
    """The padding grey is int(0.5 * 255) per channel, DeepSeek's image mean."""
    assert PAD_COLOR == GREY == tuple(int(0.5 * 255) for _ in range(3))


def test_wide_red_image_is_padded_top_and_bottom() -> None:
    """A 100x50 red image fills rows 96..287 of the global view; the rest is exact grey."""
    prepared = prepare_image(_solid((100, 50), RED), _plan((100, 50)))
    view = prepared.global_view
    assert (view.mode, view.size) == ("RGB", (384, 384))
    for x in (0, 1, 191, 382, 383):
        assert view.getpixel((x, 0)) == GREY
        assert view.getpixel((x, 95)) == GREY
        assert view.getpixel((x, 96)) == RED
        assert view.getpixel((x, 287)) == RED
        assert view.getpixel((x, 288)) == GREY
        assert view.getpixel((x, 383)) == GREY
    assert sorted(view.getcolors() or []) == sorted([(384 * 192, RED), (384 * 192, GREY)])
    assert view.crop((0, 96, 384, 288)).getcolors() == [(384 * 192, RED)]


def test_tall_red_image_is_padded_left_and_right() -> None:
    """A 50x100 red image fills columns 96..287 of the global view; the rest is grey."""
    view = prepare_image(_solid((50, 100), RED), _plan((50, 100))).global_view
    for y in (0, 200, 383):
        assert view.getpixel((95, y)) == GREY
        assert view.getpixel((96, y)) == RED
        assert view.getpixel((287, y)) == RED
        assert view.getpixel((288, y)) == GREY
    assert view.crop((96, 0, 288, 384)).getcolors() == [(384 * 192, RED)]


def test_small_image_is_upscaled_into_one_tile() -> None:
    """A 100x50 image alone is one local tile identical to its global view."""
    prepared = prepare_image(_solid((100, 50), RED), _plan((100, 50)))
    assert len(prepared.tiles) == 1
    assert prepared.tiles[0].tobytes() == prepared.global_view.tobytes()


def test_two_pixel_image_keeps_its_colours_at_the_edges() -> None:
    """A 2x1 red|blue image keeps red at the left edge, blue at the right, grey above/below."""
    image = Image.new("RGB", (2, 1))
    image.putpixel((0, 0), RED)
    image.putpixel((1, 0), BLUE)
    view = prepare_image(image, _plan((2, 1))).global_view
    for y in (96, 191, 287):
        assert view.getpixel((0, y)) == RED
        assert view.getpixel((383, y)) == BLUE
    for x in (0, 191, 383):
        assert view.getpixel((x, 95)) == GREY
        assert view.getpixel((x, 288)) == GREY
    # Every column is one colour down the image band (a horizontal two-colour blend).
    band = view.crop((0, 96, 384, 288))
    for x in range(384):
        assert band.crop((x, 0, x + 1, 192)).getcolors(maxcolors=1) is not None


def test_quadrants_map_to_tiles_in_row_major_order() -> None:
    """A 768x768 image of four coloured quadrants gives tiles TL, TR, BL, BR, each solid."""
    image = _blocks((768, 768), (2, 2), [RED, GREEN, BLUE, YELLOW])
    plan = _plan((768, 768))
    assert (plan.target_width, plan.target_height, plan.tiles_w, plan.tiles_h) == (768, 768, 2, 2)
    prepared = prepare_image(image, plan)
    assert [_only_color(tile) for tile in prepared.tiles] == [RED, GREEN, BLUE, YELLOW]
    view = prepared.global_view
    corners = [(0, 0), (383, 0), (0, 383), (383, 383)]
    assert [view.getpixel(c) for c in corners] == [RED, GREEN, BLUE, YELLOW]


def test_wide_bands_map_to_tiles_left_to_right() -> None:
    """A 1152x384 image of three bands gives three tiles, left to right."""
    image = _blocks((1152, 384), (3, 1), [RED, GREEN, BLUE])
    plan = _plan((1152, 384))
    assert (plan.tiles_w, plan.tiles_h) == (3, 1)
    prepared = prepare_image(image, plan)
    assert [_only_color(tile) for tile in prepared.tiles] == [RED, GREEN, BLUE]


def test_tall_bands_map_to_tiles_top_to_bottom() -> None:
    """A 384x768 image of two bands gives two tiles, top then bottom."""
    image = _blocks((384, 768), (1, 2), [RED, BLUE])
    prepared = prepare_image(image, _plan((384, 768)))
    assert [_only_color(tile) for tile in prepared.tiles] == [RED, BLUE]


def test_local_view_is_padded_into_the_candidate() -> None:
    """An 800x600 red image in its 1152x768 candidate: red 1024x768 centred, grey 64px sides."""
    plan = _plan((800, 600))
    prepared = prepare_image(_solid((800, 600), RED), plan)
    assert len(prepared.tiles) == 6
    local = Image.new("RGB", (1152, 768))
    for index, tile in enumerate(prepared.tiles):
        local.paste(tile, ((index % 3) * 384, (index // 3) * 384))
    assert local.crop((0, 0, 64, 768)).getcolors() == [(64 * 768, GREY)]
    assert local.crop((64, 0, 1088, 768)).getcolors() == [(1024 * 768, RED)]
    assert local.crop((1088, 0, 1152, 768)).getcolors() == [(64 * 768, GREY)]


def test_padded_layout_gives_one_tile_per_image() -> None:
    """In a three-image turn a large image gets one 384x384 tile next to its global view."""
    plans = plan_images([(1500, 1000), (10, 10), (20, 20)])
    prepared = prepare_image(_solid((1500, 1000), RED), plans[0])
    assert len(prepared.tiles) == 1
    assert prepared.tiles[0].size == (384, 384)


def test_views_match_deepseeks_imageops_pad_call() -> None:
    """Views equal ImageOps.pad with Pillow's default filter (BICUBIC), as DeepSeek calls it."""
    image = Image.linear_gradient("L").resize((300, 170)).convert("RGB")
    image.putpixel((5, 5), RED)
    plan = _plan((300, 170))
    prepared = prepare_image(image, plan)
    expected_global = ImageOps.pad(image, (384, 384), color=GREY)
    expected_local = ImageOps.pad(image, (plan.target_width, plan.target_height), color=GREY)
    assert prepared.global_view.tobytes() == expected_global.tobytes()
    assert prepared.tiles[0].tobytes() == expected_local.crop((0, 0, 384, 384)).tobytes()


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16"])
def test_other_modes_are_converted_to_rgb(mode: str) -> None:
    """Images in other modes come out as RGB views and tiles."""
    image = Image.new("RGB", (40, 30), (200, 200, 200)).convert(mode)
    prepared = prepare_image(image, _plan((40, 30)))
    assert prepared.global_view.mode == "RGB"
    assert all(tile.mode == "RGB" for tile in prepared.tiles)


def test_grey_l_image_keeps_its_value() -> None:
    """A solid grey L image converts to the same grey in RGB."""
    image = Image.new("L", (384, 384), 200)
    prepared = prepare_image(image, _plan((384, 384)))
    assert _only_color(prepared.tiles[0]) == (200, 200, 200)


def test_plan_for_another_size_is_refused() -> None:
    """An image whose size differs from the plan's is refused."""
    with pytest.raises(ValueError, match="plan is for"):
        prepare_image(_solid((100, 50), RED), _plan((50, 100)))


def test_input_image_is_not_modified() -> None:
    """Preparing views leaves the caller's image untouched."""
    image = _solid((100, 50), RED)
    before = image.tobytes()
    prepare_image(image, _plan((100, 50)))
    assert image.tobytes() == before
    assert image.size == (100, 50)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 1600), st.integers(1, 1600)), min_size=1, max_size=3))
def test_every_view_is_a_384_rgb_square(turn: list[tuple[int, int]]) -> None:
    """Any image gives a 384x384 RGB global view and tiles_w*tiles_h 384x384 RGB tiles."""
    for size, plan in zip(turn, plan_images(turn), strict=True):
        prepared = prepare_image(_solid(size, GREEN), plan)
        assert (prepared.global_view.mode, prepared.global_view.size) == ("RGB", (384, 384))
        assert len(prepared.tiles) == plan.tiles_w * plan.tiles_h
        assert all((t.mode, t.size) == ("RGB", (384, 384)) for t in prepared.tiles)
