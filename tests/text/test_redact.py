"""Redaction geometry, copies, metadata stripping and mirrored output paths."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image
from text_helpers import jpeg_with_gps, render

from crowdlens.text.redact import cover_polygon, mirrored_path, redact, save_clean


def test_cover_polygon_spans_all_words_and_pads():
    words = [[[10, 10], [30, 10], [30, 20], [10, 20]], [[40, 10], [60, 10], [60, 20], [40, 20]]]
    box = cover_polygon(words, padding=0.5)
    xs, ys = box[:, 0], box[:, 1]
    # One rectangle from the first word to the last, the gap included, 5 px padding.
    assert xs.min() == pytest.approx(5, abs=0.5) and xs.max() == pytest.approx(65, abs=0.5)
    assert ys.min() == pytest.approx(5, abs=0.5) and ys.max() == pytest.approx(25, abs=0.5)


@pytest.mark.parametrize("mode", ["blur", "pixelate", "fill"])
def test_redact_changes_only_the_region_and_copies(mode):
    im = render(["John Smith"], size=(400, 120))
    before = np.array(im)
    box = np.array([[30, 30], [250, 30], [250, 90], [30, 90]], dtype=np.float32)
    out = redact(im, [box], mode=mode)
    after = np.array(out)
    assert np.array_equal(np.array(im), before), "the input image must not be modified"
    inside, outside = after[35:85, 35:245], after[100:, :]
    assert not np.array_equal(inside, before[35:85, 35:245])
    assert np.array_equal(outside, before[100:, :])
    # Dark text strokes are gone: nothing inside stays as dark as the ink.
    assert inside.min() > 40


def test_redact_ignores_regions_outside_the_image():
    im = render(["x"], size=(100, 50))
    out = redact(im, [np.array([[200, 200], [300, 200], [300, 250], [200, 250]])])
    assert np.array_equal(np.array(out), np.array(im))


def test_save_clean_strips_gps_and_exif_and_is_atomic(tmp_path):
    data = jpeg_with_gps(render(["hello"], size=(200, 100)))
    src = Image.open(io.BytesIO(data))
    assert src.getexif().get_ifd(0x8825), "the fixture must carry GPS"
    target = tmp_path / "a" / "b.jpg"
    save_clean(src, str(target))
    save_clean(src, str(target))  # a retried task writes the same file again
    out = Image.open(target)
    assert len(out.getexif()) == 0
    assert "exif" not in out.info and "xmp" not in out.info
    assert os.listdir(target.parent) == ["b.jpg"], "no temporary file may be left behind"
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825), "original untouched"


def test_save_clean_png_has_no_text_chunks_nor_profile_and_keeps_the_pixels(tmp_path):
    from PIL import ImageCms, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    render(["x"], size=(50, 50)).save(buf, "PNG", pnginfo=info, icc_profile=icc, dpi=(300, 300))
    src = Image.open(io.BytesIO(buf.getvalue()))
    assert {"Author", "icc_profile", "dpi"} <= set(src.info), "the fixture must carry them"
    target = tmp_path / "p.png"
    save_clean(src, str(target))
    out = Image.open(target)
    assert not {"Author", "icc_profile", "dpi"} & set(out.info)
    assert np.array_equal(np.asarray(out), np.asarray(src.convert("RGB")))


def test_mirrored_paths():
    assert mirrored_path("/o", "file:///in/a%20b/c.JPG", "/in", "i") == "/o/redacted/a b/c.JPG"
    assert mirrored_path("/o", "/in/x/y.heic", "/in", "i") == "/o/redacted/x/y.heic.jpg"
    # Outside the root, or no root: under the (sanitised) image id, never escaping out_dir.
    assert mirrored_path("/o", "/else/z.png", "/in", "id/../1") == "/o/redacted/id_.._1/z.png"
    assert mirrored_path("/o", "/in/p.jpg", "/in", "i", folder="text_previews") == (
        "/o/text_previews/p.jpg"
    )


def test_the_text_functions_take_rgb_pixels_as_they_take_an_image(tmp_path):
    """The text stage holds a photo as one array; every consumer gives what the image gives."""
    from crowdlens.text.preview import render_preview

    im = render(["Ana Lopez", "1.99"], size=(900, 300))
    pixels = np.array(im)  # writeable: nothing may write to it
    kept = pixels.copy()
    box = np.array([[30, 30], [400, 30], [400, 120], [30, 120]], dtype=np.float32)
    assert np.array_equal(np.array(redact(pixels, [box])), np.array(redact(im, [box])))
    for name, photo in (("array.png", pixels), ("image.png", im)):
        save_clean(photo, str(tmp_path / name))
    assert np.array_equal(
        np.asarray(Image.open(tmp_path / "array.png")),
        np.asarray(Image.open(tmp_path / "image.png")),
    )
    # Previews: same size and outlines from both (the array is shrunk by area averaging).
    line = [[[30.0, 30.0], [400.0, 30.0], [400.0, 120.0], [30.0, 120.0]]]
    a, b = (np.asarray(render_preview(p, line, [["PERSON"]], max_side=300)) for p in (pixels, im))
    assert a.shape == b.shape == (100, 300, 3)
    red = np.array([230, 20, 20])
    for preview in (a, b):
        assert (np.abs(preview - red).sum(axis=2) < 60).sum() > 100, "the PII line is outlined"
    assert np.array_equal(pixels, kept), "the caller's pixels are untouched"


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8),
                                 np.zeros((4, 4, 3), np.float32)])  # fmt: skip
def test_pixels_that_are_not_rgb_bytes_are_refused_clearly(bad):
    with pytest.raises(ValueError, match="H x W x 3 uint8 RGB"):
        redact(bad, [])
