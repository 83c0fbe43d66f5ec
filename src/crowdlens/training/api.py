"""``train(...)``: labelled photos in, a model bundle out (what ``crowdlens train`` runs).

Steps: list the photos (folder or manifest), drop classes with too few
photos (warning with their names), train in the chosen mode, fit a softmax
temperature on the validation split, and export a bundle (ONNX + labels +
preprocessing + validation metrics + the training config) that
``crowdlens moderate --model`` and ``crowdlens evaluate`` read.

Example::

    report = train("data/train", "data/val", "models/grocery",
                   TrainConfig(mode="head", epochs=30))
    report["val"]["top1"], report["val"]["parent_top1"]
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError
from crowdlens.training.config import TrainConfig
from crowdlens.training.trained import Trained

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import SparkSession

    from crowdlens.config import IngestConfig, SparkConfig
    from crowdlens.text.config import TextConfig

log = logging.getLogger(__name__)


def prepare_tables(
    train_input: str | Path,
    val_input: str | Path | None,
    cfg: TrainConfig,
    ingest: IngestConfig | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], dict[str, str]]:
    """(train table, val table, labels, fine -> parent map) after filtering.

    Both inputs are confined by ``ingest`` as ``moderate`` confines its input.
    """
    from crowdlens.training.data import drop_rare_classes, list_labelled_photos

    kw = {
        "label_column": cfg.label_column,
        "parent_label_column": cfg.parent_label_column,
        "ingest": ingest,
    }
    train = list_labelled_photos(train_input, **kw)
    if cfg.classes:
        unknown = sorted(set(cfg.classes) - set(train[S.LABEL]))
        if unknown:
            raise CrowdlensError(
                f"classes {unknown} have no training photos; valid labels include "
                f"{', '.join(sorted(set(train[S.LABEL]))[:10])}, ..."
            )
        train = train[train[S.LABEL].isin(cfg.classes)].reset_index(drop=True)
    if cfg.max_per_class:
        train = (
            train.sort_values(S.PATH).groupby(S.LABEL, group_keys=False).head(cfg.max_per_class)
        ).reset_index(drop=True)
    if train.empty:
        raise CrowdlensError(
            f"The training set {str(train_input)!r} is empty: no labelled photos were found. "
            "Pass a folder with one sub-folder per label, or a manifest with path and label."
        )
    train, _ = drop_rare_classes(train, cfg.min_per_class)
    labels = sorted(train[S.LABEL].unique())
    if val_input is not None:
        val = list_labelled_photos(val_input, **kw)
        outside = sorted(set(val[S.LABEL]) - set(labels))
        if outside:
            log.warning(
                "%d validation photos have labels the model is not trained on and are not "
                "used for validation: %s",
                int(val[S.LABEL].isin(outside).sum()),
                ", ".join(outside[:20]),
            )
        val = val[val[S.LABEL].isin(labels)].reset_index(drop=True)
    else:
        val = train.iloc[0:0]
    parents: dict[str, str] = {}
    for table in (train, val):
        for lab, par in zip(table[S.LABEL], table[S.PARENT_LABEL]):
            if par is not None and par == par:
                parents.setdefault(str(lab), str(par))
    return train, val, labels, parents


def _spec(cfg: TrainConfig) -> Any:
    from crowdlens.models.registry import get_pretrained_config

    spec = get_pretrained_config(cfg.backbone).preprocess
    if cfg.input_size and cfg.mode != "head":
        resize = max(cfg.input_size, round(cfg.input_size * spec.resize / spec.input_size))
        spec = dataclasses.replace(spec, input_size=cfg.input_size, resize=resize)
    return spec


def _train_head(
    spark: SparkSession,
    train: pd.DataFrame,
    val: pd.DataFrame,
    labels: list[str],
    cfg: TrainConfig,
    work: Path,
) -> Trained:
    import torch

    from crowdlens.models.registry import create_model
    from crowdlens.training.from_config import make_trainer
    from crowdlens.training.head import (
        TensorData,
        compute_features,
        feature_arrays,
        make_head,
        set_classifier,
    )

    cache = cfg.features_dir(work)
    t0 = time.perf_counter()
    train_f = compute_features(spark, train, cfg.backbone, cache=cache, flip=cfg.flip_features)
    val_f = compute_features(spark, val, cfg.backbone, cache=cache) if len(val) else None
    t_features = time.perf_counter() - t0
    x, y, skipped = feature_arrays(train_f, labels, with_flip=cfg.flip_features)
    if len(y) == 0:
        raise CrowdlensError("No training photo could be decoded: nothing to train on.")
    if val_f is not None:
        vx, vy, vskipped = feature_arrays(val_f, labels, with_flip=False)
        val_ok = [i for i, st in enumerate(val_f[S.STATUS]) if st == S.STATUS_OK]
    else:
        vx, vy, vskipped, val_ok = np.zeros((0, x.shape[1]), np.float32), np.zeros(0), 0, []
    torch.manual_seed(cfg.seed)
    head = make_head(x.shape[1], len(labels), cfg.head_hidden, cfg.dropout)
    val_data = TensorData(vx, vy) if len(vy) else None
    trainer = make_trainer(head, cfg, val_data)
    t1 = time.perf_counter()
    result = trainer.fit(TensorData(x, y), resume=cfg.checkpoint_dir if cfg.resume else None)
    t_head = time.perf_counter() - t1
    head = result.model.eval()
    with torch.no_grad():
        val_logits = head(torch.from_numpy(vx)).numpy() if len(vy) else np.zeros((0, len(labels)))
    model = create_model(cfg.backbone, pretrained=True, num_classes=len(labels))
    set_classifier(model, head)
    info = {
        "history": result.history,
        "skipped_train": skipped,
        "skipped_val": vskipped,
        "seconds_features": round(t_features, 2),
        "seconds_head": round(t_head, 2),
    }
    return Trained(model.eval(), val_logits, val_ok, info)


def _train_network(
    spark_cfg: SparkConfig | None,
    train: pd.DataFrame,
    val: pd.DataFrame,
    labels: list[str],
    cfg: TrainConfig,
    work: Path,
) -> Trained:
    import torch

    from crowdlens.training.data import targets_for
    from crowdlens.training.finetune import FinetuneJob, aligned_head, build_model, train_worker

    spec = _spec(cfg)
    tp, tt = targets_for(train, labels)
    vp, vt = targets_for(val, labels)
    head = aligned_head(cfg.init_head, labels, cfg.backbone) if cfg.init_head else None
    if head is not None:
        log.info(
            "classifier starts from %s (%d of %d labels known)",
            cfg.init_head,
            int(head[2].sum()),
            len(labels),
        )
    job = FinetuneJob(
        tuple(tp),
        tuple(tt),
        tuple(vp),
        tuple(vt),
        tuple(labels),
        cfg,
        spec.to_dict(),
        str(work / "weights.pt"),
        head,
    )
    t0 = time.perf_counter()
    if cfg.use_distributor:
        from crowdlens.spark.session import get_spark
        from crowdlens.training.distributed import run_distributed

        spark = get_spark(spark_cfg, torch=True)
        out = run_distributed(
            train_worker,
            job,
            num_processes=cfg.num_processes,
            local_mode=cfg.local_mode,
            spark=spark,
        )
    else:
        if cfg.num_processes != 1:
            raise CrowdlensError(
                "num_processes > 1 needs TorchDistributor (use_distributor = true), or run "
                "the training function under torchrun yourself."
            )
        out = train_worker(job)
    seconds = time.perf_counter() - t0
    if out is None:
        raise CrowdlensError("The training processes returned no result from rank 0.")
    model = build_model(cfg, len(labels), pretrained=False)  # every tensor is loaded next
    model.load_state_dict(torch.load(job.weights_out, map_location="cpu", weights_only=True))
    model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, preprocess=spec)
    info = {
        "history": out["history"],
        "skipped_train": out["skipped_train"],
        "skipped_val": out["skipped_val"],
        "seconds_training": round(seconds, 2),
        "photos_seen": out["photos_seen"],
        "processes": out["world_size"],
    }
    return Trained(model.eval(), out["val_logits"], list(out["val_rows"]), info)


def _run_mode(
    spark_cfg: SparkConfig | None,
    train_t: pd.DataFrame,
    val_t: pd.DataFrame,
    labels: list[str],
    parents: dict[str, str],
    cfg: TrainConfig,
    work: Path,
    reading: TextConfig | None = None,
) -> Trained:
    """Train in ``cfg.mode``."""
    if cfg.mode in ("probe", "head", "tail"):
        from crowdlens.spark.session import get_spark

        spark = get_spark(spark_cfg)
        if cfg.mode == "probe":
            from crowdlens.training.probe_mode import train_probe

            return train_probe(spark, train_t, val_t, labels, parents, cfg, work)
        if cfg.mode == "tail":
            from crowdlens.training.tail_mode import train_tail

            return train_tail(spark, train_t, val_t, labels, parents, cfg, work, reading)
        return _train_head(spark, train_t, val_t, labels, cfg, work)
    return _train_network(spark_cfg, train_t, val_t, labels, cfg, work)


def _fitted_extra(info: dict[str, Any]) -> dict[str, Any]:
    """What the bundle records of the fit: verdict thresholds, text evidence, companions."""
    out: dict[str, Any] = {}
    if "thresholds" in info:
        out["validate"] = info["thresholds"] | {"fitted_on": "training photos, out-of-fold"}
    return out | {k: info[k] for k in ("text_evidence", "companions") if k in info}


def train(
    train_input: str | Path,
    val_input: str | Path | None,
    out: str | Path,
    cfg: TrainConfig | None = None,
    *,
    spark_cfg: SparkConfig | None = None,
    ingest: IngestConfig | None = None,
    text: TextConfig | None = None,
) -> dict[str, Any]:
    """Train a classifier and export it as a bundle at ``out``; return the report.

    ``ingest`` confines the photo paths of both inputs (``[ingest]``
    ``allowed_roots`` / ``confine_to_input``, as for ``moderate``; default:
    each input's own folder tree).

    The report (also stored in the bundle's ``metrics``) holds the validation
    top-1/top-5, parent-level top-1 when parent labels are known, the
    temperature, skipped photo counts and timings. ``text``: the ``[text]``
    settings the text evidence reads photos with (``moderate`` should match).
    """
    from crowdlens.models.export import export_bundle
    from crowdlens.training.evaluate import fit_temperature, summarize

    cfg = (cfg or TrainConfig()).resolved()
    t0 = time.perf_counter()
    train_t, val_t, labels, parents = prepare_tables(train_input, val_input, cfg, ingest)
    log.info(
        "training %s (%s) on %d photos of %d classes; %d validation photos",
        cfg.mode,
        cfg.backbone,
        len(train_t),
        len(labels),
        len(val_t),
    )
    with tempfile.TemporaryDirectory(prefix="crowdlens-train-") as tmp:
        trained = _run_mode(spark_cfg, train_t, val_t, labels, parents, cfg, Path(tmp), text)
    model, val_logits, info = trained.model, trained.val_logits, trained.info
    index = {lab: i for i, lab in enumerate(labels)}
    actual = [val_t[S.LABEL].iloc[i] for i in trained.val_rows]
    # probe/tail modes fit the temperature by cross-validation on the training photos.
    temperature = info.pop("temperature", None)
    val_report: dict[str, Any] = {}
    if len(actual):
        targets = np.array([index[a] for a in actual])
        if temperature is None:
            temperature = fit_temperature(val_logits, targets)
        full = summarize(val_logits, actual, labels, parents or None, skipped=info["skipped_val"])
        val_report = {k: full[k] for k in ("n", "top1", "top5", "parent_top1") if k in full}
        if (info.get("text_evidence") or {}).get("used"):  # as moderate and evaluate judge
            val_report["judged_by"] = S.EVIDENCE_IMAGE_TEXT
    report = {
        "mode": cfg.mode,
        "backbone": cfg.backbone,
        "classes": len(labels),
        "train_photos": len(train_t),
        "val": val_report,
        "temperature": temperature,
        "seconds_total": 0.0,
        **info,
    }
    report["seconds_total"] = round(time.perf_counter() - t0, 2)
    export_bundle(
        model,
        model.pretrained_cfg,
        out,
        labels=labels,
        metrics={k: v for k, v in report.items() if k != "history"} | {"history": info["history"]},
        extra={"training": cfg.to_dict(), "parents": parents, "mode": cfg.mode}
        | _fitted_extra(info),
        temperature=temperature,
        also_write=trained.text.write if trained.text is not None else None,
    )
    log.info("wrote bundle %s (val top-1 %s)", out, val_report.get("top1"))
    return report
