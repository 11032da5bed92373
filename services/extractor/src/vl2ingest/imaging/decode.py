"""Safe decoding: sniff the content, refuse bombs before decoding, orient, convert to RGB.

The format is detected from the bytes (never the key's extension). The pixel count is checked
from the header before any pixel is decoded. Large JPEGs are decoded with DCT-domain scaling
(``draft``), which costs a fraction of a full decode when the engine wants fewer pixels.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from vl2ingest.errors import ImageTooManyPixels, ImageUndecodable

ALLOWED_FORMATS: Final = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"})
_TRANSPOSED_ORIENTATIONS: Final = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION: Final = 0x0112


@dataclass(frozen=True, slots=True)
class OpenedImage:
    """An image whose header has been read and checked; no pixel decoded yet."""

    handle: Image.Image
    width: int
    """Original width after EXIF orientation (what boxes are relative to)."""
    height: int
    format: str


@dataclass(frozen=True, slots=True)
class DecodedImage:
    image: Image.Image
    """RGB pixels, oriented, at most ``max_side`` on the longest side."""
    width: int
    """Original width after EXIF orientation (what boxes are relative to)."""
    height: int
    format: str


def open_image(data: bytes, *, max_pixels: int) -> OpenedImage:
    """Sniff the format and check the pixel count from the header alone."""
    if not data:
        raise ImageUndecodable("the object is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # We enforce our own (stricter) pixel limit below; Pillow's warning is redundant.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooManyPixels(str(exc)) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageUndecodable(f"not a supported image: {exc}") from exc
    fmt = image.format or "unknown"
    if fmt not in ALLOWED_FORMATS:
        raise ImageUndecodable(f"image format {fmt} is not accepted")
    raw_w, raw_h = image.size
    if raw_w * raw_h > max_pixels:
        raise ImageTooManyPixels(
            f"{raw_w}x{raw_h} = {raw_w * raw_h} pixels exceeds the limit of {max_pixels}"
        )
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError):
        orientation = 1  # unreadable EXIF: keep the pixels as stored
    width, height = (raw_h, raw_w) if orientation in _TRANSPOSED_ORIENTATIONS else (raw_w, raw_h)
    return OpenedImage(handle=image, width=width, height=height, format=fmt)


def load_image(opened: OpenedImage, *, max_side: int | None) -> DecodedImage:
    """Decode the pixels: DCT draft for large JPEGs, orient, RGB, shrink to ``max_side``."""
    image = opened.handle
    raw_w, raw_h = image.size
    try:
        if max_side is not None and opened.format == "JPEG" and max(raw_w, raw_h) > max_side:
            scale = max_side / max(raw_w, raw_h)
            # draft() picks the largest DCT scale (1/2, 1/4, 1/8) still >= the requested size.
            image.draft("RGB", (max(1, int(raw_w * scale)), max(1, int(raw_h * scale))))
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # no copy when nothing to rotate
        if image.mode != "RGB":
            image = _to_rgb(image)
        if max_side is not None and max(image.size) > max_side:
            image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=2.0)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageUndecodable(f"the image data is corrupt: {exc}") from exc
    return DecodedImage(image=image, width=opened.width, height=opened.height, format=opened.format)


def decode_image(data: bytes, *, max_pixels: int, max_side: int | None) -> DecodedImage:
    """:func:`open_image` then :func:`load_image`."""
    return load_image(open_image(data, max_pixels=max_pixels), max_side=max_side)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flatten transparency onto white (documents and screenshots read best that way)."""
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
