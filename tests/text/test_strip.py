"""Lossless metadata-free JPEG release (crowdlens.text.strip), on a real photo of the sample."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crowdlens.text.strip import KEPT, NotLossless, check_stripped, markers, release_bytes

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample" / "photos"
SECRET = b"Ana Lopez, 48.8566 N 2.3522 E"
TRAILER = b"MotionPhoto_Data" + b"\x00video" * 50


def segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(body) + 2).to_bytes(2, "big") + body


def with_metadata(data: bytes) -> bytes:
    """``data`` with EXIF (GPS), XMP, an ICC profile, a comment and trailing bytes injected."""
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    xmp = b"<x:xmpmeta><exif:GPSLatitude>48,51.4N</exif:GPSLatitude></x:xmpmeta>"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    extra = (
        segment(0xE1, exif.tobytes())
        + segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp)
        + segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + icc)
        + segment(0xFE, SECRET)
    )
    return data[:2] + extra + data[2:] + TRAILER


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


@pytest.fixture(scope="module")
def phone_photo() -> bytes:
    return with_metadata((SAMPLE / "Banana" / "Banana_001.jpg").read_bytes())


def test_every_metadata_marker_and_trailer_go_and_the_pixels_stay(phone_photo):
    with Image.open(io.BytesIO(phone_photo)) as im:  # the injected metadata is really there
        assert im.getexif().get_ifd(0x8825) and "xmp" in im.info and "icc_profile" in im.info
        assert im.info["comment"] == SECRET
    out = release_bytes(phone_photo)
    assert set(markers(out)[1:-1]) <= KEPT and out.endswith(b"\xff\xd9")
    assert SECRET not in out and b"PhoneMaker" not in out and TRAILER[:16] not in out
    with Image.open(io.BytesIO(out)) as im:
        assert im.info == {} and len(im.getexif()) == 0 and im.applist == []
        assert im.format == "JPEG" and im.mode == "RGB"
    assert np.array_equal(pixels(out), pixels(phone_photo))  # the same coded data
    assert len(out) < len(phone_photo)


@pytest.mark.parametrize("options", [{"progressive": True}, {"subsampling": 0}, {}])
def test_progressive_grey_and_444_photos_decode_the_same(options):
    with Image.open(SAMPLE / "Kiwi" / "Kiwi_001_blurred.jpg") as im:
        for mode in ("RGB", "L"):
            buf = io.BytesIO()
            im.convert(mode).save(buf, "JPEG", quality=90, comment=b"x", **options)
            data = with_metadata(buf.getvalue())
            out = release_bytes(data)
            assert np.array_equal(pixels(out), pixels(data))
            assert Image.open(io.BytesIO(out)).mode == mode


def test_photos_that_must_be_re_encoded_are_refused(phone_photo):
    with Image.open(io.BytesIO(phone_photo)) as im:
        rgb = im.convert("RGB")
    turned = Image.Exif()
    turned[0x0112] = 6  # shown rotated: dropping the tag would turn the pixels
    for why, fmt, img, options in (
        ("orientation 6", "JPEG", rgb, {"exif": turned}),
        ("PNG is not a JPEG", "PNG", rgb, {}),
        ("4 colour components", "JPEG", rgb.convert("CMYK"), {}),
    ):
        buf = io.BytesIO()
        img.save(buf, fmt, **options)
        with pytest.raises(NotLossless, match=why):
            release_bytes(buf.getvalue())


def test_corrupt_or_odd_segments_are_refused_never_half_copied(phone_photo):
    soi, rest = phone_photo[:2], phone_photo[2:]
    at = phone_photo.index(b"\xff\xdb")  # the first quantisation table
    junk = phone_photo[:at] + b"garbage" + phone_photo[at:]  # decoders skip it; we refuse
    assert pixels(junk).shape == pixels(phone_photo).shape
    overrun = soi + b"\xff\xe1\xff\xf0" + b"x" * 10  # a length past the end of the file
    slack = soi + segment(0xDD, b"\x00\x10\x00") + rest  # a DRI one byte too long
    arithmetic = soi + segment(0xCC, b"\x00\x10") + rest  # DAC: arithmetic coding
    no_eoi = phone_photo[: phone_photo.rindex(b"\xff\xd9")]
    for data in (junk, overrun, slack, arithmetic, no_eoi, b"", b"\xff\xd8"):
        with pytest.raises(NotLossless):
            release_bytes(data) if data[:3] == b"\xff\xd8\xff" else markers(data)


def test_the_output_check_refuses_metadata_and_trailers(phone_photo):
    size = Image.open(io.BytesIO(phone_photo)).size
    with pytest.raises(NotLossless, match="still holds markers"):
        check_stripped(phone_photo.replace(TRAILER, b""), size, "RGB")
    with pytest.raises(NotLossless, match="follow the EOI"):
        check_stripped(release_bytes(phone_photo) + b"tail", size, "RGB")
    with pytest.raises(NotLossless, match="opens as"):
        check_stripped(release_bytes(phone_photo), (size[0] + 1, size[1]), "RGB")
