"""Helpers for the text tests: photos with rendered text, made in the test."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

FONT_DIRS = ("/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/dejavu")

#: What the generated photo carries: personal information and plain text.
PII_LINES = {
    "PERSON": "John Smith",
    "PHONE_NUMBER": "+44 20 7946 0958",
    "EMAIL_ADDRESS": "maria.lopez@correo.es",
}
PLAIN_LINES = ("Price 3.45", "Organic Milk 1L")


def font(size: int):
    from PIL import ImageFont

    for folder in FONT_DIRS:
        for name in ("LiberationSans-Regular.ttf", "DejaVuSans.ttf"):
            path = Path(folder) / name
            if path.is_file():
                return ImageFont.truetype(str(path), size)
    pytest.skip("no TrueType font (fonts-liberation or fonts-dejavu-core) is installed")


def render(lines, size=(900, 560), background=(235, 230, 220)):
    """An RGB photo-like image with one text line every 80 pixels."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(im)
    f = font(34)
    for i, text in enumerate(lines):
        draw.text((40, 40 + 80 * i), text, fill=(10, 10, 10), font=f)
    return im


def jpeg_with_gps(im) -> bytes:
    """JPEG bytes carrying an EXIF GPS block, as a phone would write them."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95, exif=exif)
    return buf.getvalue()
