"""Photo bytes -> embedding and top-k, one batch at a time (pure; no Spark).

This is the worker side of the ``embed`` and ``classify`` stages, and what
``crowdlens classify PHOTO...`` runs in one process: decode (reduced-size
JPEG decoding), :func:`crowdlens.models.preprocess.preprocess`, one ONNX
Runtime pass per ``batch_size`` photos, softmax (with the bundle's
temperature) and top-k. A photo that cannot be decoded gets an error reason
instead of results; it never fails the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from crowdlens import schema as S
from crowdlens.decode import DEFAULT_MAX_PIXELS
from crowdlens.params import Interval, NonEmpty, OrNone, Params, validate

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from crowdlens.models.bundle import Bundle


@dataclass(frozen=True)
class InferenceConfig:
    """How the embed/classify stages run a bundle (the ``[model]`` config section).

    ``bundle`` is the bundle folder or registry name ``crowdlens moderate``
    uses (unset: no model runs). ``batch_size`` is photos per ONNX Runtime
    run: small batches keep one thread's activations in its CPU cache, so a
    Spark task (one thread) spends less per photo at 1-4 than at 32
    (EfficientNet-Lite0: 5.9-6.0 vs 7.2-8.0 CPU ms; docs/benchmarks.md, issue 14).
    ``threads=0`` sizes ONNX Runtime's intra-op pool to the cores a Spark
    task owns (``spark.task.cpus``). ``embed=True`` also writes the
    embedding column and ``logits=True`` the raw score vector that label
    validation calibrates; all come from one pass.
    """

    bundle: str | None = None
    batch_size: int = 4
    threads: int = 0
    topk: int = 5
    embed: bool = False
    logits: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS

    PARAMS: ClassVar[Params] = {
        "bundle": OrNone(
            NonEmpty("bundle folder or model name such as efficientnet_lite0"), "no model runs"
        ),
        "batch_size": Interval(int, 1, None),
        "threads": Interval(int, 0, None, note="0 = the cores a task owns"),
        "topk": Interval(int, 1, None),
        "max_pixels": Interval(int, 1, None),
    }

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one photo; ``error`` is set when there is none."""

    embedding: np.ndarray | None = None
    label: str | None = None
    score: float | None = None
    topk: list[dict[str, Any]] | None = None
    logits: np.ndarray | None = None  # raw scores over the labels (log-probabilities for
    # bundles whose output already is probabilities), for calibrated validation
    error: str | None = None


