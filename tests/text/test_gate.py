"""The gate can detect on a reduced-size decode and still answer in full-photo pixels."""

from __future__ import annotations

import numpy as np

from crowdlens.text.gate import get_gate


def test_boxes_found_on_a_reduced_decode_are_in_full_photo_pixels(pii_photo):
    import cv2

    small = np.asarray(pii_photo)  # 900 x 560: what a draft decode would hand over
    full = cv2.resize(
        small, (small.shape[1] * 3, small.shape[0] * 3), interpolation=cv2.INTER_CUBIC
    )
    gate = get_gate(960, 0.3, 2)
    direct = gate.find(full)
    via_small = gate.find(full, small=small)
    assert len(direct) >= 5 and len(via_small) >= 5
    assert via_small[..., 0].max() > small.shape[1]  # scaled back, not left in small pixels
    for box in direct:
        cx, cy = box.mean(axis=0)
        assert any(cv2.pointPolygonTest(b, (float(cx), float(cy)), False) >= 0 for b in via_small)


def test_the_gates_preprocessing_gives_rapidocrs_numbers_bit_for_bit(pii_photo):
    from types import SimpleNamespace

    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    from crowdlens.text.gate import lookup_preprocess

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(333, 1517, 3), dtype=np.uint8)  # every byte, odd sizes
    for mean, std in (([0.5] * 3, [0.5] * 3), ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])):
        settings = (960, "max", mean, std)
        ours = lookup_preprocess(SimpleNamespace(limit_side_len=960, limit_type="max",
                                                 mean=mean, std=std))  # fmt: skip
        for image in (np.asarray(pii_photo), noise):
            a, b = ours(image), DetPreProcess(*settings)(image)
            assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
            assert np.array_equal(a, b)
    # ... and it is what the gate's detector runs.
    gate = get_gate(960, 0.3, 2)
    gate.find(np.asarray(pii_photo))
    assert type(gate._engine.text_det.preprocess_op).__name__ == "LookupPreProcess"
    odd = rng.random((50, 70, 3)).astype(np.float32) * 255  # not 8-bit: rapidocr's own numbers
    assert np.array_equal(ours(odd), DetPreProcess(*settings)(odd))
