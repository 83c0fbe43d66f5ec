"""``head`` mode: frozen-backbone features computed once on Spark, a softmax head on top.

The photos are listed on the driver, their features are computed by the Spark
workers through the row layer (:func:`crowdlens.spark.rows.map_batches`; one
backbone per Python worker, :func:`crowdlens.spark.worker.per_worker`) and cached as
Parquet keyed by the photo list and the backbone, so a second training run
with other head settings starts at once. A training photo also gets the
features of its mirror image (a free flip augmentation). The head, a linear
softmax or a small MLP, then trains in-process in seconds.

Example::

    feats = compute_features(spark, table, "efficientnet_lite0", cache="runs/features")
    head = make_head(1280, 81, hidden=0)        # linear softmax
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError
from crowdlens.spark.worker import per_worker

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import torch
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

#: What the embed step adds to each photo row.
EMBED_COLUMNS = (S.STATUS, S.ERROR, S.EMBEDDING, S.EMBEDDING_FLIP)


@per_worker(maxsize=2)
def _backbone(name: str) -> Any:
    import torch

    from crowdlens.models.registry import create_model

    # Spark runs one task per core: more torch threads would oversubscribe.
    torch.set_num_threads(1)
    return create_model(name, pretrained=True, num_classes=0).eval()


#: The augmentation of tail mode's extra training views (``augment`` in
#: :func:`embed_rows`): random-resized crop of 35-100 % of the photo, mirror
#: with probability 0.5, brightness/contrast/saturation jitter of 20 %.
VIEW_AUGMENT_SCALE = (0.35, 1.0)


def embed_rows(
    rows: Sequence[Mapping[str, Any]],
    backbone: str,
    flip: bool,
    trunk_blocks: int = 0,
    augment: int | None = None,
    companions: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Pure per-batch helper: rows with a photo ``path`` -> one row of features each.

    Reads and decodes each photo (a bad one gets ``status="error"`` and the
    reason, never an exception), preprocesses it as inference does, and runs
    the backbone's ``forward_features`` on the good ones in one batch; with
    ``trunk_blocks`` > 0, the flattened activations after that many blocks
    instead (:func:`crowdlens.training.tail.trunk_activations`, ``tail`` mode);
    with ``companions``, those networks' features of the backbone's own input
    (:func:`crowdlens.training.companion_net.companion_features`).

    ``augment`` (a view number): a randomly augmented view instead of the
    evaluation crop (:data:`VIEW_AUGMENT_SCALE`), drawn from a generator seeded
    by the view number and the photo's path, so the same view of the same
    photo is the same on every worker and every run.
    """
    import zlib
    from dataclasses import replace

    import torch

    from crowdlens.decode import DecodeError
    from crowdlens.models.preprocess import Augment, load_image, preprocess

    model = _backbone(backbone)
    spec = model.pretrained_cfg.preprocess
    if augment is not None:
        spec = replace(spec, augment=Augment(scale=VIEW_AUGMENT_SCALE))
    n = len(rows)
    status: list[str] = [S.STATUS_OK] * n
    error: list[str | None] = [None] * n
    arrays: list[np.ndarray] = []
    good: list[int] = []
    for i, path in enumerate(row[S.PATH] for row in rows):
        try:
            with open(path, "rb") as f:
                image = load_image(f.read(), spec)
            if augment is None:
                arrays.append(preprocess(image, spec))
            else:
                rng = np.random.default_rng([augment, zlib.crc32(str(path).encode("utf-8"))])
                arrays.append(preprocess(image, spec, train=True, rng=rng))
            good.append(i)
        except (DecodeError, OSError) as exc:
            status[i], error[i] = S.STATUS_ERROR, str(exc)
    emb: list[Any] = [None] * n
    emb_flip: list[Any] = [None] * n
    if good:
        from crowdlens.training.tail import trunk_activations

        def forward(x: torch.Tensor) -> np.ndarray:
            if companions:
                from crowdlens.training.companion_net import companion_features

                return companion_features(companions, backbone, x.numpy()).astype(np.float32)
            if trunk_blocks:
                return trunk_activations(backbone, trunk_blocks, x.numpy()).astype(np.float32)
            return model.forward_features(x).numpy().astype(np.float32)

        x = torch.from_numpy(np.stack(arrays))
        with torch.no_grad():
            feats = forward(x)
            flipped = forward(x.flip(3)) if flip else None
        for j, i in enumerate(good):
            emb[i] = feats[j]
            if flipped is not None:
                emb_flip[i] = flipped[j]
    columns = zip(status, error, emb, emb_flip, strict=True)
    return [dict(zip(EMBED_COLUMNS, values, strict=True)) for values in columns]


