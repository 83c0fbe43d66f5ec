"""The decode helper over awkward files generated here (no Spark)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from crowdlens.decode import DecodeError, decode_image
from crowdlens.stages.decode import decode_row


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def gradient(w: int = 64, h: int = 48) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)[None, :].repeat(h, 0)
    return Image.fromarray(np.stack([x, x[::-1, ::-1], np.full_like(x, 90)], -1), "RGB")


def test_plain_jpeg_decodes_to_rgb():
    out = decode_image(encode(gradient(), "JPEG"))
    assert (out.width, out.height, out.format) == (64, 48, "JPEG")
    assert out.image.mode == "RGB" and out.image.size == (64, 48)
    assert out.has_gps is False


def test_exif_rotation_swaps_reported_size():
    im = gradient(64, 48)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    out = decode_image(encode(im, "JPEG", exif=exif.tobytes()))
    assert (out.width, out.height) == (48, 64)
    assert out.image.size == (48, 64)


def test_gps_metadata_is_detected():
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}
    out = decode_image(encode(gradient(), "JPEG", exif=exif.tobytes()))
    assert out.has_gps is True


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # pure red in CMYK
    out = decode_image(encode(cmyk, "JPEG"))
    r, g, b = out.image.getpixel((20, 15))
    assert out.image.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_16_bit_grey_png_is_scaled_not_clipped():
    arr = np.full((20, 30), 32768, dtype=np.uint16)  # half of the 16-bit range
    im = Image.fromarray(arr)
    assert im.mode == "I;16"
    out = decode_image(encode(im, "PNG"))
    value = out.image.getpixel((5, 5))[0]
    assert 120 <= value <= 135, value  # clipping would give 255


def test_rgba_is_composited_on_white():
    im = Image.new("RGBA", (10, 10), (0, 0, 0, 0))  # fully transparent
    out = decode_image(encode(im, "PNG"))
    assert out.image.getpixel((3, 3)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("mode", "fmt"), [("L", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("1", "PNG"), ("I", "TIFF")]
)
def test_other_modes_become_rgb(mode, fmt):
    im = gradient().convert(mode)
    out = decode_image(encode(im, fmt))
    assert out.image.mode == "RGB" and (out.width, out.height) == (64, 48)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "TIFF", "BMP"])
def test_other_formats(fmt):
    out = decode_image(encode(gradient(), fmt))
    assert out.format == fmt and out.image.size == (64, 48)


def test_animated_gif_takes_the_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = decode_image(buf.getvalue())
    r, _, b = out.image.getpixel((8, 8))
    assert r > 200 and b < 60


def test_truncated_jpeg_is_an_error_that_says_so():
    data = encode(gradient(256, 256), "JPEG", quality=95)
    with pytest.raises(DecodeError, match="truncated JPEG.*re-upload"):
        decode_image(data[: len(data) // 2])


def test_empty_file():
    with pytest.raises(DecodeError, match="empty file"):
        decode_image(b"")


def test_random_bytes():
    rng = np.random.default_rng(0)
    with pytest.raises(DecodeError, match="not a readable image.*binary data"):
        decode_image(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())


def test_html_named_jpg():
    with pytest.raises(DecodeError, match="HTML document"):
        decode_image(b"<!DOCTYPE html><html><body>404</body></html>")


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG that declares a huge 1-bit image of zeros."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    raw = b"".join(comp.compress(row) for _ in range(2000)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_png_decompression_bomb_is_refused_before_decoding():
    data = png_bomb(100_000, 100_000)  # 10 gigapixels declared
    assert len(data) < 100_000
    with pytest.raises(
        DecodeError, match="10000.0 megapixels, above the limit of 50.0 MP.*decompression bomb"
    ):
        decode_image(data)


def test_pixel_limit_is_configurable():
    data = encode(gradient(200, 100), "PNG")
    with pytest.raises(DecodeError, match="above the limit"):
        decode_image(data, max_pixels=10_000)
    assert decode_image(data, max_pixels=20_000).width == 200


def test_draft_decoding_keeps_the_full_reported_size():
    data = encode(gradient(1600, 1200), "JPEG")
    out = decode_image(data, draft_size=(224, 224))
    assert (out.width, out.height) == (1600, 1200)
    assert out.image.size[0] < 1600  # decoded at reduced scale


def test_decode_row_reports_read_errors_and_hashes():
    row = decode_row(None, "file not found: /x.jpg", 50_000_000)
    assert row["status"] == "error" and row["error"].startswith("file not found")
    good = decode_row(encode(gradient(), "PNG"), None, 50_000_000)
    assert good["status"] == "ok" and good["error"] is None and good["width"] == 64
    bad = decode_row(b"\x00\x01", None, 50_000_000)
    assert bad["status"] == "error" and "not a readable image" in bad["error"]


def test_heic_photos_decode_through_pillow_heif():
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    data = encode(Image.new("RGB", (64, 48), (200, 10, 10)), "HEIF")
    assert data[4:12] == b"ftypheic"
    out = decode_image(data)
    assert (out.format, out.width, out.height) == ("HEIF", 64, 48)
    r, g, b = out.image.getpixel((5, 5))
    assert r > 180 and g < 40 and b < 40


def exif_with_provenance(software: str | None = None) -> bytes:
    """EXIF as a phone writes it: capture time (with offset), GPS, make/model, software."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "PhoneMaker X12"
    if software:
        exif[0x0131] = software
    exif[0x8769] = {0x9003: "2024:05:01 13:45:10", 0x9011: "+02:00"}
    exif[0x8825] = {1: "S", 2: (1.0, 17.0, 11.64), 3: "E", 4: (36.0, 49.0, 3.78)}
    return exif.tobytes()


