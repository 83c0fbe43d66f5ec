"""Real grocery photos with a rendered sticker: redaction holds on real backgrounds."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image, ImageDraw
from text_helpers import font

from crowdlens.text.config import TextConfig
from crowdlens.text.gate import get_gate
from crowdlens.text.photo import read_photo
from crowdlens.text.redact import redact


@pytest.mark.slow  # two real photos at phone size through OCR three times each
def test_sticker_on_real_photo_is_redacted_and_price_kept(shared_data, ocr, analyzer):
    files = sorted((shared_data / "val").rglob("*.jpg"))[:2]
    for path in files:
        photo = Image.open(path).convert("RGB").resize((1200, 1200), Image.BICUBIC)
        sticker = Image.new("RGBA", (620, 250), (255, 250, 235, 255))
        draw = ImageDraw.Draw(sticker)
        f = font(44)
        draw.text((20, 15), "Maria Garcia", fill=(0, 0, 0, 255), font=f)
        draw.text((20, 95), "+33 6 12 34 56 78", fill=(0, 0, 0, 255), font=f)
        draw.text((20, 175), "Prix 2,99 €", fill=(0, 0, 0, 255), font=f)
        rotated = sticker.rotate(12, expand=True)
        photo.paste(rotated, (300, 500), rotated)

        rgb = np.asarray(photo)
        found = read_photo(
            rgb, TextConfig(), ocr=ocr, analyzer=analyzer, gate=get_gate(960, 0.3, 2)
        )
        assert {"PERSON", "PHONE_NUMBER"} <= set(found.pii_types), path
        after = "\n".join(ln.text for ln in ocr.read(np.asarray(redact(photo, found.cover))))
        assert "Garcia" not in after and "34 56" not in after
        red = np.asarray(redact(photo, found.cover))
        for cover in found.cover:  # and on each covered region alone
            (x0, y0), (x1, y1) = np.asarray(cover).min(0).astype(int), np.asarray(cover).max(0)
            there = " ".join(
                ln.text for ln in ocr.read(red[max(y0, 0) : int(y1), max(x0, 0) : int(x1)])
            )
            assert "Garcia" not in there and "34 56" not in there, there
        # The price stays readable where it was (OCR may read the comma as a dot on
        # some backgrounds). Read on its own line's region: on the whole redacted
        # photo, DB detection next to a blurred block is fickle (with the int8 gate's
        # cover, it finds no line at all on one of these photos although the price is
        # untouched), and what matters here is that the cover left the price alone.
        (price,) = [ln for ln in found.lines if "Prix" in ln.text]
        x0, y0 = np.asarray(price.polygon).min(0).astype(int) - 10
        x1, y1 = np.asarray(price.polygon).max(0).astype(int) + 10
        kept = red[y0:y1, x0:x1]
        assert "299" in re.sub(r"\D", "", " ".join(ln.text for ln in ocr.read(kept)))
