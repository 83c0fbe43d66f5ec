from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from crowdlens.models.bundle import BundleError, load_bundle
from crowdlens.models.export import export_bundle
from crowdlens.models.onnx_import import import_onnx
from crowdlens.models.predict import InferenceConfig, predict_contents
from crowdlens.models.preprocess import PreprocessSpec
from crowdlens.models.registry import create_model
from crowdlens.models.runtime import get_session, run


def test_export_writes_model_and_description(mobilenet_bundle):
    b = load_bundle(mobilenet_bundle)
    assert (mobilenet_bundle / "model.onnx").is_file()
    meta = json.loads((mobilenet_bundle / "bundle.json").read_text())
    assert meta["task"] == "classify" and meta["architecture"] == "mobilenet_v2"
    assert b.task == "classify" and b.num_labels == 1000 and b.feature_dim == 1280
    assert b.features_output == "features" and b.logits_output == "logits"
    assert b.parity_max_abs_diff is not None and b.parity_max_abs_diff < 1e-3
    assert {"torch", "onnxruntime"} <= set(b.versions)
    assert b.preprocess.input_size == 224


def test_one_pass_gives_features_and_logits_matching_torch(mobilenet_bundle, photo_bytes):
    import torch

    from crowdlens.models.preprocess import preprocess_bytes

    model = create_model("mobilenet_v2")
    b = load_bundle(mobilenet_bundle)
    x = np.stack([preprocess_bytes(photo_bytes["lemon"], b)])
    out = run(b, x)
    with torch.no_grad():
        feats = model.forward_features(torch.from_numpy(x)).numpy()
        logits = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out["features"], feats, atol=1e-4)
    np.testing.assert_allclose(out["logits"], logits, atol=1e-3)


def test_embed_bundle_without_classifier(tmp_path):
    model = create_model("mobilenet_v2", num_classes=0)
    b = export_bundle(model, model.pretrained_cfg, tmp_path / "emb", labels=None)
    assert b.task == "embed" and b.logits_output is None and b.labels == ()
    assert load_bundle(tmp_path / "emb").task == "embed"
    out = run(b, np.zeros((3, 3, 224, 224), np.float32))
    assert set(out) == {"features"} and out["features"].shape == (3, 1280)
    with pytest.raises(BundleError, match="embed bundle"):
        predict_contents([b"x"], b)


def _tiny(num_classes):
    """A small real torch model with the registry interface (fast to export)."""
    import torch
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, stride=2)
            self.fc = nn.Linear(4, num_classes)

        def forward_features(self, x):
            return torch.flatten(nn.functional.adaptive_avg_pool2d(self.conv(x), 1), 1)

        def get_classifier(self):
            return self.fc

        def forward(self, x):
            return self.fc(self.forward_features(x))

    return Tiny().eval()


TINY_SPEC = PreprocessSpec(input_size=32, resize=36)


def test_export_rejects_wrong_label_count(tmp_path):
    with pytest.raises(BundleError, match="3 outputs but 2 labels"):
        export_bundle(_tiny(3), TINY_SPEC, tmp_path / "b", labels=["a", "b"])
    assert not (tmp_path / "b").exists()


def test_reexport_replaces_atomically_and_never_overwrites_other_folders(tmp_path):
    model, cfg = _tiny(2), TINY_SPEC
    first = export_bundle(model, cfg, tmp_path / "b", labels=["a", "b"], metrics={"acc": 0.5})
    second = export_bundle(model, cfg, tmp_path / "b", labels=["a", "b"], metrics={"acc": 0.9})
    assert load_bundle(tmp_path / "b").metrics == {"acc": 0.9}
    assert first.path == second.path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no temporary leftovers
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(BundleError, match="not a bundle"):
        export_bundle(model, cfg, other, labels=["a", "b"])
    assert (other / "keep.txt").read_text() == "mine"


