"""Compact bundles: the shipped head rebuilds into a working classifier."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crowdlens.models.head_bundle import HEAD_FILE, META_FILE, extract_head, pack_head


def test_rebuilt_bundle_carries_the_head_exactly(grocery_model, tmp_path):
    meta = json.loads((grocery_model / META_FILE).read_text())
    head = np.load(grocery_model / HEAD_FILE)
    got = extract_head(grocery_model / "model.onnx", len(meta["labels"]), meta["feature_dim"])
    np.testing.assert_array_equal(got["weight"], head["weight"])
    np.testing.assert_array_equal(got["bias"], head["bias"])
    bundle = json.loads((grocery_model / "bundle.json").read_text())
    assert bundle["labels"] == meta["labels"] and bundle["temperature"] == meta["temperature"]
    assert bundle["parity_max_abs_diff"] < 1e-3
    # pack again from the rebuilt bundle: the same head comes out
    pack_head(grocery_model, tmp_path / "again")
    again = np.load(tmp_path / "again" / HEAD_FILE)
    np.testing.assert_array_equal(again["weight"], head["weight"])


@pytest.mark.slow
def test_shipped_classifier_recognises_the_sample(grocery_model):
    """The sample photos are from the val split, which the head was not trained on."""
    from pathlib import Path

    from PIL import Image

    from crowdlens.models.bundle import load_bundle
    from crowdlens.models.preprocess import preprocess
    from crowdlens.models.runtime import get_session

    bundle = load_bundle(grocery_model)
    session = get_session(str(bundle.onnx_path))
    photos = sorted(Path(__file__).resolve().parents[2].glob("examples/sample/photos/*/*_0??.jpg"))
    assert len(photos) == 60
    x = np.stack([preprocess(Image.open(p).convert("RGB"), bundle.preprocess) for p in photos])
    logits = session.run([bundle.logits_output], {bundle.input_name: x})[0]
    pred = [bundle.labels[i] for i in logits.argmax(1)]
    truth = [p.parent.name for p in photos]
    top1 = np.mean([a == b for a, b in zip(pred, truth, strict=True)])
    assert top1 >= 0.7, top1
