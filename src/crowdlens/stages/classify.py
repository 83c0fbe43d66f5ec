"""The classify stage: a model bundle's prediction, score and top-k for every ok photo.

Decoding, preprocessing and ONNX Runtime inference happen in the Spark
workers (one cached session per Python worker, see
:mod:`crowdlens.models.runtime`), on Arrow batches of photo bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError
from crowdlens.models.predict import InferenceConfig, predict_rows
from crowdlens.spark.rows import Step

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

CLASSIFY_COLUMNS = (S.PRED_LABEL, S.PRED_SCORE, S.TOPK)


_HINT = (
    "run it after reading the photo bytes and the decode stage "
    "(crowdlens.stages.decode.decode_stage)"
)


def _photo_columns(columns: Sequence[str]) -> tuple[str, ...]:
    # The decode stage's shared copy when it made one: the bytes are then not read.
    return (S.PIXELS, S.PIXELS_SIZE) if S.PIXELS in columns else (S.CONTENT,)


def inference_step(
    columns: Sequence[str],
    bundle_path: str | Path,
    cfg: InferenceConfig | None = None,
    *,
    embed: bool,
    classify: bool,
    logits: bool = False,
    name: str = "classify",
) -> Step:
    """A bundle's pass as a :class:`~crowdlens.spark.rows.Step`, for a table with ``columns``.

    See :func:`inference_stage`. The bundle is read here, on the driver, so a
    bad path or a bundle without the head asked for fails before any task starts.
    """
    from crowdlens.models.hub import resolve_bundle

    cfg = cfg or InferenceConfig()
    bundle = resolve_bundle(bundle_path)
    if (classify or logits) and bundle.task != "classify":
        raise CrowdlensError(
            f"bundle {str(bundle.path)!r} has no classifier head (task {bundle.task!r}); "
            "use the embed stage or a bundle exported with labels"
        )
    outputs = [S.STATUS, S.ERROR]
    outputs += [S.EMBEDDING] if embed else []
    outputs += list(CLASSIFY_COLUMNS) if classify else []
    outputs += [S.LOGITS] if logits else []
    compute = partial(
        predict_rows,
        bundle_path=str(bundle.path),
        cfg=cfg,
        embed=embed,
        classify=classify,
        logits=logits,
    )
    inputs = (*_photo_columns(columns), S.STATUS)
    return Step(compute, inputs, tuple(outputs), name, optional=(S.ERROR,), hint=_HINT)


def inference_stage(
    df: DataFrame,
    bundle_path: str | Path,
    cfg: InferenceConfig | None = None,
    *,
    embed: bool,
    classify: bool,
    logits: bool = False,
    name: str = "classify",
) -> DataFrame:
    """Run a bundle over ``df`` once, adding the embedding and/or classification columns.

    Shared by :func:`classify_stage` and :class:`crowdlens.ml.EmbedTransformer`
    so that asking for both costs one pass over the photos, not two. Input
    columns: ``status`` (and ``error`` when present) and the photo: the decode
    stage's shared copy (``pixels``, made with ``share=shared_size(...)`` for
    this bundle) when the table has it, else ``content``, decoded here. The
    bundle is read on the driver first, so a bad path fails before any task starts.
    """
    from crowdlens.spark.rows import require, run_steps

    require(df, (*_photo_columns(df.columns), S.STATUS), name, _HINT)  # before the bundle
    step = inference_step(
        df.columns, bundle_path, cfg, embed=embed, classify=classify, logits=logits, name=name
    )
    return run_steps(df, [step])


def classify_stage(
    df: DataFrame,
    bundle_path: str | Path,
    cfg: InferenceConfig | None = None,
    topk: int | None = None,
    *,
    embed: bool = False,
    logits: bool = False,
) -> DataFrame:
    """Add ``pred_label``, ``pred_score`` and ``topk`` (array of ``{label, score}``).

    Scores are softmax probabilities, calibrated with the bundle's
    ``temperature`` when it has one. ``embed=True`` also adds ``embedding``
    and ``logits=True`` the raw ``logits`` vector (for label validation), in
    the same pass. ``bundle_path`` may also be a registry name
    (``efficientnet_lite0``: its ImageNet head, exported once and cached).

    Example::

        df = classify_stage(df, "models/grocery", InferenceConfig(batch_size=32), topk=5)
        df.select("path", "pred_label", "pred_score").show()
    """
    cfg = cfg or InferenceConfig()
    if topk is not None:
        from crowdlens.config import replace

        cfg = replace(cfg, topk=topk)
    return inference_stage(
        df, bundle_path, cfg, embed=embed, classify=True, logits=logits, name="classify"
    )


def model_step(cfg: InferenceConfig, columns: Sequence[str]) -> Step | None:
    """The ``[model]`` section as a :class:`~crowdlens.spark.rows.Step` (None: no bundle).

    See :func:`model_stage`.
    """
    if not cfg.bundle:
        return None
    from crowdlens.models.hub import resolve_bundle

    if resolve_bundle(cfg.bundle).task == "embed":
        return inference_step(columns, cfg.bundle, cfg, embed=True, classify=False, name="embed")
    return inference_step(
        columns, cfg.bundle, cfg, embed=cfg.embed, classify=True, logits=cfg.logits
    )


def model_stage(df: DataFrame, cfg: InferenceConfig) -> DataFrame:
    """What ``crowdlens moderate`` runs for the ``[model]`` section: nothing without a
    bundle; else one pass adding the prediction columns (and ``logits`` and
    ``embedding`` as configured), or only ``embedding`` for an embed bundle.

    Example::

        df = model_stage(df, InferenceConfig(bundle="models/grocery"))
    """
    from crowdlens.spark.rows import run_steps

    step = model_step(cfg, df.columns)
    return df if step is None else run_steps(df, [step])
