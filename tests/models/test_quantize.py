"""int8 bundles from ONNX Runtime quantization, on the real MobileNetV2."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from crowdlens.cli import main
from crowdlens.models.bundle import load_bundle
from crowdlens.models.predict import predict_contents

IMAGENET_PHOTOS = Path(__file__).resolve().parents[1] / "data" / "imagenet"


def test_static_int8_bundle_is_smaller_and_still_right(mobilenet_bundle, photo_bytes, tmp_path):
    calib = tmp_path / "calib"
    shutil.copytree(IMAGENET_PHOTOS, calib)
    out = tmp_path / "int8"
    assert (
        main(["quantize", str(mobilenet_bundle), "--out", str(out), "--calibration", str(calib)])
        == 0
    )
    q, f = load_bundle(out), load_bundle(mobilenet_bundle)
    assert q.source == "quantize" and q.extra["quantized"]["mode"] == "static"
    assert q.extra["quantized"]["calibration_photos"] == 3
    assert q.labels == f.labels and q.preprocess == f.preprocess
    assert q.onnx_path.stat().st_size < f.onnx_path.stat().st_size / 3
    names = ["lemon", "pineapple"]
    pq = predict_contents([photo_bytes[n] for n in names], q, embed=True)
    pf = predict_contents([photo_bytes[n] for n in names], f, embed=True)
    assert [p.label for p in pq] == names
    for a, b in zip(pq, pf, strict=True):
        cos = float(
            a.embedding @ b.embedding / np.linalg.norm(a.embedding) / np.linalg.norm(b.embedding)
        )
        assert cos > 0.9


def test_dynamic_int8_without_calibration(mobilenet_bundle, photo_bytes, tmp_path):
    from crowdlens.models.quantize import quantize_bundle

    q = quantize_bundle(mobilenet_bundle, tmp_path / "dyn")
    assert q.extra["quantized"]["mode"] == "dynamic"
    assert predict_contents([photo_bytes["pineapple"]], q)[0].label == "pineapple"
