"""The per-photo text work with the real rapidocr engine and presidio (no Spark).

Generated photos only: OCR costs about a second per photo here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from text_helpers import PII_LINES, PLAIN_LINES

from crowdlens.text.config import TextConfig
from crowdlens.text.gate import get_gate
from crowdlens.text.photo import read_photo
from crowdlens.text.preview import render_preview
from crowdlens.text.redact import redact


def _texts(ocr, im) -> str:
    return "\n".join(line.text for line in ocr.read(np.asarray(im)))


def test_reads_finds_and_redacts_pii_but_keeps_prices(pii_photo, ocr, analyzer):
    cfg = TextConfig()
    found = read_photo(np.asarray(pii_photo), cfg, ocr=ocr, analyzer=analyzer)
    assert found.has_text and not found.gated_out
    assert set(PII_LINES) <= set(found.pii_types)
    by_text = {r["text"]: r for r in found.regions()}
    assert by_text["Price 3.45"]["pii_types"] == []
    assert by_text["maria.lopez@correo.es"]["pii_types"] == ["EMAIL_ADDRESS"]
    assert all(len(r["polygon"]) == 4 for r in found.regions())

    released = redact(pii_photo, found.cover, cfg.redact_mode)
    reread = _texts(ocr, released)
    for secret in PII_LINES.values():
        assert secret not in reread
    # Pieces of the secrets must not come back either (e.g. the e-mail's domain).
    assert "Smith" not in reread and "7946" not in reread and "correo" not in reread
    for plain in PLAIN_LINES:
        assert plain in reread


def test_accented_latin_text_is_read(ocr):
    from text_helpers import render

    text = _texts(ocr, render(["Crème fraîche 2,50 €", "Jamón ibérico", "Pão de açúcar"]))
    for word in ("Crème", "fraîche", "Jamón", "ibérico", "Pão", "açúcar"):
        assert word in text


def test_gate_skips_photos_without_text_and_passes_text(pii_photo, ocr, analyzer):
    gate = get_gate(960, 0.3, 2)
    # Smooth colour, no text. (A large saturated blob does fire the detector:
    # the gate is tuned for recall; its rate on real photos is in docs/text.md.)
    yy, xx = np.mgrid[0:480, 0:640]
    base = np.stack([xx * 255 // 640, yy * 255 // 480, np.full_like(xx, 120)], -1)
    plain = np.ascontiguousarray(base.astype(np.uint8))
    found = read_photo(plain, TextConfig(), ocr=ocr, analyzer=analyzer, gate=gate)
    assert found.gated_out and not found.has_text and found.cover == []
    assert gate.has_text(np.asarray(pii_photo))


def test_preview_outlines_text_in_colour(pii_photo, ocr, analyzer):
    found = read_photo(np.asarray(pii_photo), TextConfig(), ocr=ocr, analyzer=analyzer)
    preview = render_preview(
        pii_photo, [ln.polygon for ln in found.lines], found.line_pii, max_side=450
    )
    assert max(preview.size) == 450
    arr = np.asarray(preview).reshape(-1, 3).astype(int)
    red = ((arr[:, 0] > 200) & (arr[:, 1] < 60) & (arr[:, 2] < 60)).sum()
    yellow = ((arr[:, 0] > 200) & (arr[:, 1] > 180) & (arr[:, 2] < 60)).sum()
    assert red > 100 and yellow > 50
    assert isinstance(preview, Image.Image) and preview is not pii_photo
    before = np.asarray(pii_photo).copy()
    full = render_preview(pii_photo, [ln.polygon for ln in found.lines], found.line_pii, 4000)
    assert full.size == pii_photo.size and full is not pii_photo
    assert np.array_equal(np.asarray(pii_photo), before)  # drawn on a copy, never the input


def test_gate_boxes_are_read_without_a_second_detection(pii_photo, ocr, analyzer):
    """The gate's boxes, read where they are, give the lines a full read gives."""
    rgb = np.asarray(pii_photo)
    gate = get_gate(960, 0.3, 2)
    boxes = gate.find(rgb)
    assert boxes.shape[1:] == (4, 2) and len(boxes) >= len(PII_LINES) + len(PLAIN_LINES)
    # Boxes are in the photo's own pixels, not the gate's small copy.
    assert boxes[..., 0].max() <= rgb.shape[1] and boxes[..., 1].max() <= rgb.shape[0]
    lines = ocr.read_regions(rgb, boxes)
    assert {ln.text for ln in lines} == {ln.text for ln in ocr.read(rgb)}
    assert all(ln.words and ln.words[0].polygon for ln in lines)

    cfg = TextConfig()
    assert cfg.read_gate_boxes
    found = read_photo(rgb, cfg, ocr=ocr, analyzer=analyzer, gate=gate)
    assert not found.gated_out and set(PII_LINES) <= set(found.pii_types)
    reread = _texts(ocr, redact(pii_photo, found.cover, cfg.redact_mode))
    assert not any(secret in reread for secret in PII_LINES.values())
    assert all(plain in reread for plain in PLAIN_LINES)


def test_a_detector_only_call_does_not_leave_recognition_off(pii_photo, ocr):
    rgb = np.asarray(pii_photo)
    assert ocr.detect(rgb)
    assert {"Price 3.45"} <= {ln.text for ln in ocr.read(rgb)}
