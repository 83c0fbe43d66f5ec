"""One photo through the text stage's ``text_row``, without Spark: real OCR, presidio, files.

Which released copy it writes: the JPEG's own coded data without metadata
when there is nothing to cover, a re-encoded one when that is not safe, a
redacted and re-encoded one when there is personal information, and nothing
at all for a broken file.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from test_strip import SAMPLE, pixels, with_metadata
from text_helpers import PII_LINES, PLAIN_LINES, jpeg_with_gps, render

from crowdlens import schema as S
from crowdlens.stages.text import text_row
from crowdlens.text.config import TextConfig
from crowdlens.text.strip import release_bytes


def run(tmp_path, data: bytes, name: str = "shop/photo.jpg", **cfg) -> tuple[dict, object]:
    root, out = tmp_path / "in", tmp_path / "out"
    row = text_row("id1", f"file:{root}/{name}", data, S.STATUS_OK, TextConfig(**cfg),
                   str(out), str(root))  # fmt: skip
    return row, out


@pytest.fixture(scope="module")
def phone_photo() -> bytes:
    return with_metadata((SAMPLE / "Banana" / "Banana_001.jpg").read_bytes())


@pytest.mark.parametrize("enabled", [True, False])
def test_a_photo_with_nothing_to_cover_is_released_losslessly(tmp_path, phone_photo, enabled):
    row, out = run(tmp_path, phone_photo, enabled=enabled)
    assert row[S.TEXT_ERROR] is None and row[S.RELEASE_VERIFIED] is None
    released = (out / row[S.REDACTED_PATH]).read_bytes()
    assert released == release_bytes(phone_photo)  # no metadata, not re-encoded
    assert np.array_equal(pixels(released), pixels(phone_photo))
    assert [p.name for p in (out / "redacted" / "shop").iterdir()] == ["photo.jpg"]


def test_turned_and_png_photos_are_re_encoded_without_metadata(tmp_path, phone_photo):
    with Image.open(io.BytesIO(phone_photo)) as im:
        rgb = im.convert("RGB").crop((0, 0, 348, 200))
    turned = Image.Exif()
    turned[0x0112] = 6
    jpeg, png = io.BytesIO(), io.BytesIO()
    rgb.save(jpeg, "JPEG", exif=turned, comment=b"Ana Lopez")
    rgb.save(png, "PNG", icc_profile=b"\0" * 200)
    row, out = run(tmp_path, jpeg.getvalue(), "turned.jpg")
    with Image.open(out / row[S.REDACTED_PATH]) as im:  # the pixels turned, the tag gone
        assert im.size == (200, 348) and len(im.getexif()) == 0 and "comment" not in im.info
    row, out = run(tmp_path, png.getvalue(), "flat.png")
    with Image.open(out / row[S.REDACTED_PATH]) as im:
        assert im.format == "PNG" and "icc_profile" not in im.info
        assert np.array_equal(np.asarray(im), np.asarray(rgb))


def test_a_broken_photo_is_an_error_row_and_leaves_no_file(tmp_path, phone_photo):
    row, out = run(tmp_path, phone_photo[:400])  # cut inside its metadata
    assert "decoding the photo" in row[S.TEXT_ERROR] and row[S.REDACTED_PATH] is None
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


def test_a_photo_with_personal_data_is_redacted_verified_and_re_encoded(tmp_path, ocr):
    data = jpeg_with_gps(render([*PII_LINES.values(), *PLAIN_LINES]))
    row, out = run(tmp_path, data)
    assert set(PII_LINES) <= set(row[S.PII_TYPES]) and row[S.RELEASE_VERIFIED] is True
    released = (out / row[S.REDACTED_PATH]).read_bytes()
    assert released != release_bytes(data)  # re-encoded from the redacted pixels
    with Image.open(io.BytesIO(released)) as im:
        assert im.size == (900, 560) and len(im.getexif()) == 0
        left = "\n".join(ln.text for ln in ocr.read(np.asarray(im.convert("RGB"))))
    assert "Price 3.45" in left
    assert not any(secret in left for secret in PII_LINES.values())
    assert (out / row[S.TEXT_PREVIEW_PATH]).is_file()


def test_an_upside_down_note_is_still_read_and_redacted(tmp_path):
    # The angle classifier turns such lines upright; without it none of the
    # three items is found and the photo would be released as it is.
    data = jpeg_with_gps(render([*PII_LINES.values(), *PLAIN_LINES]).rotate(180))
    row, _ = run(tmp_path, data)
    assert set(PII_LINES) <= set(row[S.PII_TYPES]) and row[S.RELEASE_VERIFIED] is True


@pytest.mark.parametrize("mode, plain_preview, pii_preview", [
    ("pii", False, True), ("text", True, True), ("off", False, False),
])  # fmt: skip
def test_previews_are_written_for_the_photos_their_setting_names(
    tmp_path, mode, plain_preview, pii_preview
):
    plain, _ = run(tmp_path / "plain", jpeg_with_gps(render(PLAIN_LINES)), previews=mode)
    pii, _ = run(tmp_path / "pii", jpeg_with_gps(render([*PII_LINES.values(), *PLAIN_LINES])),
                 previews=mode)  # fmt: skip
    assert plain[S.HAS_TEXT] is True and plain[S.PII_TYPES] == []
    assert pii[S.PII_TYPES]
    for row, wanted, folder in ((plain, plain_preview, "plain"), (pii, pii_preview, "pii")):
        previews = tmp_path / folder / "out" / "text_previews"
        assert (row[S.TEXT_PREVIEW_PATH] is not None) is wanted
        assert previews.is_dir() is wanted  # no unblurred copy written that was not asked for


def test_the_old_true_false_previews_setting_is_refused_with_the_new_choices():
    with pytest.raises(ValueError, match="previews.*one of pii, text, off"):
        TextConfig(previews=True)


def test_a_preview_from_an_earlier_run_is_removed_when_this_run_writes_none(tmp_path):
    data = jpeg_with_gps(render(PLAIN_LINES))
    first, out = run(tmp_path, data, previews="text")
    assert (out / first[S.TEXT_PREVIEW_PATH]).is_file()
    second, _ = run(tmp_path, data, previews="pii")  # same results folder, new default
    assert second[S.TEXT_PREVIEW_PATH] is None
    assert not (out / first[S.TEXT_PREVIEW_PATH]).exists()


def test_a_photo_above_the_default_pixel_limit_is_not_refused_here(tmp_path):
    # The decode stage applies decode.max_pixels (which a user may raise); a photo
    # it passed as ok must not be refused again at the default 50 MP.
    big = Image.new("RGB", (7200, 7000), (120, 130, 140))  # 50.4 MP
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=80)
    row, out = run(tmp_path, buf.getvalue())
    assert row[S.TEXT_ERROR] is None and (out / row[S.REDACTED_PATH]).is_file()
