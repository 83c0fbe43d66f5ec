"""``tail`` mode pieces: cached trunk activations, the trainable tail, the exported network.

Real pretrained EfficientNet-Lite0 weights (the smaller of the two), no Spark.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crowdlens.errors import CrowdlensError  # noqa: E402
from crowdlens.models.registry import create_model  # noqa: E402
from crowdlens.training.config import TrainConfig  # noqa: E402
from crowdlens.training.groups import calibration_folds  # noqa: E402
from crowdlens.training.tail import (  # noqa: E402
    export_model,
    make_tail,
    tail_logits,
    trunk_activations,
    trunk_blocks_for,
    trunk_forward,
)
from crowdlens.training.tail_mode import fit_tail, out_of_fold, pooled_trunk, trunk_shape  # noqa: E402

BACKBONE = "efficientnet_lite0"


@pytest.fixture(scope="module")
def base():
    return create_model(BACKBONE, pretrained=True, num_classes=0).eval()


@pytest.fixture(scope="module")
def photos():
    rng = np.random.default_rng(0)
    return rng.normal(0, 1, (6, 3, 224, 224)).astype(np.float32)


def test_trunk_blocks_leave_the_last_blocks_to_train(base):
    assert trunk_blocks_for(base, 1) == len(base._blocks) - 1
    with pytest.raises(CrowdlensError, match="tail_blocks"):
        trunk_blocks_for(base, len(base._blocks))


def test_onnx_trunk_matches_the_torch_trunk(base, photos):
    k = trunk_blocks_for(base, 1)
    fast = trunk_activations(BACKBONE, k, photos[:2])
    with torch.no_grad():
        ref = trunk_forward(base, torch.from_numpy(photos[:2]), k).flatten(1).numpy()
    assert fast.shape == ref.shape
    assert np.abs(fast - ref).max() < 1e-3 * np.abs(ref).max()


def test_exported_network_reproduces_the_cached_path_with_flip_tta(base, photos):
    import copy

    k = trunk_blocks_for(base, 1)
    own = copy.deepcopy(base)
    tail = make_tail(own, k, trunk_shape(own, k), num_classes=5)
    with torch.no_grad():
        for p in tail.parameters():  # not the pretrained values: the export must carry them
            p.add_(0.01 * torch.randn_like(p))
        x = torch.from_numpy(photos)
        views = [trunk_forward(own, v, k).flatten(1).numpy() for v in (x, x.flip(3))]
    cached = tail_logits(tail, views)
    model = export_model(own, tail, flip=True)
    with torch.no_grad():
        direct = model(x).numpy()
    assert direct.shape == (6, 5)
    np.testing.assert_allclose(direct, cached, atol=1e-3)


def test_batchnorm_stays_frozen_while_the_tail_trains(base):
    import copy

    k = trunk_blocks_for(base, 1)
    own = copy.deepcopy(base)
    shape = trunk_shape(own, k)
    tail = make_tail(own, k, shape, num_classes=3).train()
    bns = [m for m in tail.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    before = [m.running_mean.clone() for m in bns]
    loss = tail(torch.randn(4, int(np.prod(shape))) * 3).sum()
    loss.backward()
    assert all(torch.equal(b, m.running_mean) for b, m in zip(before, bns))
    assert tail.fc.weight.grad is not None and tail.conv_head.weight.grad is not None


def test_fit_tail_learns_real_photos_and_leaves_the_base_untouched(base, shared_data):
    from crowdlens.models.preprocess import load_image, preprocess

    k = trunk_blocks_for(base, 1)
    spec = base.pretrained_cfg.preprocess
    classes = ("Granny-Smith", "Banana", "Oatly-Natural-Oatghurt")
    paths, y = [], []
    for c, name in enumerate(classes):
        found = sorted((shared_data / "train").rglob(f"{name}/*.jpg"))[:6]
        paths += found
        y += [c] * len(found)
    y = np.array(y)
    x = np.stack([preprocess(load_image(p.read_bytes(), spec), spec) for p in paths])
    views = [trunk_activations(BACKBONE, k, v) for v in (x, x[..., ::-1].copy())]
    before = {n: p.clone() for n, p in base.state_dict().items()}
    cfg = TrainConfig(mode="tail", epochs=2, batch_size=8, tail_cv_folds=2).resolved()
    tail = fit_tail(base, k, views, y, len(classes), cfg)
    assert (tail_logits(tail, views[:1]).argmax(1) == y).mean() > 0.9
    assert all(torch.equal(before[n], p) for n, p in base.state_dict().items())
    # every row predicted by a tail that never saw it
    folds, grouping = calibration_folds(pooled_trunk(views[0], trunk_shape(base, k)), y, 2)
    assert grouping["groups"] <= len(y) and set(folds) == {0, 1}
    oof = out_of_fold(base, k, views, y, folds, len(classes), cfg)
    assert oof.shape == (len(y), len(classes)) and np.isfinite(oof).all()
    assert (oof.argmax(1) == y).mean() > 1 / len(classes)  # better than chance on unseen photos
