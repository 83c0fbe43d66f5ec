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
