"""Fine-tuning from a trained head ("linear probe, then fine-tune").

The head is the shipped grocery model's (trained on these same photos); the
fine-tune runs in-process on real photos.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from crowdlens.config import IngestConfig
from crowdlens.errors import ConfigError, CrowdlensError
from crowdlens.models.head_bundle import load_head
from crowdlens.training.config import TrainConfig
from crowdlens.training.finetune import (
    aligned_head,
    build_model,
    init_classifier,
)

CLASSES = ("Lime", "Avocado", "Banana")


def test_head_rows_follow_the_training_labels_by_name(grocery_model):
    known, weight, bias, arch = load_head(grocery_model)
    assert arch == "efficientnet_lite0" and weight.shape == (len(known), 1280)
    w, b, mask = aligned_head(str(grocery_model), ["Lime", "Not-A-Grocery", "Avocado"], arch)
    assert mask.tolist() == [True, False, True]
    assert np.array_equal(w[0], weight[known.index("Lime")])
    assert np.array_equal(w[2], weight[known.index("Avocado")])
    assert b[2] == bias[known.index("Avocado")] and not w[1].any()


def test_a_head_from_another_backbone_or_with_no_shared_label_is_refused(grocery_model):
    with pytest.raises(CrowdlensError, match="trained on 'efficientnet_lite0' features"):
        aligned_head(str(grocery_model), CLASSES, "mobilenetv3_large_100")
    with pytest.raises(CrowdlensError, match="shares no label"):
        aligned_head(str(grocery_model), ("Spam", "Eggs"), "efficientnet_lite0")
    with pytest.raises(ConfigError, match="init_head"):
        TrainConfig(mode="head", init_head=str(grocery_model))


def test_unknown_labels_keep_their_random_rows(grocery_model):
    labels = ("Lime", "Not-A-Grocery")
    model = build_model(TrainConfig(mode="finetune"), len(labels))
    before = model.get_classifier().weight.detach().numpy().copy()
    init_classifier(model, aligned_head(str(grocery_model), labels, "efficientnet_lite0"))
    after = model.get_classifier().weight.detach().numpy()
    known, weight, _, _ = load_head(grocery_model)
    assert np.array_equal(after[0], weight[known.index("Lime")])
    assert np.array_equal(after[1], before[1])


def test_frozen_batchnorm_keeps_its_statistics_in_train_mode():
    import torch

    from crowdlens.training.finetune import freeze_batchnorm, param_groups

    model = build_model(TrainConfig(mode="finetune"), 3)
    n = freeze_batchnorm(model)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert n == len(bns) > 10
    before = [b.running_mean.clone() for b in bns]
    model.train()
    assert model.training and not any(b.training for b in bns)
    model(torch.randn(2, 3, 64, 64) * 5 + 3)  # far from ImageNet statistics
    assert all(torch.equal(b.running_mean, m) for b, m in zip(bns, before, strict=True))
    trained = {
        id(p) for g in param_groups(model, TrainConfig(mode="finetune")) for p in g["params"]
    }
    assert not any(id(p) in trained for b in bns for p in b.parameters())


@pytest.mark.slow
def test_finetuning_from_the_head_starts_where_the_head_left_off(
    grocery_model, shared_data, tmp_path
):
    """One epoch at a tiny rate barely moves the weights, so the validation top-1
    of the exported bundle is the head's: right on (nearly) every photo with the
    head, not without. Runs the whole ``train`` API (one process, no Spark)."""
    from crowdlens.training.api import train

    def manifest(split: str, n: int):
        rows = ["path,label"]
        for name in CLASSES:
            rows += [
                f"{p},{name}" for p in sorted((shared_data / split).rglob(f"{name}/*.jpg"))[:n]
            ]
        path = tmp_path / f"{split}.csv"
        path.write_text("\n".join(rows) + "\n")
        return path

    train_csv, val_csv = manifest("train", 2), manifest("val", 4)
    cfg = TrainConfig(
        mode="finetune", epochs=1, batch_size=6, lr=1e-6, warmup_epochs=0.0,
        use_distributor=False, freeze_bn=True,
    )  # fmt: skip

    def top1(init_head) -> float:
        out = tmp_path / f"bundle-{bool(init_head)}"
        report = train(
            train_csv,
            val_csv,
            out,
            dataclasses.replace(cfg, init_head=init_head),
            ingest=IngestConfig(allowed_roots=(str(shared_data),)),  # manifests in tmp_path
        )
        assert report["val"]["n"] == 12 and (out / "bundle.json").is_file()
        return report["val"]["top1"]

    with_head = top1(str(grocery_model))
    without = top1(None)  # the same run from a random classifier (seed 0)
    assert with_head >= 10 / 12
    assert without < with_head
