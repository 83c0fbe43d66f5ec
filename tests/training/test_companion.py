"""Companion backbones beside the tail: the weight chosen out of fold, the same features in
training and in the bundle, the exported fusion.

Real pretrained EfficientNet-Lite0 (main) and MobileNetV2 (companion), real
grocery photos, real Spark for the feature pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from crowdlens import schema as S  # noqa: E402
from crowdlens.errors import CrowdlensError  # noqa: E402
from crowdlens.training.companion import (  # noqa: E402
    WEIGHTS,
    choose_weight,
    fit_companions,
    fuse,
    with_companions,
)
from crowdlens.training.companion_net import companion_features  # noqa: E402
from crowdlens.training.config import TrainConfig  # noqa: E402


def log_softmax(z):
    from scipy.special import log_softmax

    return log_softmax(np.asarray(z, np.float64), axis=1)


MAIN, OTHER = "efficientnet_lite0", "mobilenet_v2"
CLASSES = ("Granny-Smith", "Banana", "Oatly-Natural-Oatghurt")


def test_fuse_is_the_main_model_alone_at_weight_zero_and_sums_log_probabilities_else():
    main = np.array([[2.0, 0.0, -1.0]])
    other = np.array([[0.0, 3.0, 0.0]])
    assert np.array_equal(fuse(main, other, 0.0), main.astype(np.float32))
    np.testing.assert_allclose(
        fuse(main, other, 0.5), (log_softmax(main) + 0.5 * log_softmax(other)) / 1.5, rtol=1e-6
    )
    assert np.allclose(np.exp(log_softmax(main)).sum(1), 1.0)


def test_the_weight_is_the_smallest_with_the_best_out_of_fold_top1():
    y = np.array([0, 1, 2, 0])
    main = np.eye(3)[[0, 1, 1, 0]] * 2.0  # wrong on row 2
    helpful = np.eye(3)[[0, 1, 2, 0]] * 4.0
    weight, top1 = choose_weight(main, helpful, y)
    assert weight > 0 and top1[str(weight)] == 1.0 and top1["0.0"] == 0.75
    assert all(top1[str(w)] < 1.0 for w in WEIGHTS if w < weight)
    # a companion that adds nothing stays out (ties go to the smaller weight)
    assert choose_weight(main, main, y)[0] == 0.0


def test_the_backbone_is_never_its_own_companion():
    cfg = TrainConfig(mode="tail", backbone=MAIN).resolved()
    assert cfg.companion_backbones() == (OTHER,)
    assert TrainConfig().resolved().companion_backbones() == (MAIN, OTHER)  # around Lite2
    with pytest.raises(CrowdlensError, match="companions"):
        TrainConfig(companions=("",))


def _pixels(shared_data, main=MAIN, n=2):
    from crowdlens.models.preprocess import eval_pixels, load_image
    from crowdlens.models.registry import get_pretrained_config

    spec = get_pretrained_config(main).preprocess
    paths = sorted((shared_data / "train").rglob("Banana/*.jpg"))[:n]
    return np.stack([eval_pixels(load_image(p.read_bytes(), spec), spec) for p in paths])


@pytest.mark.parametrize("main, other", [(MAIN, OTHER), ("efficientnet_lite2", MAIN)])
def test_companion_features_are_the_companions_own_on_the_same_crop(shared_data, main, other):
    from torch.nn import functional as F

    from crowdlens.models.preprocess import normalize_batch
    from crowdlens.models.registry import create_model, get_pretrained_config

    px = _pixels(shared_data, main)  # the main network's crop (260 px for Lite2)
    x = normalize_batch(px, get_pretrained_config(main).preprocess)
    got = companion_features((other,), main, x)
    net = create_model(other, pretrained=True, num_classes=0).eval()
    spec = net.pretrained_cfg.preprocess
    crop = torch.from_numpy(px.astype(np.float32)).permute(0, 3, 1, 2)
    if crop.shape[-1] != spec.input_size:  # Lite2's 260 px crop, resized for Lite0
        crop = F.interpolate(crop, size=(spec.input_size,) * 2, mode="bilinear")
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (spec.mean, spec.std))
    with torch.no_grad():  # the same crop, normalised the companion's way
        want = net.forward_features((crop - mean) / std).numpy()
    np.testing.assert_allclose(got, want, atol=1e-3)


def test_the_exported_bundle_judges_with_the_fused_logits(shared_data, tmp_path):
    from crowdlens.models.export import export_bundle
    from crowdlens.models.preprocess import normalize_batch
    from crowdlens.models.runtime import new_session
    from crowdlens.training import tail_pack
    from crowdlens.training.probe import fit_probe

    main = tail_pack.pretrained_network(
        {"backbone": MAIN, "tail_blocks": 1, "flip": False, "classes": 3}
    )
    x = normalize_batch(_pixels(shared_data, n=3), main.pretrained_cfg.preprocess)
    feats = companion_features((OTHER,), MAIN, x)
    probe = fit_probe(feats, np.arange(3), 3)
    model = with_companions(main, (OTHER,), probe, 0.75)
    export_bundle(model, model.pretrained_cfg, tmp_path / "B", list(CLASSES))
    sess = new_session(tmp_path / "B" / "model.onnx", threads=1)
    logits, features = sess.run(["logits", "features"], {"input": x})
    with torch.no_grad():
        alone = main(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits, fuse(alone, probe.logits(feats), 0.75), atol=1e-3)
    assert features.shape == (3, 1280 + 1280)


@pytest.mark.spark
def test_fit_companions_on_real_photos_through_spark(spark, shared_data, tmp_path):
    paths, y = [], []
    for c, name in enumerate(CLASSES):
        found = sorted((shared_data / "train").rglob(f"{name}/*.jpg"))[:6]
        paths += [str(p) for p in found]
        y += [c] * len(found)
    y = np.array(y)
    table = pd.DataFrame({S.PATH: paths})
    folds = np.arange(len(y)) % 2
    cfg = TrainConfig(mode="tail", companions=(OTHER,), features_cache=str(tmp_path / "fc"))
    cfg = cfg.resolved()
    # a main model that knows apples and bananas, and calls every oatghurt a banana
    main = np.eye(3, dtype=np.float32)[np.minimum(y, 1)] * 3.0
    comp = fit_companions(spark, table, table.iloc[:4], main, y, folds, 3, cfg, tmp_path)
    assert comp.oof_logits.shape == (len(y), 3) and comp.val_logits.shape == (4, 3)
    assert (comp.oof_logits.argmax(1) == y).mean() > 0.8  # each photo by a probe that never saw it
    assert comp.weight > 0 and comp.describe()["used"] and comp.probe is not None
    assert comp.top1[str(comp.weight)] > comp.top1["0.0"] == pytest.approx(2 / 3)
    assert "out-of-fold top-1" in comp.summary() and OTHER in comp.summary()
    assert any((tmp_path / "fc").iterdir())  # the features are cached for the next run
    # a main model that is always right: the companions stay out, nothing is fitted
    perfect = np.eye(3, dtype=np.float32)[y] * 3.0
    alone = fit_companions(spark, table, table.iloc[:4], perfect, y, folds, 3, cfg, tmp_path)
    assert alone.weight == 0 and alone.probe is None and not alone.describe()["used"]
    assert np.array_equal(fuse(perfect, alone.oof_logits, alone.weight), perfect)
    assert "not used" in alone.summary()