def test_load_bundle_errors_say_what_is_wrong(tmp_path, mobilenet_bundle):
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="no bundle.json"):
        load_bundle(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    meta = json.loads((mobilenet_bundle / "bundle.json").read_text())
    (bad / "bundle.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(BundleError, match="format_version 99"):
        load_bundle(bad)
    (bad / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="model file 'model.onnx' is missing"):
        load_bundle(bad)


def test_temperature_is_stored_and_applied(tmp_path, mobilenet_bundle, photo_bytes):
    t = export_bundle(_tiny(2), TINY_SPEC, tmp_path / "t", labels=["a", "b"], temperature=4.0)
    assert t.temperature == 4.0 and load_bundle(tmp_path / "t").temperature == 4.0
    with pytest.raises(BundleError, match="temperature"):
        export_bundle(_tiny(2), TINY_SPEC, tmp_path / "u", labels=["a", "b"], temperature=0.0)
    # The same network with a fitted temperature in its bundle.json.
    hot_dir = tmp_path / "hot"
    shutil.copytree(mobilenet_bundle, hot_dir)
    meta = json.loads((hot_dir / "bundle.json").read_text())
    (hot_dir / "bundle.json").write_text(json.dumps({**meta, "temperature": 4.0}))
    p_hot = predict_contents([photo_bytes["lemon"]], load_bundle(hot_dir))[0]
    p_cold = predict_contents([photo_bytes["lemon"]], load_bundle(mobilenet_bundle))[0]
    assert p_hot.label == p_cold.label == "lemon"
    assert p_hot.score < p_cold.score  # a higher temperature flattens the distribution


def _colour_model(path, layout="NCHW"):
    """An ONNX model written directly with onnx.helper (not torch's exporter):
    mean colour per channel -> features, then a fixed linear map -> logits
    for the labels red, green, blue."""
    import onnx
    from onnx import TensorProto, helper

    if layout == "NCHW":
        shape, axes = ["N", 3, 32, 32], [2, 3]
    else:
        shape, axes = ["N", 32, 32, 3], [1, 2]
    w = np.eye(3, dtype=np.float32) * 10.0
    b = np.zeros(3, dtype=np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["image", "axes"], ["features"], keepdims=0),
        helper.make_node("MatMul", ["features", "W"], ["mm"]),
        helper.make_node("Add", ["mm", "B"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "colour_classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3]),
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 3]),
        ],
        initializer=[
            helper.make_tensor("axes", TensorProto.INT64, [2], axes),
            helper.make_tensor("W", TensorProto.FLOAT, [3, 3], w.flatten()),
            helper.make_tensor("B", TensorProto.FLOAT, [3], b),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="hand"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _jpeg(rgb):
    buf = io.BytesIO()
    Image.new("RGB", (48, 40), rgb).save(buf, "JPEG", quality=95)
    return buf.getvalue()


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_import_foreign_onnx_model(tmp_path, layout):
    src = _colour_model(tmp_path / "colour.onnx", layout)
    spec = PreprocessSpec(input_size=32, resize=36, mean=(0, 0, 0), std=(255, 255, 255))
    b = import_onnx(
        src, spec, tmp_path / "bundle", ["red", "green", "blue"],
        logits_output="scores", features_output="features", layout=layout,
    )  # fmt: skip
    loaded = load_bundle(tmp_path / "bundle")
    assert loaded.source == "import" and loaded.input_name == "image" and loaded.layout == layout
    assert loaded.feature_dim == 3 and loaded.extra["producer"] == "hand"
    photos = [_jpeg((250, 5, 5)), _jpeg((5, 250, 5)), _jpeg((5, 5, 250)), b"<html>"]
    preds = predict_contents(photos, b, InferenceConfig(topk=2), embed=True)
    assert [p.label for p in preds[:3]] == ["red", "green", "blue"]
    assert preds[0].embedding[0] > 0.9 and preds[0].embedding[1] < 0.1
    assert preds[3].error is not None and "HTML" in preds[3].error


def test_import_checks_labels_against_the_model(tmp_path):
    src = _colour_model(tmp_path / "colour.onnx")
    spec = PreprocessSpec(input_size=32, resize=36)
    with pytest.raises(BundleError, match="4 labels"):
        import_onnx(src, spec, tmp_path / "b", ["a", "b", "c", "d"], logits_output="scores")
    with pytest.raises(BundleError, match="not an output"):
        import_onnx(src, spec, tmp_path / "b", ["a", "b", "c"], logits_output="probs")
    wrong = PreprocessSpec(input_size=64, resize=64)
    with pytest.raises(BundleError, match="did not run"):
        import_onnx(src, wrong, tmp_path / "b", ["a", "b", "c"], logits_output="scores")
    assert not (tmp_path / "b").exists()


def test_sessions_are_cached_per_process(mobilenet_bundle):
    b = load_bundle(mobilenet_bundle)
    assert get_session(b.onnx_path, 1) is get_session(b.onnx_path, 1)
    assert get_session(b.onnx_path, 1) is not get_session(b.onnx_path, 2)


def test_cli_import_onnx(tmp_path, capsys):
    from crowdlens.cli import main

    src = _colour_model(tmp_path / "colour.onnx")
    labels = tmp_path / "labels.txt"
    labels.write_text("red\ngreen\nblue\n")
    args = ["import-onnx", str(src), "--out", str(tmp_path / "b"), "--labels", str(labels)]
    args += ["--input-size", "32", "--mean", "0,0,0", "--std", "255,255,255"]
    args += ["--logits-output", "scores", "--features-output", "features"]
    assert main(args) == 0
    assert "source import" in capsys.readouterr().out
    b = load_bundle(tmp_path / "b")
    assert b.labels == ("red", "green", "blue") and b.preprocess.resize == 37
    assert predict_contents([_jpeg((5, 250, 5))], b)[0].label == "green"
    assert main([*args[:4], "--labels", str(labels), "--mean", "1,2"]) == 2
    assert "three numbers" in capsys.readouterr().err