def test_provenance_is_read_in_the_decode_pass_and_rounded():
    data = encode(gradient(), "JPEG", exif=exif_with_provenance("Snapseed 2.0"))
    row = decode_row(data, None, 50_000_000, gps_decimals=2)
    assert row["status"] == "ok" and row["has_gps"] is True
    assert row["captured_at"] == "2024-05-01T13:45:10+02:00"
    assert (row["gps_lat"], row["gps_lon"]) == (-1.29, 36.82)  # Nairobi, S and E applied
    assert row["camera"] == "PhoneMaker X12"  # the make is not repeated
    assert row["software"] == "Snapseed 2.0"
    finer = decode_row(data, None, 50_000_000, gps_decimals=4)
    assert (finer["gps_lat"], finer["gps_lon"]) == (-1.2866, 36.8177)


def test_missing_or_broken_metadata_is_null_not_an_error():
    plain = decode_row(encode(gradient(), "PNG"), None, 50_000_000)
    assert plain["status"] == "ok"
    assert [plain[c] for c in ("captured_at", "gps_lat", "gps_lon", "camera", "software")] == [
        None
    ] * 5
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (10.0, 0.0, 0.0)}  # latitude > 90
    exif[0x8769] = {0x9003: "0000:00:00 00:00:00"}  # what some cameras write when unset
    odd = decode_row(encode(gradient(), "JPEG", exif=exif.tobytes()), None, 50_000_000)
    assert odd["status"] == "ok" and odd["gps_lat"] is None and odd["captured_at"] is None


def photo_like(w: int = 160, h: int = 120) -> Image.Image:
    """Texture in every channel, so that a turned or shifted copy cannot compare equal."""
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("progressive", [False, True])
def test_decode_pixels_gives_pillows_pixels_for_every_exif_orientation(orientation, progressive):
    from PIL import ImageOps

    from crowdlens.decode import _jpeg_pixels, decode_pixels

    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(photo_like(), "JPEG", quality=90, exif=exif.tobytes(), progressive=progressive)
    assert _jpeg_pixels(data, 10**8) is not None  # the libjpeg-turbo path, not the fallback
    expected = np.asarray(decode_image(data).image)
    with Image.open(
        io.BytesIO(data)
    ) as im:  # decode_image turns photos as Pillow's own helper does
        assert np.array_equal(expected, np.asarray(ImageOps.exif_transpose(im).convert("RGB")))
    got = decode_pixels(data)
    assert got.dtype == np.uint8 and got.flags.c_contiguous
    assert np.array_equal(got, expected)


