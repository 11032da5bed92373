"""Regenerate the bundled demo images (committed under scripts/demo/samples/).

They are rendered with Pillow's bundled font so anyone can reproduce them byte-for-byte with the
locked environment: ``uv run python scripts/demo/make_samples.py``.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

OUT = Path(__file__).parent / "samples"


def receipt() -> Image.Image:
    image = Image.new("RGB", (520, 760), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    title = ImageFont.load_default(size=40)
    body = ImageFont.load_default(size=28)
    draw.text((130, 30), "CORNER CAFE", fill="black", font=title)
    lines = [
        "12 Harbour Street",
        "",
        "Flat white        3.40",
        "Croissant         2.80",
        "Orange juice      4.10",
        "",
        "TOTAL            10.30",
        "VISA ****4711",
        "Thank you!",
    ]
    for i, line in enumerate(lines):
        draw.text((40, 120 + i * 60), line, fill="black", font=body)
    return image


def document_page() -> Image.Image:
    image = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(image)
    heading = ImageFont.load_default(size=44)
    body = ImageFont.load_default(size=26)
    draw.text((70, 70), "Quarterly Report", fill="black", font=heading)
    paragraphs = [
        "Revenue grew 18 percent in the third quarter,",
        "driven by new customers in the north region.",
        "",
        "Region      Q2      Q3",
        "North       120     151",
        "South        98     104",
        "",
        "Next review: 15 January",
    ]
    for i, line in enumerate(paragraphs):
        draw.text((70, 180 + i * 50), line, fill="black", font=body)
    draw.rectangle((60, 560, 790, 700), outline="black", width=2)
    return image


def sign_photo() -> Image.Image:
    rng = random.Random(7)  # noqa: S311  # reproducible texture, not cryptography
    image = Image.new("RGB", (1024, 768))
    pixels = image.load()
    assert pixels is not None
    for y in range(768):
        for x in range(0, 1024, 4):
            shade = 90 + y // 8 + rng.randint(-12, 12)
            for dx in range(4):
                pixels[x + dx, y] = (shade // 2, shade, shade // 2 + 20)
    draw = ImageDraw.Draw(image)
    draw.rectangle((230, 240, 800, 520), fill=(20, 90, 40), outline="white", width=8)
    font = ImageFont.load_default(size=64)
    draw.text((290, 300), "PLATFORM 9", fill="white", font=font)
    draw.text((290, 400), "EXIT  ->", fill="white", font=font)
    return image.filter(ImageFilter.GaussianBlur(0.8))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    receipt().save(OUT / "receipt.png", optimize=True)
    document_page().save(OUT / "document-page.png", optimize=True)
    sign_photo().save(OUT / "sign-photo.jpg", quality=85)


if __name__ == "__main__":
    main()
