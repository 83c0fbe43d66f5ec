"""The int8 text detector: where it is cached, that it is int8, and that it finds the text."""

from __future__ import annotations

import numpy as np

from crowdlens.text import quantize


def test_int8_detector_is_cached_under_crowdlens_cache_with_its_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("CROWDLENS_CACHE", str(tmp_path))
    files = quantize.calibration_files()
    first = quantize.int8_path(files)
    assert first.parent == tmp_path / "ocr"
    assert first.name.startswith("PP-OCRv6_det_small.int8-")
    assert quantize.int8_path(files[1:]) != first  # other photos, another model
    monkeypatch.setattr(quantize, "RECIPE", quantize.RECIPE + "-changed")
    assert quantize.int8_path(files) != first  # a new recipe never reuses an old model


def test_calibration_photos_and_drawn_text_are_the_same_on_every_build():
    files = quantize.calibration_files(n=12)
    assert len(files) == 12 and len({f.parent for f in files}) > 3  # spread over items
    a, b = quantize.calibration_images(files[:2]), quantize.calibration_images(files[:2])
    assert a[0].shape == (720, 960, 3) and a[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_int8_gate_is_quantised_and_finds_the_lines_the_fp32_gate_finds(pii_photo):
    import cv2
    import onnx

    from crowdlens.text.gate import get_gate

    ops = {n.op_type for n in onnx.load(str(quantize.int8_detector())).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    rgb = np.asarray(pii_photo)
    fp32 = get_gate(960, 0.3, 2, False).find(rgb)
    int8 = get_gate(960, 0.3, 2, True).find(rgb)
    assert len(fp32) >= 5
    for box in fp32:
        cx, cy = box.mean(axis=0)
        assert any(cv2.pointPolygonTest(b, (float(cx), float(cy)), False) >= 0 for b in int8)
