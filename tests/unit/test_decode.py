"""Image decoding: content sniffing, bomb guard, EXIF orientation, draft scaling, RGB."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from vl2ingest.errors import ImageTooManyPixels, ImageUndecodable
from vl2ingest.imaging.decode import decode_image


def encoded(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_format_is_sniffed_from_content_not_name() -> None:
    """PNG bytes decode as PNG whatever they are called; the result is RGB."""
    decoded = decode_image(
        encoded(Image.new("L", (30, 20), 128), "PNG"), max_pixels=10**6, max_side=None
    )
    assert (decoded.format, decoded.width, decoded.height) == ("PNG", 30, 20)
    assert decoded.image.mode == "RGB"


def test_pixel_limit_is_checked_before_decoding() -> None:
    """An image over the pixel limit is rejected as image_too_many_pixels."""
    data = encoded(Image.new("RGB", (2000, 2000)), "PNG")
    with pytest.raises(ImageTooManyPixels):
        decode_image(data, max_pixels=1_000_000, max_side=None)


@pytest.mark.parametrize("data", [b"", b"GIF89a-truncated", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_garbage_is_undecodable(data: bytes) -> None:
    """Empty, unknown and truncated bytes raise image_undecodable, never anything else."""
    with pytest.raises(ImageUndecodable):
        decode_image(data, max_pixels=10**6, max_side=None)


def test_exif_rotation_is_applied_and_reported_in_original_size() -> None:
    """A 40x10 JPEG tagged 'rotate 90' decodes as 10x40 and reports 10x40."""
    image = Image.new("RGB", (40, 10), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_image(encoded(image, "JPEG", exif=exif), max_pixels=10**6, max_side=None)
    assert (decoded.width, decoded.height) == (10, 40)
    assert decoded.image.size == (10, 40)


def test_large_jpeg_is_reduced_but_keeps_original_size() -> None:
    """A 4000x3000 JPEG is decoded to at most max_side while width/height stay original."""
    data = encoded(Image.new("RGB", (4000, 3000), (10, 200, 10)), "JPEG", quality=80)
    decoded = decode_image(data, max_pixels=10**8, max_side=1000)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert max(decoded.image.size) == 1000


def test_transparency_is_flattened_onto_white() -> None:
    """A fully transparent PNG becomes white RGB (documents read best that way)."""
    data = encoded(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "PNG")
    decoded = decode_image(data, max_pixels=10**6, max_side=None)
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)
