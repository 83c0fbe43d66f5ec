"""Companion backbones: other pretrained networks' opinion beside the tuned tail.

The tuned EfficientNet-Lite2 of ``tail`` mode and a ridge probe on the
pooled features of *other* pretrained networks (EfficientNet-Lite0 and
MobileNetV2 by default: another size, another family) get different photos
wrong. The bundle judges with both::

    fused = (log_softmax(tail logits) + weight x log_softmax(probe logits)) / (1 + weight)

``weight`` is chosen by out-of-fold top-1 on the training photos, on the
tail's own calibration folds (:data:`WEIGHTS`; ties go to the smaller weight,
so companions that do not help get weight 0 and stay out of the bundle).
Measured on val (docs/training.md, "Companion backbones"): the probe alone
reaches ~0.78, the tail 0.828, the fused 0.85-0.86.

The companions see exactly the main network's input: its crop, turned back
into pixels, resized to each companion's input size and normalised its way,
inside the exported graph
(:func:`crowdlens.training.companion_net.companion_network`). Their training
features come from the same module, so training and judging agree.

Example::

    comp = fit_companions(spark, train_t, val_t, oof, y, folds, 81, cfg, work)
    oof = fuse(oof, comp.oof_logits, comp.weight)
    model = with_companions(model, comp.names, comp.probe, comp.weight)  # to export
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crowdlens import schema as S

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import SparkSession

    from crowdlens.training.config import TrainConfig
    from crowdlens.training.probe import LinearProbe

log = logging.getLogger(__name__)

#: The companions' weights tried out of fold (0 = the tail alone; 2 = a third the tail's say).
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


def fuse(main: np.ndarray, companion: np.ndarray, weight: float) -> np.ndarray:
    """The bundle's logits: ``main`` alone at weight 0, else the weighted mean of both
    log-probabilities (a weighted geometric mean of the two models' probabilities).

    The mean keeps the fused logits on the scale of one model's, so the
    temperature and the text evidence's weight mean what they mean for the
    tail alone. (``log_softmax(main)`` differs from ``main`` by a constant
    per row: softmax, ranks and temperatures are the same either way.)

    >>> fuse(np.array([[0.0, 1.0]]), np.array([[5.0, 0.0]]), 0.0).tolist()
    [[0.0, 1.0]]
    """
    from scipy.special import log_softmax

    if weight == 0:
        return np.asarray(main, np.float32)
    main, companion = np.asarray(main, np.float64), np.asarray(companion, np.float64)
    fused = (log_softmax(main, axis=1) + weight * log_softmax(companion, axis=1)) / (1.0 + weight)
    return fused.astype(np.float32)


def choose_weight(
    main: np.ndarray, companion: np.ndarray, y: np.ndarray, weights: tuple[float, ...] = WEIGHTS
) -> tuple[float, dict[str, float]]:
    """(weight, top-1 per weight) with the best top-1 of ``fuse``; ties go to the smaller."""
    scores = {w: float((fuse(main, companion, w).argmax(1) == y).mean()) for w in weights}
    best = max(scores.values())
    return min(w for w, s in scores.items() if s == best), {str(w): s for w, s in scores.items()}


@dataclass(frozen=True)
class Companions:
    """The fitted companions: their probe, weight, and logits on train (out of fold) and val."""

    names: tuple[str, ...]
    probe: LinearProbe | None  # None when the weight is 0 (not fitted)
    weight: float
    oof_logits: np.ndarray
    val_logits: np.ndarray
    top1: dict[str, float]

    def describe(self) -> dict[str, Any]:
        """What the bundle records (``extra.companions``) and the report shows."""
        return {
            "backbones": list(self.names),
            "weight": self.weight,
            "used": self.weight > 0,
            "out_of_fold_top1": self.top1,
        }

    def summary(self) -> str:
        """One line for ``crowdlens train chose:``."""
        alone, best = self.top1["0.0"], self.top1[str(self.weight)]
        who = " + ".join(self.names)
        if self.weight == 0:
            return f"not used: {who} did not raise out-of-fold top-1 ({alone:.3f})"
        return (
            f"{who} (ridge probe on the same crop), weight {self.weight}: "
            f"out-of-fold top-1 {alone:.3f} -> {best:.3f}"
        )


def _views(
    spark: SparkSession, table: pd.DataFrame, cfg: TrainConfig, work: Path
) -> tuple[list[np.ndarray], np.ndarray]:
    """(photo and mirror views of the companions' features, rows whose features exist)."""
    from crowdlens.training.head import feature_views

    assert cfg.backbone is not None
    views, out = feature_views(
        spark,
        table,
        [cfg.backbone],
        cache=cfg.features_dir(work),
        companions=cfg.companion_backbones(),
    )
    return views, (out[S.STATUS] == S.STATUS_OK).to_numpy()


def fit_companions(
    spark: SparkSession,
    train: pd.DataFrame,
    val: pd.DataFrame,
    oof: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    n_classes: int,
    cfg: TrainConfig,
    work: Path,
) -> Companions:
    """Fit the companions' probe beside the tail whose out-of-fold logits are ``oof``.

    ``train`` and ``val`` are the photos the tail trained and was measured on
    (rows aligned with ``oof`` / ``y`` and with the val logits). The probe
    is fitted on the photo and its mirror image and judges the photo alone,
    out of fold on the tail's ``folds``. A photo whose companion features
    could not be computed (it decoded for the tail, not here) gets uniform
    companion logits, i.e. the tail alone decides it.
    """
    from crowdlens.training.probe import DEFAULT_L2, fit_probe, out_of_fold_logits, stack_views

    names = cfg.companion_backbones()
    xs, ok = _views(spark, train, cfg, work)
    comp_oof = np.zeros((len(y), n_classes), np.float32)
    comp_oof[ok] = out_of_fold_logits(
        [v[ok] for v in xs], y[ok], folds[ok], n_classes, DEFAULT_L2, predict_views=1
    )
    weight, top1 = choose_weight(oof, comp_oof, y)
    log.info("companions %s: weight %s (out-of-fold top-1 %s)", names, weight, top1)
    probe, val_logits = None, np.zeros((len(val), n_classes), np.float32)
    if weight > 0:
        rows = np.flatnonzero(ok)
        probe = fit_probe(
            stack_views(xs, rows), np.tile(y[rows], len(xs)), n_classes, l2=DEFAULT_L2
        )
        if len(val):
            vx, vok = _views(spark, val, cfg, work)
            val_logits[vok] = probe.logits(vx[0][vok])
    return Companions(names, probe, weight, comp_oof, val_logits, top1)


def with_companions(model: Any, names: tuple[str, ...], probe: Any, weight: float) -> Any:
    """The exported network: ``model`` (features + classifier) and the companions' probe.

    ``forward_features`` = the model's features and the companions' features,
    concatenated; ``get_classifier()`` splits them again and returns
    :func:`fuse` of the two classifiers. ``probe`` is a
    :class:`~crowdlens.training.probe.LinearProbe`, or ``None`` for a new
    (seeded, untrained) one of the right shape.
    """
    import torch
    from torch import nn

    from crowdlens.training.companion_net import companion_network
    from crowdlens.training.probe import DEFAULT_POWER

    companions = companion_network(names, model.pretrained_cfg.preprocess)
    split = int(model.get_classifier().in_features)
    n_classes = int(model.get_classifier().out_features)
    with torch.no_grad():
        size = model.pretrained_cfg.preprocess.input_size
        dim = int(companions(torch.zeros(1, 3, size, size)).shape[1])
    linear = nn.Linear(dim, n_classes)
    power = DEFAULT_POWER
    if probe is not None:
        from crowdlens.training.tail import set_linear

        set_linear(linear, probe.weight, probe.bias)
        power = probe.power

    class FusedHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc, self.probe = model.get_classifier(), linear
            self.register_buffer("weight", torch.tensor(float(weight)))

        def forward(self, f: torch.Tensor) -> torch.Tensor:
            main = torch.log_softmax(self.fc(f[:, :split]), dim=1)
            other = self.probe(f[:, split:].clamp(min=0).pow(power))
            return (main + self.weight * torch.log_softmax(other, dim=1)) / (1 + self.weight)

    class WithCompanions(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model, self.companions, self.head = model, companions, FusedHead()

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([self.model.forward_features(x), self.companions(x)], dim=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.forward_features(x))

        def get_classifier(self) -> nn.Module:
            return self.head

    out: Any = WithCompanions().eval()
    out.pretrained_cfg = model.pretrained_cfg
    out.model_name = f"{model.model_name}+{'+'.join(names)}"
    return out
