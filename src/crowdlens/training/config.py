"""``TrainConfig``: every setting of ``crowdlens train``, validated once.

It is the ``[train]`` section of a crowdlens TOML file; command-line flags
override it. Settings left at ``None`` take the mode's default (see
:meth:`TrainConfig.resolved`): a linear head trains well at a high rate for
many cheap epochs, fine-tuning a pretrained network wants a low rate.

Example::

    cfg = TrainConfig(mode="finetune", epochs=5, num_processes=2).resolved()
    cfg.lr   # 0.01
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from crowdlens.params import (
    Interval,
    NonEmpty,
    Options,
    OrNone,
    Params,
    Rule,
    Satisfies,
    validate,
)
from crowdlens.training.optim import OPTIMIZERS, SCHEDULES

MODES = ("probe", "head", "finetune", "scratch", "tail")
DEFAULT = "the mode's default"

# Per-mode defaults for the settings left at None.
# ``tail`` (the default, issue #12): the last block of EfficientNet-Lite2 fine-tuned
# on cached activations of the frozen trunk, flip TTA (docs/training.md).
# ``probe`` is the measured best of the frozen-feature levers: Lite2 features of
# the photo and its mirror image, a ridge probe on sqrt-normalised features.
MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "probe": {"backbone": "efficientnet_lite2", "epochs": 1, "lr": 1.0, "batch_size": 64},
    "head": {"epochs": 30, "lr": 0.1, "batch_size": 64, "warmup_epochs": 0.0},
    "finetune": {"epochs": 8, "lr": 0.01, "batch_size": 32, "warmup_epochs": 1.0},
    "scratch": {"epochs": 40, "lr": 0.05, "batch_size": 32, "warmup_epochs": 1.0},
    # tail (issue #12): the last block of Lite2 on cached activations (docs/training.md)
    "tail": {"backbone": "efficientnet_lite2", "epochs": 2, "lr": 0.01, "batch_size": 64},
}
# tail mode's companion backbones (another size, another family: docs/training.md)
COMPANIONS = ("efficientnet_lite0", "mobilenet_v2")
for _mode, _defaults in MODE_DEFAULTS.items():
    _defaults.setdefault("backbone", "inception_v1" if _mode == "scratch" else "efficientnet_lite0")
    _defaults.setdefault("warmup_epochs", 0.0)


def companions_ok(names: Any) -> bool:
    """Distinct registry models with pretrained weights (``[train]``/``[audit] companions``)."""
    from crowdlens.models.registry import get_pretrained_config, list_models

    if not isinstance(names, tuple | list) or len(set(names)) != len(names):
        return False
    known = set(list_models())
    return all(n in known and get_pretrained_config(n).has_weights for n in names)


#: The check of a ``companions`` setting, shared by ``[train]`` and ``[audit]``.
COMPANIONS_CHECK = Satisfies(
    companions_ok, "a list of distinct registry model names with pretrained weights (empty = none)"
)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run (``crowdlens train``)."""

    mode: str = "tail"
    backbone: str | None = None  # default per mode (MODE_DEFAULTS)
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: float | None = None
    grad_clip_norm: float = 0.0
    head_hidden: int = 0  # 0 = linear softmax head; > 0 = MLP with this many hidden units
    dropout: float = 0.2
    flip_features: bool = True  # head mode: add mirrored-photo features to the training set
    backbone_lr_scale: float = 0.1  # finetune: backbone rate = lr x this (the new head gets lr)
    freeze_fraction: float = 0.0  # finetune: freeze this leading fraction of backbone tensors
    init_head: str | None = None  # finetune: start the classifier from this head-mode bundle
    freeze_bn: bool = False  # finetune: BatchNorm keeps its pretrained statistics (eval mode)
    input_size: int | None = None  # smaller than the model's own for quick runs (finetune/scratch)
    label_column: str = "label"
    parent_label_column: str | None = None
    min_per_class: int = 2
    max_per_class: int = 0  # 0 = all photos; > 0 caps photos per class (quick runs)
    classes: tuple[str, ...] = ()  # train on these classes only (default: all)
    num_processes: int = 1
    local_mode: bool = True  # TorchDistributor: processes on the driver (True) or in tasks
    use_distributor: bool = True  # finetune/scratch: launch through TorchDistributor
    seed: int = 0
    checkpoint_dir: str | None = None
    tensorboard_dir: str | None = None
    resume: bool = False
    features_cache: str | None = None  # head/probe mode: Parquet cache of features
    l2: float = 0.03  # probe mode: ridge penalty (x rows) on standardised features
    cv_folds: int = 5  # probe/tail mode: folds for the temperature and verdict thresholds
    tail_blocks: int = 1  # tail mode: how many last blocks train (the rest is a cached trunk)
    tail_shift: int = 1  # tail mode: random shift of the activation map (cells) in training
    tail_cv_folds: int = 2  # tail mode: folds of the (costly) CV for temperature and thresholds
    tail_tta: bool = False  # tail mode: export flip TTA (measured no better, twice the cost)
    tail_aug_views: int = 8  # tail mode: augmented training views per photo beside photo + mirror
    # tail mode: fuse a text model of the photos' OCR text with the image model when the
    # training photos' text shows it helps (crowdlens.training.text_evidence)
    text_evidence: bool = True
    # tail mode: other pretrained backbones whose ridge probe joins the tail when the
    # training photos show it helps (crowdlens.training.companion); () = the tail alone;
    # the backbone itself is skipped if listed
    companions: tuple[str, ...] = COMPANIONS

    PARAMS: ClassVar[Params] = {
        "mode": Options(MODES),
        "optimizer": Options(OPTIMIZERS),
        "schedule": Options(SCHEDULES),
        "epochs": OrNone(Interval(int, 1, None), DEFAULT),
        "batch_size": OrNone(Interval(int, 1, None), DEFAULT),
        "lr": OrNone(Interval(float, 0, None, closed="neither"), DEFAULT),
        "warmup_epochs": OrNone(Interval(float, 0, None), DEFAULT),
        "input_size": OrNone(Interval(int, 32, None), "the model's own"),
        "momentum": Interval(float, 0, 1, closed="left"),
        "weight_decay": Interval(float, 0, None),
        "grad_clip_norm": Interval(float, 0, None, note="0 = off"),
        "head_hidden": Interval(int, 0, None),
        "dropout": Interval(float, 0, 1, closed="left"),
        "backbone_lr_scale": Interval(float, 0, None),
        "freeze_fraction": Interval(float, 0, 1),
        "min_per_class": Interval(int, 1, None),
        "max_per_class": Interval(int, 0, None, note="0 = all"),
        "num_processes": Interval(int, 1, None),
        "l2": Interval(float, 0, None),
        "cv_folds": Interval(int, 2, None),
        "tail_blocks": Interval(int, 1, None),
        "tail_shift": Interval(int, 0, None, note="0 = off"),
        "tail_cv_folds": Interval(int, 2, None),
        "tail_aug_views": Interval(int, 0, None, note="0 = the photo and its mirror only"),
        "label_column": NonEmpty("column name"),
        "companions": COMPANIONS_CHECK,
    }

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "init_head",
            lambda c: c.init_head is None or c.mode == "finetune",
            "unset unless mode = 'finetune' (a head-mode bundle to start the classifier from)",
        ),
        Rule(
            "resume",
            lambda c: not c.resume or bool(c.checkpoint_dir),
            "false unless checkpoint_dir is set (--resume needs --checkpoint-dir, "
            "the folder of the run to continue)",
        ),
    )

    def __post_init__(self) -> None:
        validate(self)

    def features_dir(self, work: Path) -> str:
        """Where features (and the photos' text) are cached: ``features_cache``, else in ``work``."""
        return self.features_cache or str(work / "features")

    def resolved(self) -> TrainConfig:
        """A copy with every None filled in from the mode's defaults."""
        changes = {k: v for k, v in MODE_DEFAULTS[self.mode].items() if getattr(self, k) is None}
        return dataclasses.replace(self, **changes)

    def companion_backbones(self) -> tuple[str, ...]:
        """The companions that are not the backbone itself (tail mode)."""
        return tuple(n for n in self.companions if n != self.backbone)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["classes"] = list(self.classes)
        d["companions"] = list(self.companions)
        return d
