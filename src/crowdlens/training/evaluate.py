"""Evaluation: accuracy report of logits against labels, temperature fitting,
and ``crowdlens evaluate`` (a bundle over a labelled folder or manifest).

:func:`summarize` is pure (numpy in, JSON-ready dict out): n, top-1, top-5,
per-class accuracy, the confusion matrix and, when parent labels are known,
accuracy at the parent level. Photos whose label the model does not know
count as wrong (the model cannot predict them) and are reported separately.

Example::

    report = summarize(logits, ["Banana", "Lime"], labels=bundle.labels,
                       parents={"Lime": "Citrus"})
    report["top1"], report["parent_top1"]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError
from crowdlens.training.hierarchy import parent_accuracy

if TYPE_CHECKING:  # pragma: no cover
    from crowdlens.config import IngestConfig
    from crowdlens.training.text_evidence import TextModel

log = logging.getLogger(__name__)

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def summarize(
    logits: np.ndarray,
    actual: Sequence[str],
    labels: Sequence[str],
    parents: Mapping[str, str] | None = None,
    skipped: int = 0,
) -> dict[str, Any]:
    """The evaluation report for ``logits`` ``[N, len(labels)]`` against ``actual`` labels."""
    labels = list(labels)
    n = len(actual)
    if logits.shape != (n, len(labels)):
        raise ValueError(f"logits have shape {logits.shape}, expected ({n}, {len(labels)})")
    index = {lab: i for i, lab in enumerate(labels)}
    order = np.argsort(-logits, axis=1, kind="stable") if n else np.zeros((0, 0), int)
    pred = [labels[i] for i in order[:, 0]] if n else []
    top5 = [a in {labels[j] for j in order[r, :5]} for r, a in enumerate(actual)]
    top1 = [p == a for p, a in zip(pred, actual)]
    unknown = sorted({a for a in actual if a not in index})
    present = sorted({a for a in actual if a in index}, key=index.__getitem__)
    per_class: dict[str, dict[str, float]] = {}
    for lab in present:
        rows = [i for i, a in enumerate(actual) if a == lab]
        per_class[lab] = {"n": len(rows), "top1": float(np.mean([top1[i] for i in rows]))}
    # Rows: true labels seen in the data; columns: every label the model predicts.
    cm = np.zeros((len(present), len(labels)), dtype=np.int64)
    row_of = {lab: i for i, lab in enumerate(present)}
    for p, a in zip(pred, actual):
        if a in row_of:
            cm[row_of[a], index[p]] += 1
    report: dict[str, Any] = {
        "n": n,
        "skipped": skipped,
        "top1": float(np.mean(top1)) if n else float("nan"),
        "top5": float(np.mean(top5)) if n else float("nan"),
        "per_class": per_class,
        "confusion": {"rows": present, "columns": labels, "matrix": cm.tolist()},
    }
    if unknown:
        report["unknown_labels"] = unknown
    if parents:
        report["parent_top1"] = parent_accuracy(pred, list(actual), parents)
        report["n_parents"] = len({parents.get(a, a) for a in actual})
    return report


def fit_temperature(logits: np.ndarray, targets: np.ndarray, max_iter: int = 200) -> float:
    """The softmax temperature T minimising the NLL of ``softmax(logits / T)`` (Guo et al.)."""
    import torch

    if len(targets) == 0:
        return 1.0
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(targets, dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    # A model that is no better than chance drives T to infinity (uniform
    # probabilities); keep it in a range where probabilities stay meaningful.
    return float(np.clip(t, MIN_TEMPERATURE, MAX_TEMPERATURE)) if np.isfinite(t) else 1.0


def bundle_logits(
    bundle_path: str | Path, paths: Sequence[str], batch_size: int = 32, threads: int = 0
) -> tuple[np.ndarray, list[int], Any]:
    """Logits of a bundle's ONNX model on photos: (logits of good photos, their row
    indices, the bundle). Undecodable photos are skipped (their rows are missing)."""
    import onnxruntime as ort

    from crowdlens.decode import DecodeError
    from crowdlens.models.bundle import load_bundle
    from crowdlens.models.preprocess import load_image, preprocess

    bundle = load_bundle(bundle_path)
    if not bundle.logits_output:
        raise CrowdlensError(
            f"Bundle {str(bundle_path)!r} has no classifier (task {bundle.task!r}); "
            "evaluate a bundle made by 'crowdlens train'."
        )
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(bundle.onnx_path), opts, providers=["CPUExecutionProvider"])
    out: list[np.ndarray] = []
    good: list[int] = []
    arrays: list[np.ndarray] = []

    def flush() -> None:
        if arrays:
            x = np.stack(arrays).astype(np.float32)
            if bundle.layout == "NHWC":
                x = x.transpose(0, 2, 3, 1)
            out.append(session.run([bundle.logits_output], {bundle.input_name: x})[0])
            arrays.clear()

    for i, path in enumerate(paths):
        try:
            with open(path, "rb") as f:
                arrays.append(preprocess(load_image(f.read(), bundle), bundle))
            good.append(i)
        except (DecodeError, OSError) as exc:
            log.warning("skipped %s: %s", path, exc)
        if len(arrays) >= batch_size:
            flush()
    flush()
    logits = np.concatenate(out) if out else np.zeros((0, bundle.num_labels), np.float32)
    return logits, good, bundle


def evaluate_bundle(
    bundle_path: str | Path,
    data: str | Path,
    *,
    label_column: str = S.LABEL,
    parent_label_column: str | None = None,
    ingest: IngestConfig | None = None,
    text_evidence: bool = True,
) -> dict[str, Any]:
    """``crowdlens evaluate``: the :func:`summarize` report of a bundle on labelled photos.

    The photo paths are confined by ``ingest`` as ``moderate`` confines its input.
    A bundle with text evidence (:mod:`crowdlens.training.text_evidence`) is
    judged as ``moderate`` judges with its text stage on: each photo's text is
    read and added to the image logits (``judged_by: image+text``; the image
    model's own figures under ``image``), unless ``text_evidence`` is False.

    Parent labels come from the data (manifest column, classes.csv or folder
    layout) or, failing that, from the map stored in the bundle at training.
    """
    from crowdlens.training.data import list_labelled_photos

    table = list_labelled_photos(
        data, label_column=label_column, parent_label_column=parent_label_column, ingest=ingest
    )
    if table.empty:
        raise CrowdlensError(f"No labelled photos in {str(data)!r}: nothing to evaluate.")
    logits, good, bundle = bundle_logits(bundle_path, list(table[S.PATH]))
    actual = [table[S.LABEL].iloc[i] for i in good]
    parents = {
        str(a): str(p)
        for a, p in zip(table[S.LABEL], table[S.PARENT_LABEL])
        if p is not None and p == p
    }
    stored = dict(bundle.extra.get("parents") or {})
    parents = stored | parents
    skipped = len(table) - len(good)
    report = summarize(logits, actual, bundle.labels, parents or None, skipped=skipped)
    if not (text_evidence and (bundle.extra.get("text_evidence") or {}).get("used")):
        return report | {"judged_by": S.EVIDENCE_IMAGE}
    paths = [table[S.PATH].iloc[i] for i in good]
    from crowdlens.training.text_evidence import TextModel

    model = TextModel.load(bundle.path, len(bundle.labels))
    settings = bundle.extra["text_evidence"].get("read_settings")
    fused = logits + text_evidence_of(model, settings, paths)
    image = {k: report[k] for k in ("top1", "top5", "parent_top1") if k in report}
    fused_report = summarize(fused, actual, bundle.labels, parents or None, skipped=skipped)
    return fused_report | {"judged_by": S.EVIDENCE_IMAGE_TEXT, "image": image}


def text_evidence_of(
    model: TextModel, read_settings: Mapping[str, Any] | None, paths: Sequence[str], chunk: int = 16
) -> np.ndarray:
    """``model``'s evidence for each photo, its text read in process as the training photos
    were (``read_settings``, which the bundle records)."""
    from tqdm import tqdm

    from crowdlens.training.text_reads import document_rows, reading_config

    cfg = reading_config(read_settings)
    docs: list[str] = []
    for start in tqdm(range(0, len(paths), chunk), desc="reading text", unit="batch",
                      disable=len(paths) <= chunk):  # fmt: skip
        rows = [{S.PATH: p} for p in paths[start : start + chunk]]
        docs += [r[S.TEXT_DOCUMENT] for r in document_rows(rows, cfg)]
    return model.evidence(docs)