def test_decode_pixels_takes_the_first_picture_of_an_mpo_file_as_pillow_does():
    # Phones write MPO files (a JPEG with a gain map or depth map after it).
    from crowdlens.decode import _jpeg_pixels, decode_pixels

    second = Image.fromarray(np.zeros((30, 40, 3), np.uint8))
    data = encode(photo_like(), "MPO", save_all=True, append_images=[second], quality=90)
    assert _jpeg_pixels(data, 10**8) is not None
    assert np.array_equal(decode_pixels(data), np.asarray(decode_image(data).image))
    assert decode_pixels(data).shape == (120, 160, 3)


def test_decode_pixels_gives_pillows_pixels_for_the_sample_photos():
    from pathlib import Path

    from crowdlens.decode import _jpeg_pixels, decode_pixels

    photos = sorted((Path(__file__).parents[1] / "examples" / "sample" / "photos").rglob("*.jpg"))
    assert len(photos) >= 10
    for path in photos[::7]:
        data = path.read_bytes()
        assert _jpeg_pixels(data, 10**8) is not None
        assert np.array_equal(decode_pixels(data), np.asarray(decode_image(data).image)), path


@pytest.mark.parametrize(
    "image, fmt",
    [
        (Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"),
        (Image.new("L", (40, 30), 77), "JPEG"),
        (gradient(), "PNG"),
        (gradient(), "WEBP"),
    ],
)
def test_decode_pixels_falls_back_to_pillow_for_other_photos(image, fmt):
    from crowdlens.decode import _jpeg_pixels, decode_pixels

    data = encode(image, fmt)
    assert _jpeg_pixels(data, 10**8) is None
    assert np.array_equal(decode_pixels(data), np.asarray(decode_image(data).image))


def test_decode_pixels_refuses_what_decode_image_refuses():
    from crowdlens.decode import decode_pixels

    data = encode(photo_like(256, 256), "JPEG", quality=95)
    with pytest.raises(DecodeError, match="truncated JPEG.*re-upload"):
        decode_pixels(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="above the limit"):
        decode_pixels(data, max_pixels=10_000)
    with pytest.raises(DecodeError, match="empty file"):
        decode_pixels(b"")


def with_raw_exif(jpeg: bytes, entries: list[tuple[int, int, bytes]], extra: bytes = b"") -> bytes:
    """``jpeg`` with an APP1 EXIF block whose IFD0 holds ``entries`` (tag, type, 4-byte value) as
    given, however odd their types; ``extra`` is appended after the IFD (for offsets into it)."""
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHI", tag, kind, 1) + value
    tiff = b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + extra
    app1 = b"Exif\0\0" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def test_an_orientation_stored_as_a_rational_turns_the_photo_in_both_decoders():
    # Pillow reads it as IFDRational(6, 1); ImageOps.exif_transpose finds 6 for it.
    from crowdlens.decode import _jpeg_pixels, decode_pixels

    offset = 8 + 2 + 12 + 4  # the rational right after the one-entry IFD
    data = with_raw_exif(encode(photo_like(64, 40), "JPEG", quality=90),
                         [(0x0112, 5, struct.pack("<I", offset))], struct.pack("<II", 6, 1))  # fmt: skip
    out = decode_image(data)
    assert (out.width, out.height) == (40, 64) and out.image.size == (40, 64)
    assert _jpeg_pixels(data, 10**8) is not None
    assert np.array_equal(decode_pixels(data), np.asarray(out.image))


def test_a_turned_photo_with_a_mistyped_exif_tag_is_still_decoded():
    # ResolutionUnit stored as a rational: ImageOps.exif_transpose failed re-writing the EXIF
    # and the photo was refused ("cannot convert JPEG image ..."); the pixels are fine.
    from crowdlens.decode import decode_pixels

    offset = 8 + 2 + 2 * 12 + 4
    data = with_raw_exif(encode(photo_like(64, 40), "JPEG", quality=90),
                         [(0x0112, 3, struct.pack("<HH", 6, 0)),
                          (0x0128, 5, struct.pack("<I", offset))], struct.pack("<II", 2, 1))  # fmt: skip
    out = decode_image(data)
    assert out.image.size == (40, 64)
    assert np.array_equal(decode_pixels(data), np.asarray(out.image))


def test_decode_doctests():
    import doctest

    import crowdlens.decode

    assert doctest.testmod(crowdlens.decode).failed == 0
