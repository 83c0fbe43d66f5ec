"""``finetune`` and ``scratch`` modes: the training function every process runs.

:func:`train_worker` is a module-level function of one picklable
:class:`FinetuneJob`, so the same code runs in a plain process, under
``torchrun`` and under ``TorchDistributor`` (it reads RANK / WORLD_SIZE via
the :class:`~crowdlens.training.trainer.Trainer`). Rank 0 writes the weights
atomically and returns the metrics and the validation logits (for the
temperature fit on the driver).

Example::

    job = FinetuneJob(train_paths, train_targets, val_paths, val_targets, labels,
                      cfg.resolved(), spec.to_dict(), "out/weights.pt")
    result = train_worker(job)                       # one process
    result = run_distributed(train_worker, job, num_processes=2)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from crowdlens.io.atomic import atomic_path
from crowdlens.training.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinetuneJob:
    """Everything a training process needs (paths, not pixels: each process reads photos)."""

    train_paths: tuple[str, ...]
    train_targets: tuple[int, ...]
    val_paths: tuple[str, ...]
    val_targets: tuple[int, ...]
    labels: tuple[str, ...]
    cfg: TrainConfig
    spec: dict[str, Any]
    weights_out: str
    # init_head: (weight [labels, features], bias, matched-row mask) in ``labels`` order
    init_head: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def aligned_head(
    path: str, labels: tuple[str, ...] | list[str], backbone: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The head of the bundle at ``path``, its rows put in ``labels`` order (by name).

    Labels the bundle does not know keep a zero row and ``False`` in the mask
    (the worker leaves those rows at their random initialisation). This is the
    "linear probe, then fine-tune" recipe: starting from a trained head keeps
    the first updates from wrecking the pretrained features with the gradients
    of a random classifier.
    """
    from crowdlens.errors import CrowdlensError
    from crowdlens.models.head_bundle import load_head

    known, weight, bias, arch = load_head(path)
    if arch != backbone:
        raise CrowdlensError(
            f"init_head {path!r} was trained on {arch!r} features but this run fine-tunes "
            f"{backbone!r}; pass --backbone {arch} or a head trained on {backbone}"
        )
    row = {lab: i for i, lab in enumerate(known)}
    mask = np.array([lab in row for lab in labels], dtype=bool)
    if not mask.any():
        raise CrowdlensError(
            f"init_head {path!r} shares no label with the training data "
            f"(it knows e.g. {known[:3]}, the data has e.g. {list(labels)[:3]})"
        )
    w = np.zeros((len(labels), weight.shape[1]), dtype=np.float32)
    b = np.zeros(len(labels), dtype=np.float32)
    for i, lab in enumerate(labels):
        if lab in row:
            w[i], b[i] = weight[row[lab]], bias[row[lab]]
    return w, b, mask


def init_classifier(model: Any, head: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Copy the matched rows of an aligned head into the model's linear classifier."""
    import torch

    weight, bias, mask = head
    fc = model.get_classifier()
    if tuple(fc.weight.shape) != weight.shape:
        raise ValueError(f"classifier is {tuple(fc.weight.shape)}, the head {weight.shape}")
    rows = torch.from_numpy(np.flatnonzero(mask))
    with torch.no_grad():
        fc.weight[rows] = torch.from_numpy(weight[mask])
        fc.bias[rows] = torch.from_numpy(bias[mask])


def _threads_per_process() -> int:
    local = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    return max(1, (os.cpu_count() or 1) // max(1, local))


def build_model(cfg: TrainConfig, num_classes: int, pretrained: bool | None = None) -> Any:
    """The network of a finetune/scratch run: pretrained unless ``scratch``
    (``pretrained=False``: the bare network, for loading trained weights into)."""
    from crowdlens.models.registry import create_model

    if pretrained is None:
        pretrained = cfg.mode != "scratch"
    backbone = cfg.resolved().backbone
    return create_model(backbone, pretrained=pretrained, num_classes=num_classes)


def freeze_batchnorm(model: Any) -> int:
    """Keep every BatchNorm layer in eval mode (pretrained running statistics,
    frozen affine weights), whatever ``model.train()`` says; returns how many.

    With a few photos per process and step, batch statistics are noisy and
    drift away from the ones the pretrained weights expect.
    """
    import types

    from torch import nn

    def stay_in_eval(self: nn.Module, mode: bool = True) -> nn.Module:
        return nn.Module.train(self, False)

    n = 0
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train = types.MethodType(stay_in_eval, m)
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
            n += 1
    return n


def param_groups(model: Any, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Backbone at lr x backbone_lr_scale (leading freeze_fraction frozen), head at lr."""
    head_ids = {id(p) for p in model.get_classifier().parameters()}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    n_frozen = int(len(backbone) * cfg.freeze_fraction)
    for p in backbone[:n_frozen]:
        p.requires_grad_(False)
    scale = 1.0 if cfg.mode == "scratch" else cfg.backbone_lr_scale
    groups = [{"params": [p for p in model.get_classifier().parameters()], "lr_scale": 1.0}]
    trainable = [p for p in backbone[n_frozen:] if p.requires_grad]
    if trainable and scale > 0:
        groups.append({"params": trainable, "lr_scale": scale})
    else:
        for p in trainable:
            p.requires_grad_(False)
    return groups


def train_worker(job: FinetuneJob) -> dict[str, Any] | None:
    """Train (or resume) on this process's shard; rank 0 returns the results."""
    import torch

    from crowdlens.models.preprocess import PreprocessSpec
    from crowdlens.training.from_config import make_trainer
    from crowdlens.training.ranks import init_process_group

    torch.set_num_threads(_threads_per_process())
    rank, size = init_process_group()
    cfg = job.cfg
    spec = PreprocessSpec.from_dict(job.spec)
    from crowdlens.training.data import PhotoDataset

    train = PhotoDataset(job.train_paths, job.train_targets, spec, train=True, seed=cfg.seed)
    val = PhotoDataset(job.val_paths, job.val_targets, spec, train=False)
    torch.manual_seed(cfg.seed)  # same initial head on every rank (DDP also broadcasts it)
    model = build_model(cfg, len(job.labels))
    if job.init_head is not None:
        init_classifier(model, job.init_head)
    if cfg.freeze_bn:
        freeze_batchnorm(model)  # before param_groups: frozen tensors get no optimiser slot
    trainer = make_trainer(
        model,
        cfg,
        val,
        param_groups=param_groups(model, cfg),
        channels_last=True,  # ~1.5x faster convolutions on this CPU (DESIGN.md)
    )
    resume = cfg.checkpoint_dir if cfg.resume else None
    result = trainer.fit(train, resume=resume)
    failed = len(train.failed)
    if rank != 0:
        return None
    model = result.model.eval()
    logits: list[np.ndarray] = []
    good: list[int] = []
    with torch.no_grad():
        for i in range(0, len(val), 32):
            items = [(j, val[j]) for j in range(i, min(i + 32, len(val)))]
            items = [(j, it) for j, it in items if it is not None]
            if items:
                x = torch.from_numpy(np.stack([it[0] for _, it in items]))
                logits.append(model(x.contiguous(memory_format=torch.channels_last)).numpy())
                good.extend(j for j, _ in items)
    with atomic_path(job.weights_out) as tmp:
        torch.save(model.state_dict(), tmp)
    return {
        "metrics": result.metrics,
        "history": result.history,
        "skipped_train": failed,
        "skipped_val": len(val.failed),
        "val_logits": np.concatenate(logits) if logits else np.zeros((0, len(job.labels))),
        "val_rows": good,
        "photos_seen": result.state.photos_seen,
        "world_size": size,
    }
