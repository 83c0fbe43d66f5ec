"""``probe`` mode, the default of ``crowdlens train``: the best model this machine trains fast.

1. Features of the frozen backbone for every photo and its mirror image,
   computed once on Spark (cached): :func:`crowdlens.training.head.feature_views`.
2. K-fold cross-validation on the training photos (one Spark task per fold):
   out-of-fold logits give the softmax temperature and the verdict thresholds
   (:mod:`crowdlens.training.thresholds`). The validation split is never used
   to fit anything; it is only measured.
3. The final ridge probe on all training photos (both views).
4. The network exported is backbone -> mean of the photo's and its mirror's
   features -> the probe (:mod:`crowdlens.models.tta`).

Example::

    model, val_logits, val_rows, info = train_probe(spark, train, val, labels, parents, cfg, work)
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError
from crowdlens.training.trained import Trained

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import SparkSession

    from crowdlens.training.config import TrainConfig

log = logging.getLogger(__name__)


def usable(views: list[np.ndarray], table: pd.DataFrame, labels: list[str]):
    index = {lab: i for i, lab in enumerate(labels)}
    ok = (table[S.STATUS] == S.STATUS_OK).to_numpy() & table[S.LABEL].isin(index).to_numpy()
    rows = np.flatnonzero(ok)
    y = table[S.LABEL].to_numpy()[rows]
    return [v[rows] for v in views], np.array([index[v] for v in y], np.int64), rows


def labelled_views(
    spark: SparkSession,
    train: pd.DataFrame,
    val: pd.DataFrame,
    labels: list[str],
    cfg: TrainConfig,
    work: Path,
    trunk_blocks: int = 0,
    augment_views: int = 0,
) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """(train views, targets, val views, val targets, val rows used, train rows used) of the
    decodable photos (rows: positions in ``val`` and ``train``).

    Features (or, with ``trunk_blocks``, trunk activations) of ``cfg.backbone``
    for each photo and its mirror image, cached under ``cfg.features_cache``;
    the training photos also get ``augment_views`` augmented views.
    """
    from crowdlens.training.head import feature_views

    assert cfg.backbone is not None
    cache = cfg.features_dir(work)
    kw = {"cache": cache, "trunk_blocks": trunk_blocks}
    views, train_t = feature_views(spark, train, [cfg.backbone], augment_views=augment_views, **kw)
    xs, y, train_rows = usable(views, train_t, labels)
    if len(y) == 0:
        raise CrowdlensError("No training photo could be decoded: nothing to train on.")
    vx: list[np.ndarray] = []
    vy, val_rows = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if len(val):
        val_views, val_t = feature_views(spark, val, [cfg.backbone], **kw)
        vx, vy, val_rows = usable(val_views, val_t, labels)
    return xs, y, vx, vy, val_rows, train_rows


def cross_validate(
    spark: SparkSession,
    views: list[np.ndarray],
    y: np.ndarray,
    labels: list[str],
    parents: dict[str, str],
    cfg: TrainConfig,
) -> dict[str, Any]:
    """Temperature and verdict thresholds from out-of-fold predictions on the training photos.

    Folds keep near-duplicates together (:mod:`crowdlens.training.groups`).
    """
    from crowdlens.audit import spark_map
    from crowdlens.training.groups import calibration_folds
    from crowdlens.training.probe import out_of_fold_logits
    from crowdlens.training.thresholds import fit_calibration

    folds, grouping = calibration_folds(views[0], y, cfg.cv_folds, cfg.seed)
    oof = out_of_fold_logits(views, y, folds, len(labels), cfg.l2, map_folds=spark_map(spark))
    fitted = fit_calibration(oof, y, labels, parents, folds=cfg.cv_folds, seed=cfg.seed)
    fitted["cv"] |= grouping
    return fitted


def train_probe(
    spark: SparkSession,
    train: pd.DataFrame,
    val: pd.DataFrame,
    labels: list[str],
    parents: dict[str, str],
    cfg: TrainConfig,
    work: Path,
) -> Trained:
    """The exportable model, its validation logits, and info incl. the CV fit."""
    from crowdlens.models.tta import flip_tta_model
    from crowdlens.training.probe import fit_probe, stack_views

    assert cfg.backbone is not None
    t0 = time.perf_counter()
    xs, y, vx, vy, val_rows, _ = labelled_views(spark, train, val, labels, cfg, work)
    if not cfg.flip_features:
        xs, vx = xs[:1], vx[:1]
    t_features = time.perf_counter() - t0
    t1 = time.perf_counter()
    fitted = cross_validate(spark, xs, y, labels, parents, cfg)
    t_cv = time.perf_counter() - t1
    t2 = time.perf_counter()
    probe = fit_probe(stack_views(xs), np.tile(y, len(xs)), len(labels), l2=cfg.l2)
    t_fit = time.perf_counter() - t2
    val_logits = probe.logits_views(vx) if len(vy) else np.zeros((0, len(labels)))
    model = flip_tta_model(
        cfg.backbone, probe.weight, probe.bias, flip=cfg.flip_features, power=probe.power
    )
    chosen = {
        "backbone": cfg.backbone,
        "views": "photo + mirror image (flip TTA)" if cfg.flip_features else "photo",
        "head": f"ridge probe on sqrt-normalised features (l2={cfg.l2}, closed form)",
    }
    seconds = (t_features, t_cv, t_fit)
    info = run_info(len(train) - len(y), len(val) - len(val_rows), seconds, chosen, fitted)
    return Trained(model, val_logits, [int(r) for r in val_rows], info)


def run_info(
    skipped_train: int,
    skipped_val: int,
    seconds: tuple[float, float, float],
    chosen: dict[str, Any],
    fitted: dict[str, Any],
) -> dict[str, Any]:
    """The training report of a cached-feature mode (probe, tail): skips, timings, choice, CV fit.

    ``seconds`` are (features, cross-validation, final fit).
    """
    return {
        "history": [],
        "skipped_train": int(skipped_train),
        "skipped_val": int(skipped_val),
        "seconds_features": round(seconds[0], 2),
        "seconds_cross_validation": round(seconds[1], 2),
        "seconds_head": round(seconds[2], 2),
        "chosen": chosen,
        **fitted,
    }