def _cache_key(
    paths: Sequence[str],
    backbone: str,
    flip: bool,
    trunk_blocks: int = 0,
    augment: int | None = None,
    companions: tuple[str, ...] = (),
) -> str:
    key: list[Any] = [backbone, flip, sorted(paths)] + ([trunk_blocks] if trunk_blocks else [])
    key += ["companions", list(companions)] if companions else []
    if augment is not None:
        key += ["augment", augment, list(VIEW_AUGMENT_SCALE)]
    return hashlib.sha256(json.dumps(key).encode("utf-8")).hexdigest()[:16]


def compute_features(
    spark: SparkSession | None,
    table: pd.DataFrame,
    backbone: str,
    *,
    cache: str | Path | None = None,
    flip: bool = False,
    photos_per_partition: int = 32,
    trunk_blocks: int = 0,
    augment: int | None = None,
    companions: tuple[str, ...] = (),
) -> pd.DataFrame:
    """``table`` (path, label, ...) plus status, error, embedding, embedding_flip.

    Computed on the Spark workers by :func:`embed_rows` through the row layer
    (:func:`crowdlens.spark.rows.map_batches`) and cached under ``cache`` as
    Parquet (reused when the same photos and backbone come again).
    ``trunk_blocks`` > 0: the trunk's activations instead of the pooled
    features (see :func:`embed_rows`); ``augment``: an augmented view (ditto);
    ``companions``: other networks' features of the backbone's input (ditto).
    ``spark`` None: from the cache only (a :class:`CrowdlensError` if they are not there).
    """
    from functools import partial

    import pandas as pd

    from crowdlens.spark.rows import map_batches

    target: Path | None = None
    if cache is not None:
        key = _cache_key(list(table[S.PATH]), backbone, flip, trunk_blocks, augment, companions)
        target = Path(cache) / f"{backbone}-{key}.parquet"
        if target.exists():
            log.info("features from cache %s", target)
            cached = pd.read_parquet(target)
            return table.merge(cached, on=S.PATH, how="left")
    if spark is None:
        where = f"in the cache {str(cache)!r}" if cache is not None else "cached (no cache given)"
        raise CrowdlensError(
            f"The {backbone} features of these {len(table)} photos are not {where}, and there is "
            "no Spark session to compute them: pass one, or fill the cache first"
        )
    parts = max(2, -(-len(table) // photos_per_partition))
    df = spark.createDataFrame(table[[S.PATH]]).repartition(parts)
    df = map_batches(
        df,
        partial(
            embed_rows,
            backbone=backbone,
            flip=flip,
            trunk_blocks=trunk_blocks,
            augment=augment,
            companions=companions,
        ),
        [S.PATH],
        EMBED_COLUMNS,
        name="train_embed",
    )
    return table.merge(collected(df, target), on=S.PATH, how="left")


def collected(df: Any, target: Path | None) -> pd.DataFrame:
    """The rows of the Spark frame ``df`` as pandas; first written to the cache ``target``
    as Parquet, all or nothing (a half-written cache is never read), when there is one."""
    import pandas as pd

    if target is None:
        return df.toPandas()
    from crowdlens.io.atomic import atomic_path

    with atomic_path(target) as tmp:
        df.write.mode("error").parquet(str(tmp))
    return pd.read_parquet(target)


def feature_arrays(
    feats: pd.DataFrame, labels: Sequence[str], *, with_flip: bool
) -> tuple[np.ndarray, np.ndarray, int]:
    """(X, y, number of photos skipped because they failed to decode)."""
    index = {lab: i for i, lab in enumerate(labels)}
    ok = feats[(feats[S.STATUS] == S.STATUS_OK) & feats[S.LABEL].isin(index)]
    skipped = int((feats[S.STATUS] != S.STATUS_OK).sum())
    for path, err in feats.loc[feats[S.STATUS] != S.STATUS_OK, [S.PATH, S.ERROR]].values[:20]:
        log.warning("skipped %s: %s", path, err)
    if ok.empty:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64), skipped
    x = np.stack(ok[S.EMBEDDING].to_numpy()).astype(np.float32)
    y = ok[S.LABEL].map(index).to_numpy(dtype=np.int64)
    if with_flip and ok[S.EMBEDDING_FLIP].notna().all():
        x = np.concatenate([x, np.stack(ok[S.EMBEDDING_FLIP].to_numpy()).astype(np.float32)])
        y = np.concatenate([y, y])
    return x, y, skipped


class TensorData:
    """In-memory (features, targets) for the trainer, with the fast batch path."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        import torch

        self.x = torch.from_numpy(np.ascontiguousarray(x))
        self.y = torch.from_numpy(np.ascontiguousarray(y))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        return self.x[i], int(self.y[i])

    def get_batch(self, indices: Sequence[int]) -> tuple[list[Any], list[int], int]:
        idx = list(indices)
        return list(self.x[idx]), self.y[idx].tolist(), 0


def make_head(
    feature_dim: int, num_classes: int, hidden: int = 0, dropout: float = 0.2
) -> torch.nn.Module:
    """A linear softmax head (``hidden=0``) or a one-hidden-layer MLP."""
    from torch import nn

    if num_classes < 1:
        raise CrowdlensError("The head needs at least one class to predict.")
    if hidden <= 0:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))
    return nn.Sequential(
        nn.Dropout(dropout),
        nn.Linear(feature_dim, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )


def set_classifier(model: torch.nn.Module, head: torch.nn.Module) -> None:
    """Put ``head`` where the model's classifier lives (``pretrained_cfg.classifier``)."""
    path = model.pretrained_cfg.classifier.split(".")  # type: ignore[union-attr]
    parent: Any = model
    for part in path[:-1]:
        parent = getattr(parent, part) if not part.isdigit() else parent[int(part)]
    if path[-1].isdigit():
        parent[int(path[-1])] = head
    else:
        setattr(parent, path[-1], head)


def feature_views(
    spark: SparkSession | None,
    table: pd.DataFrame,
    backbones: Sequence[str],
    *,
    cache: str | Path | None = None,
    trunk_blocks: int = 0,
    augment_views: int = 0,
    companions: tuple[str, ...] = (),
) -> tuple[list[np.ndarray], pd.DataFrame]:
    """Features of ``table``'s photos as views: the photo, its mirror image, augmented views.

    ``trunk_blocks`` > 0: flattened trunk activations instead (``tail`` mode).
    ``augment_views``: that many randomly augmented views after the first two
    (see :func:`embed_rows`; tail mode trains on them). ``companions``: those
    networks' features of each backbone's input instead (tail mode's companions).
    Each view concatenates the features of every backbone in ``backbones``
    (computed on Spark, cached per backbone and view). Returns the views, each
    ``[n, sum of feature dims]`` (zeros for photos that failed to decode), and
    ``table`` with ``status`` and ``error`` (the first backbone's reason).
    """
    if table.empty:
        raise CrowdlensError("No photos to compute features of.")
    sinks: list[list[np.ndarray]] = [[] for _ in range(2 + augment_views)]
    out = table.copy()
    ok = np.ones(len(table), dtype=bool)
    photos = table[[S.PATH]].drop_duplicates()
    for name in backbones:
        runs = [(None, (S.EMBEDDING, S.EMBEDDING_FLIP))]
        runs += [(v, (S.EMBEDDING,)) for v in range(augment_views)]
        columns: list[pd.Series] = []
        for augment, wanted in runs:
            feats = compute_features(
                spark,
                photos,
                name,
                cache=cache,
                flip=augment is None,
                trunk_blocks=trunk_blocks,
                augment=augment,
                companions=companions,
            )
            feats = table[[S.PATH]].merge(feats, on=S.PATH, how="left")
            good = (feats[S.STATUS] == S.STATUS_OK).to_numpy()
            if name == backbones[0] and augment is None:
                out[S.STATUS] = feats[S.STATUS].fillna(S.STATUS_ERROR).to_numpy()
                out[S.ERROR] = feats[S.ERROR].to_numpy()
            ok &= good
            columns += [feats[c] for c in wanted]
        for sink, column in zip(sinks, columns, strict=True):
            sink.append(_dense(column, ok))
    out.loc[~ok & (out[S.STATUS] == S.STATUS_OK), S.ERROR] = "features could not be computed"
    out.loc[~ok, S.STATUS] = S.STATUS_ERROR
    return [np.concatenate(sink, axis=1).astype(np.float32) for sink in sinks], out


def _dense(column: pd.Series, good: np.ndarray) -> np.ndarray:
    """A column of feature vectors as ``[n, dim]``, zeros where not ``good``."""
    dim = len(next(v for v, g in zip(column, good) if g)) if good.any() else 1
    return np.stack([v if g else np.zeros(dim, np.float32) for v, g in zip(column, good)])
