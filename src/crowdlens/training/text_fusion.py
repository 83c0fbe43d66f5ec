"""Training the text evidence beside an image model (``[train] text_evidence``, tail mode).

1. The text of every training photo is read on Spark as ``moderate``'s text
   stage reads it (:mod:`crowdlens.training.text_reads`, cached).
2. On the image model's calibration folds, a text model per fold gives
   out-of-fold text evidence; the regularisation and the fusion weight are
   the pair whose fused out-of-fold top-1 is best (weight 0, the image
   alone, when text does not help: :func:`~crowdlens.training.text_evidence.choose_fusion`).
3. Temperature and verdict thresholds are fitted again on the fused
   out-of-fold logits; the bundle keeps both calibrations (the image
   model's for photos judged without their text, e.g. ``moderate --no-text``).
4. The final text model is fitted on all training photos and written into
   the bundle (``text_evidence.json`` + ``.npz``); the val photos' text gives
   the fused val figures of the training report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crowdlens.text.config import TextConfig
from crowdlens.training.text_evidence import TextModel

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import SparkSession

    from crowdlens.training.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class FittedText:
    """The chosen fusion: the text model (None when the image alone was best) and its figures."""

    model: TextModel | None
    image_top1: float  # out-of-fold top-1 of the image model alone
    fused_top1: float
    grid: list[dict[str, float]]
    fitted: dict[str, Any] = field(default_factory=dict)  # temperature, thresholds, cv (fused)
    val: dict[str, Any] = field(default_factory=dict)
    reading: TextConfig = field(default_factory=TextConfig)  # how the photos' text was read

    def summary(self) -> str:
        if self.model is None:
            return (
                f"not used: the training photos' text did not help out of fold "
                f"(top-1 {self.image_top1:.3f} by the image alone)"
            )
        return (
            f"OCR text of each photo (character n-grams, logistic regression, C {self.model.c:g}) "
            f"added to the image logits at weight {self.model.weight:g}: out-of-fold top-1 "
            f"{self.image_top1:.3f} -> {self.fused_top1:.3f}"
        )

    def judge_val(
        self,
        spark: SparkSession,
        val: pd.DataFrame,
        val_logits: np.ndarray,
        vy: np.ndarray,
        cfg: TrainConfig,
        work: Path,
    ) -> np.ndarray:
        """The val logits as the bundle judges (the val photos' text read and added),
        and the image model's and the fused val top-1 in :attr:`val`."""
        if self.model is None or not len(vy):
            return val_logits
        from crowdlens.training.text_reads import read_documents

        docs = read_documents(spark, val, self.reading, cache=cfg.features_dir(work))
        fused = val_logits + self.model.evidence(docs)
        self.val = {
            "n": len(vy),
            "top1_image": round(float((val_logits.argmax(1) == vy).mean()), 4),
            "top1": round(float((fused.argmax(1) == vy).mean()), 4),
            "photos_with_text": int(sum(bool(d) for d in docs)),
        }
        return fused

    def describe(self) -> dict[str, Any]:
        """What the bundle records (``extra.text_evidence`` and the report), JSON only."""
        out: dict[str, Any] = {
            "used": self.model is not None,
            "cv_top1_image": round(self.image_top1, 4),
            "cv_top1_fused": round(self.fused_top1, 4),
            "grid": self.grid,
        }
        if self.model is not None:
            from crowdlens.training.text_reads import read_settings

            out |= {"c": self.model.c, "weight": self.model.weight, **self.fitted}
            out["read_settings"] = read_settings(self.reading)
        if self.val:
            out["val"] = self.val
        return out

    def write(self, folder: Path) -> None:
        if self.model is not None:
            self.model.save(folder)


def with_text(
    spark: SparkSession,
    train: pd.DataFrame,
    oof: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    labels: Sequence[str],
    parents: Mapping[str, str],
    cfg: TrainConfig,
    work: Path,
    reading: TextConfig | None = None,
) -> FittedText:
    """Choose and fit the text evidence for the training rows ``train`` (targets ``y``).

    ``oof`` are the image model's out-of-fold logits on ``folds``; ``reading``
    the ``[text]`` settings the photos are read with (``moderate``'s must match).
    """
    from crowdlens.training.text_evidence import choose_fusion, fit_text_model
    from crowdlens.training.text_reads import read_documents
    from crowdlens.training.thresholds import fit_calibration

    reading = reading or TextConfig()
    docs = read_documents(spark, train, reading, cache=cfg.features_dir(work))
    log.info("text evidence: %d of %d training photos have text", sum(map(bool, docs)), len(docs))
    c, weight, fused, grid = choose_fusion(oof, docs, y, folds)
    image_top1 = float((oof.argmax(1) == y).mean())
    fused_top1 = float((fused.argmax(1) == y).mean())
    if weight == 0:
        log.info("text evidence not used: it did not help out of fold")
        return FittedText(None, image_top1, fused_top1, grid, reading=reading)
    model = fit_text_model(docs, y, len(labels), c).with_weight(weight)
    fitted = fit_calibration(fused, y, list(labels), dict(parents), folds=cfg.tail_cv_folds,
                             seed=cfg.seed)  # fmt: skip
    log.info("text evidence: C %g, weight %g, out-of-fold top-1 %.3f -> %.3f", c, weight,
             image_top1, fused_top1)  # fmt: skip
    return FittedText(model, image_top1, fused_top1, grid, fitted, reading=reading)