def softmax(logits: np.ndarray, temperature: float | None = None) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` in float64 for stability."""
    z = logits.astype(np.float64) / (temperature or 1.0)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def scores_of(bundle: Bundle, logits: np.ndarray) -> np.ndarray:
    """Class probabilities from the bundle's logits output (calibrated if it has a temperature)."""
    if bundle.scores == "probabilities":
        return logits.astype(np.float32)
    return softmax(logits, bundle.temperature)


def top_k(probs: np.ndarray, labels: Sequence[str], k: int) -> list[list[dict[str, Any]]]:
    """Per row, the ``k`` best ``{label, score}`` pairs, best first (ties: lower index)."""
    k = min(k, probs.shape[1])
    idx = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [
        [{S.TOPK_LABEL: labels[j], S.TOPK_SCORE: float(row[j])} for j in ids]
        for row, ids in zip(probs, idx)
    ]


def prepare(
    contents: Sequence[bytes | None],
    bundle: Bundle,
    max_pixels: int,
    images: Sequence[Image.Image | None] | None = None,
    *,
    normalized: bool = True,
) -> tuple[list[np.ndarray | None], list[str | None]]:
    """Decode + preprocess each photo; (arrays, errors) with exactly one of each set per photo.

    Where ``images`` holds a photo already decoded (the decode stage's shared
    copy, at least the bundle's ``draft_size``), it is used instead of the
    bytes. ``normalized=False`` gives the uint8 crops (:func:`eval_pixels`),
    which :func:`predict_arrays` normalises a whole batch at a time.
    """
    from crowdlens.decode import DecodeError
    from crowdlens.models.preprocess import eval_pixels, load_image, normalize

    arrays: list[np.ndarray | None] = []
    errors: list[str | None] = []
    for i, data in enumerate(contents):
        image = images[i] if images is not None else None
        try:
            if image is None:
                image = load_image(data, bundle, max_pixels=max_pixels)  # type: ignore[arg-type]
            pixels = eval_pixels(image, bundle)
            arrays.append(normalize(pixels, bundle.preprocess) if normalized else pixels)
            errors.append(None)
        except DecodeError as exc:
            arrays.append(None)
            errors.append(f"model input: {exc}")
        except Exception as exc:  # one bad photo must never fail the batch
            arrays.append(None)
            errors.append(f"model input: cannot preprocess ({type(exc).__name__}: {exc})")
    return arrays, errors


def predict_arrays(
    bundle: Bundle,
    arrays: Sequence[np.ndarray],
    cfg: InferenceConfig,
    *,
    embed: bool,
    classify: bool,
) -> list[Prediction]:
    """Run preprocessed photos through the bundle in ``cfg.batch_size`` chunks.

    ``arrays`` are CHW float32 model inputs, or HWC uint8 crops
    (``prepare(normalized=False)``), normalised here one batch at a time.
    """
    from crowdlens.models.preprocess import normalize_batch, stack
    from crowdlens.models.runtime import run

    out: list[Prediction] = []
    threads = cfg.threads or None
    for start in range(0, len(arrays), cfg.batch_size):
        part = arrays[start : start + cfg.batch_size]
        pixels = part[0].dtype == np.uint8
        chunk = normalize_batch(np.stack(part), bundle) if pixels else stack(part)
        res = run(bundle, chunk, threads=threads)
        feats = res.get("features") if embed else None
        tops: list[list[dict[str, Any]]] | None = None
        raw = None
        if classify:
            tops = top_k(scores_of(bundle, res["logits"]), bundle.labels, cfg.topk)
            raw = res["logits"]
            if bundle.scores == "probabilities":
                raw = np.log(np.clip(raw, 1e-30, None)).astype(np.float32)
        for i in range(chunk.shape[0]):
            t = tops[i] if tops is not None else None
            out.append(
                Prediction(
                    embedding=feats[i] if feats is not None else None,
                    label=t[0][S.TOPK_LABEL] if t else None,
                    score=t[0][S.TOPK_SCORE] if t else None,
                    topk=t,
                    logits=raw[i] if raw is not None else None,
                )
            )
    return out


def predict_contents(
    contents: Sequence[bytes | None],
    bundle: Bundle | str | Path,
    cfg: InferenceConfig | None = None,
    *,
    embed: bool = False,
    classify: bool = True,
    skip: Sequence[bool] | None = None,
    images: Sequence[Image.Image | None] | None = None,
) -> list[Prediction | None]:
    """Photo bytes -> one :class:`Prediction` per photo (``None`` where ``skip``).

    ``images`` (optional, aligned with ``contents``) are photos already
    decoded; their bytes are then not decoded again.

    Example::

        preds = predict_contents([open("orange.jpg", "rb").read()], "models/lite0")
        preds[0].label, preds[0].topk[:2]
    """
    from crowdlens.models.runtime import get_bundle

    cfg = cfg or InferenceConfig()
    b = bundle if not isinstance(bundle, str | Path) else get_bundle(bundle)
    if classify and b.task != "classify":
        from crowdlens.models.bundle import BundleError

        raise BundleError(
            f"bundle {str(b.path)!r} is an embed bundle (no classifier head); use the embed "
            "stage, or export a bundle with labels to classify"
        )
    if embed and not b.features_output:
        from crowdlens.models.bundle import BundleError

        raise BundleError(f"bundle {str(b.path)!r} has no features output to embed with")
    skip = list(skip) if skip is not None else [False] * len(contents)
    todo = [i for i, s in enumerate(skip) if not s]
    arrays, errors = prepare(
        [contents[i] for i in todo],
        b,
        cfg.max_pixels,
        None if images is None else [images[i] for i in todo],
        normalized=False,
    )
    good = [k for k, a in enumerate(arrays) if a is not None]
    result: list[Prediction | None] = [None] * len(contents)
    for k, err in enumerate(errors):
        if err is not None:
            result[todo[k]] = Prediction(error=err)
    try:
        preds = predict_arrays(b, [arrays[k] for k in good], cfg, embed=embed, classify=classify)  # type: ignore[misc]
    except Exception:
        # A whole-batch failure: retry photo by photo so the one photo that
        # breaks the model is isolated and the rest still get results.
        preds = []
        for k in good:
            try:
                preds += predict_arrays(b, [arrays[k]], cfg, embed=embed, classify=classify)  # type: ignore[list-item]
            except Exception as exc:
                preds.append(
                    Prediction(error=f"model: inference failed ({type(exc).__name__}: {exc})")
                )
    for k, p in zip(good, preds, strict=True):
        result[todo[k]] = p
    return result


def predict_rows(
    rows: Sequence[dict[str, Any]],
    bundle_path: str,
    cfg: InferenceConfig,
    *,
    embed: bool,
    classify: bool,
    logits: bool = False,
) -> list[dict[str, Any]]:
    """The worker side of the embed/classify stages: clean rows in, one output row each.

    Reads ``content`` (or the decode stage's shared ``pixels``), ``status``
    and ``error``; rows whose status is not
    ``ok`` pass through untouched with nulls in the model columns. A photo
    the model cannot read becomes ``status = error`` with the reason.
    """
    from crowdlens.decode import unpack_pixels
    from crowdlens.models.runtime import get_bundle

    bundle = get_bundle(bundle_path)
    skip = [row.get(S.STATUS) != S.STATUS_OK for row in rows]
    images = [
        unpack_pixels(row[S.PIXELS], row[S.PIXELS_SIZE]) if row.get(S.PIXELS) and not s else None
        for row, s in zip(rows, skip)
    ]
    preds = predict_contents(
        [row.get(S.CONTENT) for row in rows],
        bundle,
        cfg,
        embed=embed,
        classify=classify or logits,
        skip=skip,
        images=images,
    )
    return [_prediction_row(row, p, embed, classify, logits) for row, p in zip(rows, preds)]


def _prediction_row(
    row: dict[str, Any], p: Prediction | None, embed: bool, classify: bool, logits: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {S.STATUS: row.get(S.STATUS), S.ERROR: row.get(S.ERROR)}
    if p is not None and p.error is not None:
        out[S.STATUS], out[S.ERROR] = S.STATUS_ERROR, p.error
    ok = p is not None and p.error is None
    if embed:
        out[S.EMBEDDING] = p.embedding if ok else None  # type: ignore[union-attr]
    if classify:
        out[S.PRED_LABEL] = p.label if ok else None  # type: ignore[union-attr]
        out[S.PRED_SCORE] = p.score if ok else None  # type: ignore[union-attr]
        out[S.TOPK] = p.topk if ok else None  # type: ignore[union-attr]
    if logits:
        out[S.LOGITS] = p.logits if ok else None  # type: ignore[union-attr]
    return out
