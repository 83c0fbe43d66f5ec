"""``crowdlens audit``: find wrong labels in a labelled collection, using only its own labels.

Confident learning at Spark scale. There is no clean training set: the
collection is split into K folds (stratified by claimed label; photos dealt
one by one, or whole series of near-copies together: ``fold_grouping``), a linear
probe is trained per fold on the frozen-backbone features of the other
folds, and every photo is judged by the probe that never saw it
(out-of-fold probabilities). The features are computed once, distributed
(:func:`crowdlens.training.head.feature_views`, cached); the K probes train
as K Spark tasks.

The verdicts use the same rules and columns as ``moderate``
(:mod:`crowdlens.stages.validate`), with thresholds from the config or a
trained bundle (``--thresholds-from``), **never fitted on the collection
being judged**. ``results.parquet`` has one row per input photo, including
photos that could not be read (``status = error``, verdict ``unknown``).

Example::

    summary = audit("photos/manifest.csv", "out/audit", AuditConfig(folds=5))
    summary["verdicts"]
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError
from crowdlens.params import Each, Interval, NonEmpty, Options, Params, validate
from crowdlens.stages.validate import OUTPUTS as VERDICT_COLUMNS
from crowdlens.stages.validate import ValidateConfig, calibrate, judge, judgements_frame
from crowdlens.training.config import COMPANIONS, COMPANIONS_CHECK
from crowdlens.training.probe import DEFAULT_L2, assign_folds, out_of_fold_logits

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import SparkSession

    from crowdlens.config import IngestConfig, SparkConfig

log = logging.getLogger(__name__)

DEFAULT_BACKBONES = ("efficientnet_lite2",)
RESULT_COLUMNS = (
    S.IMAGE_ID,
    S.PATH,
    S.LABEL,
    S.PARENT_LABEL,
    S.STATUS,
    S.ERROR,
    S.PRED_LABEL,
    S.PRED_SCORE,
    *VERDICT_COLUMNS,  # the same verdict columns as moderate's validate stage
    S.AUDIT_FOLD,
    S.LOGITS,  # out-of-fold logits over audit.json's "labels" (e.g. for cleanlab)
)


@dataclass(frozen=True)
class AuditConfig:
    """Settings of ``crowdlens audit``.

    ``temperature`` calibrates the out-of-fold probabilities; ``validate``
    holds the verdict thresholds (its unset values come from the bundle
    named by ``thresholds_from``, else the defaults of
    :mod:`crowdlens.stages.validate`).
    """

    folds: int = 5
    backbones: tuple[str, ...] = DEFAULT_BACKBONES
    l2: float = DEFAULT_L2
    seed: int = 0
    temperature: float = 1.0
    features_cache: str | None = None
    fold_grouping: str = S.FOLDS_RANDOM
    thresholds_from: str | None = None
    label_column: str = S.LABEL
    parent_label_column: str | None = None
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    # Read each photo's text (the text stage's gate and OCR) and add a text model of the
    # items, fitted per fold like the probes, when it predicts the claims better out of fold.
    text_evidence: bool = True
    # Other backbones' own probe, fused like crowdlens train's companions, at the weight whose
    # out-of-fold predictions agree best with the claims (0 = left out); () = none.
    companions: tuple[str, ...] = COMPANIONS

    PARAMS: ClassVar[Params] = {
        "folds": Interval(int, 2, None, note="photos are judged by unseen folds"),
        "backbones": Each(NonEmpty(), "a non-empty list of model names", min_len=1),
        "l2": Interval(float, 0, None),
        "temperature": Interval(float, 0, None, closed="neither"),
        "label_column": NonEmpty("column name"),
        "fold_grouping": Options(S.FOLD_GROUPINGS),
        "companions": COMPANIONS_CHECK,
    }

    def __post_init__(self) -> None:
        validate(self)

    def companion_backbones(self) -> tuple[str, ...]:
        """The companions that are not already among ``backbones``."""
        return tuple(n for n in self.companions if n not in self.backbones)


# --- pure helpers -------------------------------------------------------------


def judge_rows(
    table: pd.DataFrame,
    probs: np.ndarray,
    labels: list[str],
    cfg: AuditConfig,
    fitted: dict[str, Any] | None,
    parents: dict[str, str],
) -> pd.DataFrame:
    """The verdict columns for every row of ``table`` (``probs`` aligned; NaN rows = unusable)."""
    from crowdlens.stages.validate import NO_JUDGEMENT

    th = cfg.validate.thresholds(fitted)
    rows = []
    for i, (status, label) in enumerate(zip(table[S.STATUS], table[S.LABEL])):
        if status != S.STATUS_OK or np.isnan(probs[i]).any():
            rows.append(NO_JUDGEMENT)
        else:
            rows.append(judge(label, probs[i], labels, th, parents))
    return judgements_frame(rows)


def audit_folds(
    features: np.ndarray, y: np.ndarray, cfg: AuditConfig
) -> tuple[np.ndarray, dict[str, Any]]:
    """(a fold per row, what to record about the folds) for rows ``features`` with claimed labels ``y``.

    ``near-duplicate``: groups of near-copies of the same claimed item are held
    out together (:func:`crowdlens.training.groups.calibration_folds`), so a
    series that one contributor filed under the wrong item is judged by the
    other photos of that item, not vouched for by its own near-copies.
    """
    from crowdlens.training.groups import calibration_folds

    if cfg.fold_grouping == S.FOLDS_RANDOM:
        return assign_folds(y, cfg.folds, cfg.seed), {"fold_grouping": S.FOLDS_RANDOM}
    folds, info = calibration_folds(features, y, cfg.folds, cfg.seed)
    return folds, info | {"fold_grouping": S.FOLDS_NEAR_DUPLICATE}


def spark_map(spark: SparkSession) -> Callable[[Callable[[int], Any], list[int]], list[Any]]:
    """``map_folds`` for :func:`out_of_fold_logits`: one Spark task per fold.

    The function (and the features it closes over) is shipped as a broadcast
    variable, so each executor receives it once.
    """

    def run(fn: Callable[[int], Any], ids: list[int]) -> list[Any]:
        sc = spark.sparkContext
        shipped = sc.broadcast(fn)
        try:
            return sc.parallelize(ids, len(ids)).map(lambda f: shipped.value(f)).collect()
        finally:
            shipped.unpersist()

    return run


def _parents(table: pd.DataFrame) -> dict[str, str]:
    out: dict[str, str] = {}
    for lab, par in zip(table[S.LABEL], table[S.PARENT_LABEL]):
        if lab is not None and par is not None and par == par:
            out.setdefault(str(lab), str(par))
    return out


def _ids(table: pd.DataFrame, root: Path) -> list[str]:
    from crowdlens.io.ingest import path_id

    base = root if root.is_dir() else root.parent
    out = []
    for p in table[S.PATH]:
        try:
            out.append(path_id(Path(p).resolve().relative_to(base.resolve()).as_posix()))
        except ValueError:
            out.append(path_id(str(p)))
    return out


# --- the job ------------------------------------------------------------------


def out_of_fold_logits_table(
    spark: SparkSession, table: pd.DataFrame, cfg: AuditConfig
) -> tuple[np.ndarray, np.ndarray, list[str], pd.DataFrame, dict[str, Any]]:
    """(out-of-fold logits ``[n, C]``, fold per row, labels, table with status/error, fold facts).

    Rows that are unusable (error, or no label) get NaN logits and fold -1.
    """
    from crowdlens.training.head import feature_views

    views, table = feature_views(spark, table, cfg.backbones, cache=cfg.features_cache)
    usable = (table[S.STATUS] == S.STATUS_OK).to_numpy() & table[S.LABEL].notna().to_numpy()
    labels = sorted(set(table.loc[usable, S.LABEL]))
    if len(labels) < 2:
        raise CrowdlensError(
            "An audit needs photos of at least 2 labels that could be read; "
            f"found {len(labels)}. Check INPUT's labels (--label-column)."
        )
    index = {lab: i for i, lab in enumerate(labels)}
    rows = np.flatnonzero(usable)
    y = np.array([index[v] for v in table[S.LABEL].to_numpy()[rows]], dtype=np.int64)
    folds_ok, fold_info = audit_folds(views[0][rows], y, cfg)
    logits = out_of_fold_logits(
        [v[rows] for v in views], y, folds_ok, len(labels), cfg.l2, map_folds=spark_map(spark)
    )
    if cfg.text_evidence:
        logits, fold_info["text_evidence"] = _with_text(spark, table.iloc[rows], logits, y,
                                                        folds_ok, cfg)  # fmt: skip
    if cfg.companion_backbones():
        logits, fold_info["companions"] = _with_companions(spark, table.iloc[rows], logits, y,
                                                           folds_ok, cfg)  # fmt: skip
    full = np.full((len(table), len(labels)), np.nan, dtype=np.float32)
    full[rows] = logits
    folds = np.full(len(table), -1, dtype=np.int64)
    folds[rows] = folds_ok
    return full, folds, labels, table, fold_info


def _with_text(
    spark: SparkSession,
    table: pd.DataFrame,
    logits: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    cfg: AuditConfig,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Out-of-fold logits with the text evidence added (weight 0 if it does not help).

    Each fold's text model is fitted on the other folds' claims, as the probes
    are; the fusion weight is the one whose out-of-fold predictions agree best
    with the claims (a setting of the model, like the probes' own fit: the
    verdict thresholds are still never fitted on INPUT).
    """
    from crowdlens.training.text_evidence import choose_fusion
    from crowdlens.training.text_reads import read_documents

    docs = read_documents(spark, table, cache=cfg.features_cache)
    c, weight, fused, grid = choose_fusion(logits, docs, y, folds)
    info = {
        "used": weight > 0,
        "c": c,
        "weight": weight,
        "photos_with_text": sum(map(bool, docs)),
        "agreement_image": round(float((logits.argmax(1) == y).mean()), 4),
        "agreement_fused": round(float((fused.argmax(1) == y).mean()), 4),
        "grid": grid,
    }
    log.info("audit text evidence: %s", info)
    return fused, info


