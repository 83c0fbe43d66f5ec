"""Decode once: the decode stage's reduced copy, its bounds, and its errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from crowdlens import schema as S
from crowdlens.decode import unpack_pixels
from crowdlens.quality.config import QualityConfig
from crowdlens.stages.decode import CHECK_SIZE, decode_row
from crowdlens.stages.quality import assess_photo

PHOTO = Path(__file__).resolve().parents[1] / "data" / "imagenet" / "orange.jpg"


def _encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, quality=90) if fmt == "JPEG" else image.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def phone_photo() -> Image.Image:
    """The orange photo at phone size, 4000 x 3000."""
    return Image.open(PHOTO).convert("RGB").resize((4000, 3000), Image.Resampling.BILINEAR)


def test_a_phone_jpeg_is_shared_at_the_dct_scale_the_stages_need(phone_photo):
    row = decode_row(
        _encode(phone_photo, "JPEG"), None, 50_000_000, draft_size=(512, 512), share=True
    )
    assert (row[S.STATUS], row[S.WIDTH], row[S.HEIGHT]) == (S.STATUS_OK, 4000, 3000)
    assert row[S.PIXELS_SIZE] == [1000, 750]  # 1/4 scale: the coarsest keeping 512 x 512
    assert unpack_pixels(row[S.PIXELS], row[S.PIXELS_SIZE]).size == (1000, 750)


def test_a_photo_draft_cannot_shrink_is_bounded_all_the_same(phone_photo):
    row = decode_row(
        _encode(phone_photo, "PNG"), None, 50_000_000, draft_size=(512, 512), share=True
    )
    assert row[S.STATUS] == S.STATUS_OK and row[S.PIXELS_SIZE] == [800, 600]


def test_the_check_scale_refuses_what_a_full_decode_refuses():
    data = PHOTO.read_bytes()
    cut = data[: len(data) // 3]
    full = decode_row(cut, None, 50_000_000)
    coarse = decode_row(cut, None, 50_000_000, draft_size=CHECK_SIZE)
    assert full[S.STATUS] == coarse[S.STATUS] == S.STATUS_ERROR
    assert coarse[S.ERROR] == full[S.ERROR] and "truncated" in coarse[S.ERROR]
    assert S.PIXELS not in coarse  # nothing shared unless asked


def test_quality_from_the_shared_copy_equals_quality_from_the_bytes(phone_photo):
    data = _encode(phone_photo, "JPEG")
    cfg = QualityConfig()
    size = (cfg.analysis_size, cfg.analysis_size)
    row = decode_row(data, None, 50_000_000, draft_size=size, share=True)
    shared = unpack_pixels(row[S.PIXELS], row[S.PIXELS_SIZE])
    from_bytes = assess_photo(data, S.STATUS_OK, 4000, 3000, cfg)
    from_copy = assess_photo(None, S.STATUS_OK, 4000, 3000, cfg, image=shared)  # no bytes at all
    assert from_copy == from_bytes and from_copy[S.QUALITY_ERROR] is None