def _with_companions(
    spark: SparkSession,
    table: pd.DataFrame,
    logits: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    cfg: AuditConfig,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Out-of-fold logits fused with the companions' probe (weight 0 if it does not help).

    A probe on the companions' features (each on its own crop; photo and
    mirror) is fitted per fold like the main probes and judges the photo;
    :func:`crowdlens.training.companion.fuse` joins it at the weight whose
    out-of-fold predictions agree best with the claims. A photo without
    companion features gets uniform companion logits.
    """
    from crowdlens.training.companion import choose_weight, fuse
    from crowdlens.training.head import feature_views

    names = list(cfg.companion_backbones())
    views, got = feature_views(spark, table, names, cache=cfg.features_cache)
    ok = (got[S.STATUS] == S.STATUS_OK).to_numpy()
    if len(np.unique(y[ok])) < 2:  # (the photos vanished since the main pass): nothing to add
        return logits, {"backbones": names, "used": False, "weight": 0.0, "agreement": {}}
    comp = np.zeros_like(logits)
    comp[ok] = out_of_fold_logits(
        [v[ok] for v in views], y[ok], folds[ok], logits.shape[1], cfg.l2, predict_views=1
    )
    weight, agreement = choose_weight(logits, comp, y)
    info = {"backbones": names, "used": weight > 0, "weight": weight, "agreement": agreement}
    log.info("audit companions: %s", info)
    return fuse(logits, comp, weight), info


def audit_frame(
    table: pd.DataFrame,
    logits: np.ndarray,
    folds: np.ndarray,
    labels: list[str],
    cfg: AuditConfig,
    fitted: dict[str, Any] | None,
) -> pd.DataFrame:
    """The results table (:data:`RESULT_COLUMNS`), one row per row of ``table``."""
    import pandas as pd

    parents = _parents(table)
    probs = calibrate(logits, cfg.temperature)
    out = table.reset_index(drop=True).copy()
    verdicts = judge_rows(out, probs, labels, cfg, fitted, parents)
    good = ~np.isnan(probs).any(axis=1)
    top = np.where(good, np.nan_to_num(probs).argmax(1), 0)
    out[S.PRED_LABEL] = [labels[t] if g else None for t, g in zip(top, good)]
    out[S.PRED_SCORE] = pd.array(
        [float(probs[i, t]) if g else None for i, (t, g) in enumerate(zip(top, good))],
        dtype="Float32",
    )
    out = pd.concat([out, verdicts], axis=1)
    out[S.AUDIT_FOLD] = pd.array([int(f) if f >= 0 else None for f in folds], dtype="Int32")
    out[S.LOGITS] = [row.tolist() if g else None for row, g in zip(logits, good)]
    return out[list(RESULT_COLUMNS)]


def audit(
    input_path: str | Path,
    out_dir: str | Path,
    cfg: AuditConfig | None = None,
    *,
    spark: SparkSession | None = None,
    spark_cfg: SparkConfig | None = None,
    overwrite: bool = False,
    ingest: IngestConfig | None = None,
) -> dict[str, Any]:
    """Audit ``input_path``'s labels; write ``out_dir/results.parquet`` and ``audit.json``.

    The photo paths are confined by ``ingest`` as ``moderate`` confines its input.
    Without ``spark``, a session for ``spark_cfg`` starts only once the photos
    are listed, so a refused path or an empty folder fails in a second.
    """
    from crowdlens.io.fs import is_url
    from crowdlens.io.results import prepare_output, write_parquet_atomically
    from crowdlens.spark.session import get_spark
    from crowdlens.stages.validate import bundle_facts
    from crowdlens.training.data import list_labelled_photos

    cfg = cfg or AuditConfig()
    if is_url(str(out_dir)):
        raise CrowdlensError(
            f"crowdlens audit writes to a local folder; {str(out_dir)!r} is a URL. "
            "Pass a local --out and copy the results afterwards."
        )
    t0 = time.perf_counter()
    target = prepare_output(out_dir, overwrite)
    fitted = bundle_facts(cfg.thresholds_from, text=False).fitted if cfg.thresholds_from else None
    table = list_labelled_photos(
        input_path,
        label_column=cfg.label_column,
        parent_label_column=cfg.parent_label_column,
        keep_unlabelled=True,
        ingest=ingest,
    )
    table.insert(0, S.IMAGE_ID, _ids(table, Path(input_path)))
    spark = spark or get_spark(spark_cfg)
    logits, folds, labels, table, fold_info = out_of_fold_logits_table(spark, table, cfg)
    result = audit_frame(table, logits, folds, labels, cfg, fitted)
    schema = ", ".join(f"{c} {S.DDL[c]}" for c in RESULT_COLUMNS)
    df = spark.createDataFrame(result.astype(object).where(result.notna(), None), schema)
    write_parquet_atomically(df, target)
    summary = {
        "photos": len(result),
        "errors": int((result[S.STATUS] != S.STATUS_OK).sum()),
        "labels": labels,
        "folds": cfg.folds,
        **fold_info,  # fold_grouping, and for near-duplicate: duplicate_similarity, groups
        "backbones": list(cfg.backbones),
        "thresholds": cfg.validate.thresholds(fitted).to_dict(),
        "thresholds_source": cfg.thresholds_from or "config/defaults (never the audited photos)",
        "verdicts": {k: int(v) for k, v in result[S.LABEL_VERDICT].value_counts().items()},
        "seconds": round(time.perf_counter() - t0, 1),
        "config": asdict(cfg) | {"validate": asdict(cfg.validate)},
    }
    tmp = Path(out_dir, f".audit.json.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, Path(out_dir, "audit.json"))  # never a half-written summary
    return summary
